"""Objection to personalization (GDPR Art. 21, CCPA "do not share"), end to end on the planted
learner of tests/_privacy_platform.py: the app writes the `consent_changed` event, the real
nightly run (ingest, dbt build, styles, dropout, recommendations, publish) takes it in, and the
snapshot and the read API serve the popularity list saying it is not personalized, with no risk
or style row for the learner; opting back in restores personalization on the next run.

A nightly run here is the real flow's steps with two narrowed to save ~70 s each: ingest reads
only the app's landing folder (the rest is already in), and dbt builds only what the nightly
models read about learners (`SELECT`); styles, dropout, recommendations and publish run as
`pathwise nightly` runs them."""

from __future__ import annotations

import polars as pl
import pytest
from _privacy_platform import OTHER_ID, USER_ID, copy_of_platform
from fastapi.testclient import TestClient

from apps.api import create_app
from apps.clicks import record_consent
from flows.build import build_flow
from flows.ingest import ingest_flow
from flows.nightly import nightly_flow
from pathwise import snapshots
from pathwise.api_keys import KeyStore
from pathwise.contract import ConsentScope
from pathwise.privacy import pseudonym
from pathwise.settings import get_settings
from pathwise.warehouse import connect

pytestmark = pytest.mark.usefixtures("prefect_harness")

PROFILING_INPUTS = (
    "ml_course_interactions",
    "ml_dropout_checkpoint_features",
    "ml_learner_style_signals",
)
SELECT = " ".join(f"+{m}" for m in (*PROFILING_INPUTS, "learners"))


def nightly_after_the_app() -> None:
    ingest_flow(paths=[str(get_settings().landing_dir / "app")])
    assert build_flow(select=SELECT)["failures"] == []
    nightly_flow(skip=["ingest", "build", "index", "drift"])


def served(learner_key: str) -> dict[str, pl.DataFrame]:
    """What the current snapshot holds for the learner, and the cold-start list."""
    con = snapshots.require_current().connect()
    try:

        def rows(sql: str) -> pl.DataFrame:
            return con.execute(sql, {"k": learner_key}).pl()

        return {
            "recs": rows("select * from recommendations where learner_key = $k order by rank"),
            "cold": con.execute("select * from recommendations_cold_start order by rank").pl(),
            "risk": rows("select * from dropout_risk where learner_key = $k"),
            "style": rows("select * from learning_styles where learner_key = $k"),
            "learner": rows("select * from learners where learner_key = $k"),
        }
    finally:
        con.close()


def profiling_inputs(learner_key: str) -> dict[str, int]:
    """Rows of the learner in each nightly-model input mart."""
    with connect(read_only=True) as con:
        return {
            t: con.execute(
                f"select count(*) from marts.{t} where learner_key = $k", {"k": learner_key}
            ).fetchall()[0][0]
            for t in PROFILING_INPUTS
        }


def api_items(token: str, learner_key: str) -> list[dict]:
    with TestClient(create_app(watch=False)) as client:
        response = client.get(
            f"/v1/learners/{learner_key}/recommendations",
            params={"id_kind": "learner_key", "k": 10},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body["cold_start"]  # a known learner, served their own (non-personalized) rows
    return body["items"]


def assert_personalized(learner_key: str, token: str) -> None:
    now = served(learner_key)
    assert now["recs"].height and now["style"].height
    assert all(profiling_inputs(learner_key).values())  # the dropout model scores their enrolment
    assert not any(r.startswith("Not personalized") for r in now["recs"]["reason"])
    assert not now["learner"]["personalization_opted_out"][0]
    items = api_items(token, learner_key)
    assert items and not any(i["reason"].startswith("Not personalized") for i in items)


def test_an_objection_to_personalization_serves_the_popularity_list_and_profiles_nothing(
    tmp_path_factory, tmp_path
):
    with copy_of_platform(tmp_path_factory, tmp_path / "home"):
        key = get_settings().pseudonym_key.get_secret_value()
        learner, other = pseudonym(USER_ID, key), pseudonym(OTHER_ID, key)
        _, token = KeyStore().create("optout test platform", "service")
        # The planted learner (fine consent, a profile, an open enrolment) is profiled as built.
        assert_personalized(learner, token)

        record_consent(learner, ConsentScope.PERSONALIZATION, granted=False)
        nightly_after_the_app()

        now = served(learner)
        assert now["learner"]["personalization_opted_out"][0]
        assert now["risk"].is_empty() and now["style"].is_empty()
        assert not any(profiling_inputs(learner).values())
        # The same list as a learner we know nothing about, in the same order, saying why.
        assert now["recs"]["course_id"].to_list() == now["cold"]["course_id"].to_list()
        assert now["recs"]["reason"].str.starts_with("Not personalized, as you asked: ").all()
        assert (now["recs"]["reason_courses"].list.len() == 0).all()
        assert now["recs"]["reason_role"].is_null().all()
        items = api_items(token, learner)
        assert [i["course_id"] for i in items] == now["cold"]["course_id"].to_list()[:10]
        assert all(i["reason"].startswith("Not personalized") for i in items)
        # Nobody else is affected: the neighbour keeps their own list.
        theirs = served(other)["recs"]
        assert theirs.height and not theirs["reason"].str.starts_with("Not personalized").any()

        record_consent(learner, ConsentScope.PERSONALIZATION, granted=True)
        nightly_after_the_app()
        assert_personalized(learner, token)
