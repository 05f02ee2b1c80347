"""The learner's "How Pathwise uses your data" page (apps/app_pages/my_data.py) with Streamlit's
AppTest on the shared app platform (tests/_app_platform.py): what it says agrees with the published
snapshot, and its controls write `consent_changed` events that the real door keys to the learner."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from _app_platform import ingested_alone, served
from streamlit.testing.v1 import AppTest

from apps.clicks import events_dir
from pathwise import snapshots
from pathwise.accounts import UserStore

pytestmark = pytest.mark.slow

ENTRY = str(Path(__file__).resolve().parent.parent / "apps" / "streamlit_app.py")
PAGE = "app_pages/my_data.py"


@pytest.fixture(scope="module")
def learner(tmp_path_factory, prefect_harness):
    with served(tmp_path_factory):
        yield UserStore().get("learner")


def page_for(user) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state["pathwise_user"] = dataclasses.replace(user, signed_in_at=time.time())
    at.run()
    return at.switch_page(PAGE).run()


def text(at: AppTest) -> str:
    kinds = ("title", "subheader", "markdown", "caption", "info", "success")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def save(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Save my choices").click().run()


def snapshot_rows(sql: str, params: list) -> list[tuple]:
    con = snapshots.require_current().connect()
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def test_the_page_says_what_is_collected_and_inferred_about_this_learner(learner):
    at = page_for(learner)
    assert not at.exception, [e.value for e in at.exception]
    body = text(at)
    assert at.title[0].value == "How Pathwise uses your data"
    for tier in ("Essential", "Fine-grained", "Personalization"):
        assert f"| {tier} |" in body
    assert "`video_seek`" in body and "`enroll`" in body  # from the contract, per tier
    (fine,) = snapshot_rows(
        "select has_fine_consent from learners where learner_key = ?", [learner.learner_key]
    )[0]
    assert ("| allowed |" in body) is fine
    style = snapshot_rows(
        "select style from learning_styles where learner_key = ?", [learner.learner_key]
    )
    if style and style[0][0] != "unknown":
        assert f"**Learning style:** {style[0][0]}" in body
    else:
        assert "**Learning style:** not determined" in body
    risks = snapshot_rows(
        "select count(*) from dropout_risk where learner_key = ?", [learner.learner_key]
    )[0][0]
    assert ("no score exists for you" in body) is (risks == 0)
    # Personalized: the signals and their weights in force, as the snapshot holds them.
    labels = [r[0] for r in snapshot_rows("select label from recommendation_signals", [])]
    assert list(at.dataframe[0].value["label"]) == sorted(labels, key=labels.index)
    assert len(labels) >= 3


def test_objecting_to_personalization_writes_one_consent_event_for_this_learner(learner, tmp_path):
    before = set(events_dir().glob("*.ndjson")) if events_dir().exists() else set()
    at = page_for(learner)
    personal = next(t for t in at.toggle if t.label.startswith("Personalize"))
    assert personal.value is True
    personal.set_value(False)
    save(at)
    assert not at.exception, [e.value for e in at.exception]
    assert "next nightly update" in at.success[0].value
    written = set(events_dir().glob("*.ndjson")) - before
    try:
        assert len(written) == 1
        (path,) = written
        event = json.loads(path.read_text())
        assert event["event_type"] == "consent_changed"
        assert event["properties"] == {"tier": "personalization", "granted": False}
        # The page remembers the choice until the nightly run takes it in; saving again with
        # nothing changed writes nothing.
        assert next(t for t in at.toggle if t.label.startswith("Personalize")).value is False
        save(at)
        assert set(events_dir().glob("*.ndjson")) - before == written
        # The real door keys it to exactly this learner.
        rows = ingested_alone(path, tmp_path, "learner_key, event_type")
        assert rows == [(learner.learner_key, "consent_changed")]
    finally:
        for path in written:
            path.unlink()  # the shared platform's landing folder as it was
