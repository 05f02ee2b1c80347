"""The nightly flow, published snapshots and the read API, end to end on a small simulated platform.

One real nightly run (simulate -> ingest -> dbt build -> styles, dropout, recommendations -> drift
-> publish) feeds every test here; the API runs in a real uvicorn server reached over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import duckdb
import httpx
import numpy as np
import pytest
from _api_server import api_server

from pathwise import snapshots
from pathwise.controls import ControlStore
from pathwise.settings import PROJECT_ROOT, get_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def platform(tmp_path_factory, prefect_harness) -> Iterator[dict]:
    """A simulated platform after one nightly run (content indexing skipped: tested in test_rag)."""
    from flows.nightly import nightly_flow
    from pathwise.sources.simulator import simulate

    home = tmp_path_factory.mktemp("serving") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        landing = home / "landing" / "sim"
        simulate(
            learners=400,
            courses=24,
            days=42,
            seed=11,
            out=landing,
            fmt="parquet",
            start="2026-02-02",
            bad_share=0.0,
        )
        result = nightly_flow(skip=["index"])
        yield {"home": home, "landing": landing, "result": result}
        get_settings.cache_clear()


def snapshot_recs(snap: snapshots.Snapshot) -> dict[str, list[str]]:
    """learner_key -> course ids in rank order, as published in `snap`."""
    rows = (
        duckdb.connect()
        .sql(
            f"select learner_key, list(course_id order by rank) from "
            f"read_parquet('{snap.table_path('recommendations')}') group by 1"
        )
        .fetchall()
    )
    return dict(rows)


def test_nightly_publishes_every_result(platform):
    result = platform["result"]
    assert result["skipped"] == ["index"]
    assert list(result["steps"]) == [
        "ingest",
        "retention",
        "build",
        "styles",
        "dropout",
        "recommend",
        "drift",
        "benchmarks",
        "uplift",
        "publish",
        "agents",
    ]
    # Ten-month-old data is within PATHWISE_RETENTION_MONTHS: the purge deleted nothing anywhere.
    assert set(result["retention"]) >= {"warehouse", "landing", "snapshots"}
    assert not any(result["retention"].values()), result["retention"]
    assert result["steps"]["build"]["full_refresh"] is False
    # The agents acted on what was published: decisions recorded, nudges in the outbox.
    agents = result["steps"]["agents"]
    assert agents["paused"] is False and agents["agents"]["reengage"]["candidates"] > 0
    assert agents["agents"]["metadata"]["changed"] == agents["agents"]["metadata"]["courses"] > 0
    assert result["steps"]["benchmarks"]["courses"] > 0
    assert agents["outbox"].get("sent", 0) == agents["agents"]["reengage"]["enqueued"] > 0
    # An unchanged platform: the drift check (KPIs only: no snapshot to compare with yet) is quiet.
    assert result["steps"]["drift"]["checks"] >= 4
    assert result["steps"]["drift"]["alerted"] == []
    snap = snapshots.require_current()
    assert snap.version == result["snapshot"]
    for table in (
        "recommendations",
        "recommendations_cold_start",
        "dropout_risk",
        "learning_styles",
        "drift_checks",
        "learner_course_progress",
        "courses",
        "course_modules",
        "completion_horizon_kpis",
        "course_benchmarks",
        "course_neighbours",
    ):
        assert snap.tables.get(table, 0) > 0, table
    assert snap.manifest["model_versions"]["recommendations"]


def test_a_failed_step_keeps_the_previous_snapshot_serving(platform, tmp_path):
    from flows.nightly import NightlyStepFailed, nightly_flow

    before = snapshots.require_current().version
    bad = tmp_path / "bad-source" / "catalog"
    bad.mkdir(parents=True)
    (bad / "courses.csv").write_text("course_id,title\nc1,Only two columns\n")
    with pytest.raises(
        NightlyStepFailed, match=rf"step 'ingest' failed.*Still serving snapshot {before}"
    ):
        nightly_flow(landing=[str(bad.parent)], skip=["index"])
    assert snapshots.require_current().version == before


def test_rerunning_is_safe_and_publishes_a_new_version(platform):
    from flows.nightly import nightly_flow

    before = snapshots.require_current()
    again = nightly_flow(skip=["index"])
    events = again["steps"]["ingest"]["events"]
    assert all(b["status"] == "skipped" for b in events["batches"])
    after = snapshots.require_current()
    assert after.version != before.version
    assert after.tables["recommendations"] == before.tables["recommendations"]
    assert snapshot_recs(after) == snapshot_recs(before)  # same data, same seed: same lists


def test_publish_keeps_the_last_n_and_rolls_back(platform):
    from pathwise.warehouse import connect

    with connect(read_only=True) as con:
        made = [snapshots.publish(con, keep=3).version for _ in range(4)]
    assert snapshots.versions()[-3:] == made[-3:] and len(snapshots.versions()) == 3
    assert snapshots.rollback().version == made[-2]
    assert snapshots.require_current().version == made[-2]
    snapshots.rollback()
    with pytest.raises(snapshots.SnapshotError, match="oldest"):
        snapshots.rollback()


# ---------------------------------------------------------------- the read API over real HTTP


@pytest.fixture(scope="module")
def api(platform) -> Iterator[httpx.Client]:
    """A client of the API in a real uvicorn server, holding a platform service key."""
    from apps.api import create_app
    from pathwise.api_keys import KeyStore

    _, token = KeyStore().create("test platform", "service")
    with pytest.MonkeyPatch.context() as mp:  # the concurrent readers ask thousands of times
        mp.setenv("PATHWISE_API_RATE_LIMIT_PER_MINUTE", "10000000")
        get_settings.cache_clear()
        app = create_app()
    get_settings.cache_clear()
    with (
        api_server(app) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client,
    ):
        yield client


def recs(http: httpx.Client, learner: str, **params) -> httpx.Response:
    """`learner` is a learner_key (as in the snapshot) unless id_kind says otherwise."""
    params.setdefault("id_kind", "learner_key")
    return http.get(f"/v1/learners/{learner}/recommendations", params=params)


def some_learner(snap: snapshots.Snapshot) -> tuple[str, list[str]]:
    learner, courses = sorted(snapshot_recs(snap).items())[0]
    return learner, courses


def test_a_learner_gets_their_list_with_reasons_and_format(api):
    snap = snapshots.require_current()
    learner, courses = some_learner(snap)
    body = recs(api, learner, k=5).json()
    assert body["snapshot_version"] == snap.version and not body["cold_start"]
    assert [i["course_id"] for i in body["items"]] == courses[:5]
    for item in body["items"]:
        assert item["reason"] and item["title"] and item["rec_id"].startswith(body["response_id"])
        assert item["format_first"] in {"video", "reading", "hands-on"}
        assert item["contributions"] and sum(item["contributions"].values()) == pytest.approx(
            item["score"], abs=1e-6
        )


def test_unknown_learners_get_the_cold_start_list(api):
    snap = snapshots.require_current()
    cold = (
        duckdb.connect()
        .sql(
            f"select list(course_id order by rank) from "
            f"read_parquet('{snap.table_path('recommendations_cold_start')}')"
        )
        .fetchall()[0][0]
    )
    body = recs(api, "usr_never_seen", k=3, id_kind="user_id").json()
    assert body["cold_start"] and [i["course_id"] for i in body["items"]] == cold[:3]


def known_user(platform) -> tuple[str, str]:
    """A platform user id with a list in the snapshot, and its learner_key."""
    from pathwise.privacy import pseudonym

    secret = get_settings().pseudonym_key.get_secret_value()
    served = snapshot_recs(snapshots.require_current())
    events = platform["landing"] / "events" / "*.parquet"
    for (user_id,) in (
        duckdb.connect()
        .sql(f"select distinct user_id from read_parquet('{events}') order by 1")
        .fetchall()
    ):
        if pseudonym(user_id, secret) in served:
            return user_id, pseudonym(user_id, secret)
    raise AssertionError("no simulated user has a list")


def test_a_raw_user_id_is_never_answered_with_its_learner_key(api, platform):
    user_id, learner_key = known_user(platform)
    by_id = recs(api, user_id, k=5, id_kind="user_id")
    by_key = recs(api, learner_key, k=5)
    assert by_id.status_code == by_key.status_code == 200
    assert not by_id.json()["cold_start"]
    assert [i["course_id"] for i in by_id.json()["items"]] == [
        i["course_id"] for i in by_key.json()["items"]
    ]
    assert learner_key not in by_id.text and user_id not in by_id.text
    # A raw id that happens to look like a learner_key is still a raw id: pseudonymized.
    assert recs(api, learner_key, k=5, id_kind="user_id").json()["cold_start"]
    bad = recs(api, "not-hex", id_kind="learner_key")
    assert bad.status_code == 400 and "32 hex digits" in bad.json()["problems"][0]


def test_a_learner_key_reads_its_own_list_and_nobody_else_s(api, platform):
    from pathwise.api_keys import KeyStore

    user_id, learner_key = known_user(platform)
    other, _ = some_learner(snapshots.require_current())
    assert other != learner_key
    _, token = KeyStore().create("learner device", "learner", learner_key)
    with httpx.Client(
        base_url=api.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as mine:
        own = recs(mine, learner_key, k=5)
        assert own.status_code == 200 and not own.json()["cold_start"]
        assert recs(mine, user_id, k=5, id_kind="user_id").status_code == 200
        for learner, kind in ((other, "learner_key"), ("usr_someone_else", "user_id")):
            denied = recs(mine, learner, id_kind=kind)
            assert denied.status_code == 403 and "own learner" in denied.json()["error"]
        assert mine.get("/v1/keys").status_code == 403


@pytest.mark.parametrize("credentials", ["service key", "none"])
def test_the_api_answers_what_its_openapi_document_says(api, credentials):
    """Schemathesis: requests generated from /openapi.json (valid and invalid), each answer
    checked against the document (documented status, content type, body schema, auth)."""
    import hypothesis
    import schemathesis
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    # "Authorization" spelt so: Schemathesis drops it by that name to check a 401 without it.
    headers = (
        {"Authorization": api.headers["authorization"]} if credentials == "service key" else {}
    )
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json")
    key = re.compile(r"[0-9a-f]{32}")

    def with_a_wellformed_key(case):
        # The schema cannot say that `learner` is 32 hex digits only when id_kind=learner_key.
        if (case.query or {}).get("id_kind") == "learner_key":
            learner = str(case.path_parameters["learner"])
            if not key.fullmatch(learner):
                case.path_parameters["learner"] = hashlib.md5(learner.encode()).hexdigest()
        return case

    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "GET /health",
        "GET /v1/learners/{learner}/recommendations",
        "GET /v1/keys",
    }
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = op.as_strategy(generation_mode=mode)
            if mode == GenerationMode.POSITIVE:
                strategy = strategy.map(with_a_wellformed_key)

            @hypothesis.settings(
                max_examples=40,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            @hypothesis.given(case=strategy)
            def check(case):
                case.call_and_validate(headers=headers)

            try:
                check()
            except Unsatisfiable:  # no parameters to get wrong (/health)
                assert mode == GenerationMode.NEGATIVE and not op.path.count("{")


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("k=0", "k: Input should be greater than or equal to 1"),
        ("k=51", "k: Input should be less than or equal to 50"),
        ("k=ten", "k: Input should be a valid integer"),
    ],
)
def test_bad_parameters_get_a_400_that_says_what_is_wrong(api, query, problem):
    response = api.get(f"/v1/learners/x/recommendations?{query}")
    assert response.status_code == 400
    assert problem in response.json()["problems"][0]


def test_controls_apply_to_the_next_response(api):
    learner, courses = some_learner(snapshots.require_current())
    store = ControlStore()
    low = courses[7]
    boost = store.boost(low, amount=1.0, reason="test campaign", actor="test")
    body = recs(api, learner, k=3).json()
    assert body["items"][0]["course_id"] == low and body["items"][0]["boost"] == 1.0
    assert boost in body["controls_applied"]
    hidden = store.suppress(low, reason="test: broken", actor="test")
    body = recs(api, learner, k=3).json()
    assert low not in [i["course_id"] for i in body["items"]] and len(body["items"]) == 3
    for control_id in (boost, hidden):
        store.revoke(control_id, reason="test over", actor="test")
    body = recs(api, learner, k=3).json()
    assert [i["course_id"] for i in body["items"]] == courses[:3]


def test_reads_never_fail_while_new_snapshots_are_published(api):
    """Clients read while the nightly publishes: no error, each response whole from one version."""
    from ml.recommender import default_weights, train_and_recommend
    from pathwise.warehouse import connect

    expected = {}
    snap = snapshots.require_current()
    expected[snap.version] = snapshot_recs(snap)
    learners = sorted(expected[snap.version])[:40]
    stop = threading.Event()

    def client(i: int) -> list[tuple[int, str | None, str, list[str]]]:
        seen, n = [], 0
        with httpx.Client(base_url=api.base_url, headers=api.headers, timeout=10) as http:
            while not stop.is_set():
                learner = learners[(i + n) % len(learners)]
                n += 1
                r = recs(http, learner, k=10)
                body = r.json() if r.status_code == 200 else {}
                seen.append(
                    (
                        r.status_code,
                        body.get("snapshot_version"),
                        learner,
                        [x["course_id"] for x in body.get("items", [])],
                    )
                )
        return seen

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client, i) for i in range(8)]
        # Two new versions with different blend weights, so their lists really differ.
        for weights in ({"popularity": 5.0}, default_weights()):
            with connect() as con:
                train_and_recommend(con, weights=weights)
            with connect(read_only=True) as con:
                snap = snapshots.publish(con)
            expected[snap.version] = snapshot_recs(snap)
            time.sleep(1.0)
        stop.set()
        seen = [row for f in futures for row in f.result()]

    assert len(seen) > 100
    assert {status for status, *_ in seen} == {200}
    versions = {v for _, v, *_ in seen}
    assert len(versions) >= 2, "the readers should have seen the switch"
    assert expected[sorted(expected)[1]] != expected[sorted(expected)[0]]
    for _, version, learner, items in seen:
        assert items == expected[version][learner][:10]


def test_served_responses_reach_the_warehouse_log(api):
    from pathwise.served_log import load_closed_files
    from pathwise.warehouse import connect

    learner, _ = some_learner(snapshots.require_current())
    body = recs(api, learner, k=4, surface="email").json()
    time.sleep(0.5)  # the log is written off the request path
    with connect() as con:
        loaded = load_closed_files(con, now=datetime.now(UTC) + timedelta(hours=1))
        assert loaded["files"] >= 1
        rows = con.execute(
            "select rec_id, learner_key, course_id, rank, surface, snapshot_version "
            "from raw.served_recommendations where response_id = ? order by rank",
            [body["response_id"]],
        ).fetchall()
        # A second load adds nothing.
        assert load_closed_files(con, now=datetime.now(UTC) + timedelta(hours=1))["files"] == 0
    assert [(r[0], r[2], r[3]) for r in rows] == [
        (i["rec_id"], i["course_id"], i["rank"]) for i in body["items"]
    ]
    assert {(r[1], r[4], r[5]) for r in rows} == {(learner, "email", body["snapshot_version"])}


# ---------------------------------------------------------------- drift


def test_psi_is_zero_for_the_same_distribution_and_grows_with_a_shift():
    from ml.drift import psi

    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 20_000)
    assert psi(base, rng.normal(0, 1, 20_000)) < 0.01
    small, large = psi(base, rng.normal(0.2, 1, 20_000)), psi(base, rng.normal(1, 1, 20_000))
    assert 0.01 < small < large and large > 0.25


def test_a_shift_writes_an_alert_and_calls_the_webhook(platform, monkeypatch, tmp_path):
    """...over HTTPS, verified against a CA the settings name (tests/test_tls.py: the refusals)."""
    from ml.drift import check
    from pathwise.devcert import make_dev_cert
    from pathwise.warehouse import connect

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    certs = make_dev_cert(tmp_path / "tls")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certs.cert, certs.key)
    server = HTTPServer(("127.0.0.1", 0), Hook)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PATHWISE_DRIFT_WEBHOOK_URL", f"https://localhost:{server.server_port}/")
    monkeypatch.setenv("PATHWISE_TRUSTED_CA_FILE", str(certs.ca))
    get_settings.cache_clear()
    with connect() as con:
        quiet = check(con)  # tonight == the published snapshot: no distribution moved
        assert not [a for a in quiet["alerted"] if a in ("recommendation score", "dropout risk")]
        con.execute("update ml.dropout_risk set risk = least(1, risk * 0.2 + 0.7)")
        loud = check(con)
        alerts = con.execute(
            "select check_name, statistic, value, threshold from ml.drift_alerts where run_id = ?",
            [loud["run_id"]],
        ).fetchall()
    server.shutdown()
    server.server_close()
    assert ("dropout risk", "psi") in {(a[0], a[1]) for a in alerts}
    assert all(a[2] >= a[3] for a in alerts)
    assert received and received[-1]["run_id"] == loud["run_id"]
    assert "dropout risk" in {a["check_name"] for a in received[-1]["alerts"]}


def test_scores_of_another_recommender_start_a_new_baseline_not_an_alert(platform):
    """A blended score has no fixed scale: the same model's scores moving alert; when tuning
    picked another configuration, its scores are not compared with the old one's."""
    from ml.drift import check
    from pathwise.warehouse import connect

    def score_check(con) -> list[tuple]:
        run = check(con)["run_id"]
        return con.execute(
            "select value, is_alert from ml.drift_checks "
            "where run_id = ? and check_name = 'recommendation score'",
            [run],
        ).fetchall()

    with connect() as con:
        con.execute("create or replace table ml.saved_recs as select * from ml.recommendations")
        try:
            [(same, alert)] = score_check(con)
            assert same < 0.01 and not alert
            con.execute("update ml.recommendations set score = score * 3 + 1")
            [(moved, alert)] = score_check(con)
            assert moved >= 0.15 and alert
            con.execute("update ml.recommendations set model_version = 'hybrid-ease-other'")
            assert score_check(con) == []
        finally:
            con.execute("delete from ml.recommendations")
            con.execute("insert into ml.recommendations select * from ml.saved_recs")
            con.execute("drop table ml.saved_recs")


def test_the_nightly_deployment_runs_every_night():
    from flows.nightly import SCHEDULE, deployment

    d = deployment()
    assert d.name == "pathwise-nightly" and d.flow_name == "nightly"
    [schedule] = d.schedules
    assert schedule.schedule.cron == SCHEDULE == "0 2 * * *"
    assert schedule.schedule.timezone == "UTC" and schedule.active


def test_the_recommender_the_api_and_the_app_agree_on_what_is_in_force(api):
    """One store state (a boost that has just expired, a live boost, a suppression, new weights),
    read by the nightly recommender, the read API and the Control Tower: all three apply the same,
    because all three ask `pathwise.controls` the same question."""
    from dataclasses import replace

    from streamlit.testing.v1 import AppTest

    from flows.nightly import publish, recommend
    from pathwise.accounts import UserStore

    store = ControlStore()
    learner, courses = some_learner(snapshots.require_current())
    ended, live, hidden = courses[5], courses[6], courses[1]
    ended_id = store.boost(ended, amount=1.0, reason="test: short", actor="test", days=1 / 86400)
    live_id = store.boost(live, amount=1.0, reason="test: campaign", actor="test")
    hidden_id = store.suppress(hidden, reason="test: broken", actor="test")
    store.set_weights({"popularity": 0.9, "collaborative": 0.7}, reason="test", actor="test")
    time.sleep(1.5)  # the short boost ends
    try:
        now = store.in_force()
        assert {c.control_id for c in now.controls} == {live_id, hidden_id}

        # The nightly recommender ranks with exactly these (over its tuned weights).
        recommend.fn()
        publish.fn()
        snap = snapshots.require_current()
        con = snap.connect()
        tuned = dict(
            con.sql("select signal, default_weight from recommendation_signals").fetchall()
        )
        weights = now.weights(tuned)
        assert (weights["popularity"], weights["collaborative"]) == (0.9, 0.7)
        served_weights = dict(
            con.sql("select signal, weight from recommendation_signals").fetchall()
        )
        boost = dict(
            con.sql("select course_id, max(boost) from recommendations group by 1").fetchall()
        )
        n_hidden = con.execute(
            "select count(*) from recommendations where course_id = ?", [hidden]
        ).fetchall()[0][0]
        con.close()
        assert served_weights == weights
        assert boost[live] == 1.0 and boost.get(ended, 0.0) == 0.0 and n_hidden == 0

        # The read API applies the same at read time (once it has loaded the new snapshot).
        for _ in range(100):
            body = recs(api, learner, k=10).json()
            if body["snapshot_version"] == snap.version:
                break
            time.sleep(0.1)
        items = {i["course_id"]: i for i in body["items"]}
        assert body["items"][0]["course_id"] == live and live_id in body["controls_applied"]
        assert hidden not in items and ended_id not in body["controls_applied"]
        assert items.get(ended, {}).get("boost", 0.0) == 0.0

        # The Control Tower shows the same controls and weights in force.
        admin = UserStore().add("agree-admin", "a-test-password", "admin", replace=True)
        at = AppTest.from_file(str(PROJECT_ROOT / "apps" / "streamlit_app.py"), default_timeout=60)
        at.session_state["pathwise_user"] = replace(admin, signed_in_at=time.time())
        at.run()
        at.switch_page("app_pages/interventions.py").run()
        assert not at.exception, at.exception
        assert at.tabs[2].label == "Active controls (2)"
        assert at.slider(key="w_popularity").value == 0.9
        assert at.slider(key="w_collaborative").value == 0.7
        assert at.slider(key="w_content_similarity").value == weights["content_similarity"]
    finally:
        for control_id in (live_id, hidden_id):
            store.revoke(control_id, reason="test over", actor="test")
        store.clear_weights(reason="test over", actor="test")
        recommend.fn()
        publish.fn()


def test_the_next_step_of_a_stored_path_is_served_first_with_its_reason(api):
    """A learner with a path gets its next step first in the served list, saying why; nobody
    else's list moves; a suppression still keeps the step out."""
    from flows.nightly import publish, recommend
    from pathwise.learning_paths import PathStore

    def served(snap: snapshots.Snapshot, learner: str) -> dict:
        for _ in range(100):  # once the API has loaded the new snapshot
            body = recs(api, learner, k=5).json()
            if body["snapshot_version"] == snap.version:
                return body
            time.sleep(0.1)
        raise AssertionError(f"the API never served snapshot {snap.version}")

    recommend.fn()  # the lists under the controls in force now, without the path
    publish.fn()
    before = snapshot_recs(snapshots.require_current())
    learner, courses = some_learner(snapshots.require_current())
    step = courses[4]
    goal = {"role": "Data Analysts", "skills": [], "skill_names": {}}
    store = PathStore()
    store.save_goal(learner, goal)
    store.save_path(learner, {"goal": goal, "steps": [{"course_id": step, "title": step}]})
    try:
        assert recommend.fn()["learners_with_path"] == 1
        publish.fn()
        snap = snapshots.require_current()
        after = snapshot_recs(snap)
        assert after[learner] == [step] + [c for c in before[learner] if c != step]
        assert {k: v for k, v in after.items() if k != learner} == {
            k: v for k, v in before.items() if k != learner
        }
        first = served(snap, learner)["items"][0]
        assert first["course_id"] == step
        assert first["reason"] == "Next step of your path to Data Analysts"
        assert sum(first["contributions"].values()) == pytest.approx(first["score"], abs=1e-6)
        hidden = ControlStore().suppress(step, reason="test: broken", actor="test")
        try:
            assert step not in [i["course_id"] for i in recs(api, learner, k=5).json()["items"]]
        finally:
            ControlStore().revoke(hidden, reason="test over", actor="test")
    finally:
        store.forget_learner(learner)
        store.close()
        recommend.fn()
        publish.fn()
