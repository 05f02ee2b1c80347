"""The one recommendation log (pathwise/served_log.py): every surface that shows recommendations
writes each list through it, with contributions, weights, model version and the authenticated
caller, and the warehouse keeps all of it.

On a copy of the app tests' platform (real nightly run, real snapshot): a learner page visit
(AppTest) and a read-API call (FastAPI's TestClient, the app's lifespan included) each log their
list; the loader puts them into `raw.served_recommendations` and
`raw.served_recommendation_signals`, and a real dbt build carries them through staging with the
contributions and weights that were shown. A scan of the code fails when a module writes the log
folder any other way.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _app_platform import build as build_app_platform

from pathwise import served_log, snapshots
from pathwise.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
LEARNER_KEY = "0123456789abcdef0123456789abcdef"
ITEMS = [
    {"course_id": "C1", "rank": 1, "score": 0.7, "reason": "r", "format_first": "video",
     "contributions": {"collaborative": 0.5, "popularity": 0.2}},
    {"course_id": "C2", "rank": 2, "score": 0.4, "reason": None, "format_first": None,
     "contributions": {"collaborative": 0.4}},
]  # fmt: skip


def shown(**changes) -> dict:
    """A valid list, with `changes` to its arguments."""
    args = {
        "learner_key": LEARNER_KEY,
        "served_via": "api",
        "caller": served_log.Caller("api_key", "platform", "service", "k1"),
        "snapshot_version": "v1",
        "model_version": "hybrid-ease-1",
        "weights": {"collaborative": 1.0, "popularity": 0.25},
        "items": ITEMS,
        "served_at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    }
    return served_log.served_list(**{**args, **changes})


@pytest.fixture
def fresh_home(tmp_path, monkeypatch) -> Iterator[Path]:
    monkeypatch.setenv("PATHWISE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", "")
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


# ---------------------------------------------------------------- the writer on its own


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"learner_key": "planted-user-42"}, "pseudonymize"),
        ({"served_via": "preview"}, "served_via"),
        ({"surface": "a free text"}, "surface"),
        ({"caller": served_log.Caller("api_key", "", "service")}, "caller"),
        ({"items": [{"course_id": "C1", "rank": 1, "score": 0.5}]}, "contributions"),
        ({"items": [{"course_id": "C1", "rank": 0, "contributions": {}}]}, "rank"),
        ({"weights": {"Popularity Boost!": 1.0}}, "signal name"),
        ({"weights": {"popularity": "high"}}, "number"),
        ({"served_at": datetime(2026, 3, 2, 9, 30)}, "timezone"),
    ],
)
def test_the_writer_refuses_a_list_that_would_leave_the_log_incomplete(changes, says):
    with pytest.raises(served_log.RecLogError, match=says):
        shown(**changes)


def test_what_the_writer_logs_reaches_the_warehouse_whole(fresh_home):
    from pathwise.warehouse import connect

    lists = [shown(), shown(served_via="learner_app", caller=served_log.Caller("app_account", "ada", "learner"))]  # fmt: skip
    served_log.write(lists)
    # A list logged before the one writer (the read API's old records) still loads, as the API's.
    old = {k: v for k, v in shown().items() if k not in ("served_via", "caller", "weights")}
    old["response_id"], old["items"] = "old", [{**old["items"][0], "rec_id": "old-1"}]
    del old["items"][0]["contributions"]
    served_log.append(next(get_settings().rec_log_dir.glob("served-*")), [json.dumps(old).encode()])

    with connect() as con:
        assert served_log.load_closed_files(con)["responses"] == 3
        rows = con.execute(
            "select response_id, served_via, caller_kind, caller_name, caller_role, caller_key_id, "
            "model_version from raw.served_recommendations where rank = 1 order by served_via"
        ).fetchall()
        signals = con.execute(
            "select rec_id, signal, contribution, weight from raw.served_recommendation_signals "
            "order by all"
        ).fetchall()
    by_list = {r[0]: r[1:] for r in rows}
    assert by_list[lists[0]["response_id"]] == (
        "api", "api_key", "platform", "service", "k1", "hybrid-ease-1",
    )  # fmt: skip
    assert by_list[lists[1]["response_id"]][:4] == ("learner_app", "app_account", "ada", "learner")
    assert by_list["old"][:2] == ("api", None)
    expected = sorted(
        (item["rec_id"], signal, item["contributions"].get(signal), record["weights"].get(signal))
        for record in lists
        for item in record["items"]
        for signal in {*record["weights"], *item["contributions"]}
    )
    assert signals == expected
    # 2 lists x 2 items x 2 signals: C2 has no popularity contribution, but its list a weight.
    assert len(signals) == 8


# ---------------------------------------------------------------- every surface, end to end


@pytest.fixture(scope="module")
def platform(tmp_path_factory, prefect_harness) -> Iterator[Path]:
    """A private copy of the app platform (its log emptied), as PATHWISE_HOME."""
    home = tmp_path_factory.mktemp("rec-log") / "home"
    shutil.copytree(build_app_platform(tmp_path_factory), home)
    shutil.rmtree(home / "rec_log", ignore_errors=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        yield home
    get_settings.cache_clear()


def logged(home: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted((home / "rec_log").glob("served-*.ndjson"))
        for line in served_log.read_lines(path).splitlines()
    ]


def snapshot_truth(learner_key: str) -> tuple[dict[str, dict], dict[str, float], str]:
    """(course -> {signal: contribution}, blend weights, model version) as published."""
    snap = snapshots.require_current()
    con = snap.connect()
    try:
        recs = con.execute(
            "select * from recommendations where learner_key = ?", [learner_key]
        ).fetchdf()
        weights = dict(con.execute(served_log.WEIGHTS_SQL).fetchall())
    finally:
        con.close()
    contrib = {r["course_id"]: served_log.contributions(r) for r in recs.to_dict("records")}
    return contrib, weights, snap.manifest["model_versions"]["recommendations"]


def test_every_surface_logs_through_the_one_writer_and_the_warehouse_keeps_it(platform):
    from fastapi.testclient import TestClient
    from streamlit.testing.v1 import AppTest

    from apps.api import create_app
    from flows.build import build_flow
    from pathwise.accounts import UserStore
    from pathwise.api_keys import KeyStore
    from pathwise.warehouse import connect

    user = UserStore().get("learner")
    # The learner page, visited, then run again (a click reruns it): one list logged.
    at = AppTest.from_file(str(ROOT / "apps" / "streamlit_app.py"), default_timeout=60)
    at.session_state["pathwise_user"] = dataclasses.replace(user, signed_in_at=time.time())
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.run()
    app_lists = logged(platform)
    assert len(app_lists) == 1

    # The read API, asked for the same learner by a service key.
    key, token = KeyStore().create("integration platform", "service")
    with TestClient(create_app(watch=False)) as client:
        body = client.get(
            f"/v1/learners/{user.learner_key}/recommendations",
            params={"id_kind": "learner_key", "k": 5},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    # The lifespan's end writes what is queued.
    api_lists = [r for r in logged(platform) if r["served_via"] == "api"]
    assert [r["response_id"] for r in api_lists] == [body["response_id"]]

    contrib, weights, model_version = snapshot_truth(user.learner_key)
    page, api = app_lists[0], api_lists[0]
    assert page["served_via"] == "learner_app" and page["learner_key"] == user.learner_key
    assert page["caller"] == {"kind": "app_account", "name": "learner", "role": "learner", "key_id": None}  # fmt: skip
    assert api["caller"] == {"kind": "api_key", "name": key.name, "role": "service", "key_id": key.key_id}  # fmt: skip
    for record in (page, api):
        assert record["model_version"] == model_version and record["weights"] == weights
        assert record["items"] and weights
        for item in record["items"]:
            assert item["contributions"] == pytest.approx(contrib[item["course_id"]])
    # The API logs exactly what it answered.
    assert [(i["rec_id"], i["course_id"], i["contributions"]) for i in body["items"]] == [
        (i["rec_id"], i["course_id"], i["contributions"]) for i in api["items"]
    ]
    # The page logs what it showed, in its order.
    titles = [m.value for m in at.markdown if re.match(r"\*\*\d+\. ", m.value)]
    assert len(titles) == len(page["items"])

    with connect() as con:
        loaded = served_log.load_closed_files(con, now=datetime.now(UTC) + timedelta(hours=1))
        assert loaded["responses"] == 2
    build_flow(select="stg_pathwise__served_recommendations stg_pathwise__served_recommendation_signals")  # fmt: skip
    with connect(read_only=True) as con:
        stored = con.execute(
            """
            select s.served_via, s.rec_id, s.course_id, g.signal, g.contribution, g.weight
            from staging.stg_pathwise__served_recommendations s
            join staging.stg_pathwise__served_recommendation_signals g using (rec_id)
            """
        ).fetchall()
    for record in (page, api):
        rows = {(r[1], r[3]): (r[4], r[5]) for r in stored if r[0] == record["served_via"]}
        assert rows == {
            (item["rec_id"], signal): (item["contributions"][signal], record["weights"][signal])
            for item in record["items"]
            for signal in item["contributions"]
        }


# ---------------------------------------------------------------- no other way in

WRITER = "pathwise/served_log.py"
# Files allowed to name the log folder: where it is defined, and the rights that rewrite or
# delete learners' lines in it (erasure, export, retention), which show nobody anything.
MAY_NAME_THE_FOLDER = {"pathwise/settings.py", WRITER}
RIGHTS = "pathwise/rights/"
DIRECT = re.compile(r"rec_log_dir|[\"']rec_log[\"']\s*\)|served-\{|served_log\.append\(")


def test_no_surface_writes_the_log_but_through_the_writer():
    offenders = []
    for folder in ("apps", "pathwise", "flows", "ml", "rag", "cli"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name in MAY_NAME_THE_FOLDER or name.startswith(RIGHTS):
                continue
            offenders += [f"{name}: {m.group(0)}" for m in DIRECT.finditer(path.read_text())]
    assert offenders == [], "write the rec log through served_log.served_list + write"
    # And both surfaces that show learners recommendations do call it.
    assert "served_log.served_list(" in (ROOT / "apps" / "api.py").read_text()
    assert "served_log.served_list(" in (ROOT / "apps" / "served.py").read_text()
    assert "served.log_shown(" in (ROOT / "apps" / "app_pages" / "learner.py").read_text()
