"""The dbt project and its Prefect build flow, end to end on a small hand-made warehouse.

Raw rows are written the way ingestion writes them (`pathwise.warehouse.open_connection`), the real
`dbt build` runs through the real flow (a dbt subprocess), and the staging views are compared with
the values written here.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from flows.build import (
    DBT_PROJECT_DIR,
    DbtError,
    build_flow,
    dbt_env,
    docs_flow,
    node_name,
    plan_dbt,
    project_vars,
    read_dbt_line,
    summarize_run_results,
)
from pathwise.contract import EVENT_TYPES, Tier
from pathwise.settings import get_settings
from pathwise.warehouse import connect

T0 = datetime(2026, 1, 5, 9, 0, 0)
BATCH = "b" * 64

COURSES = [
    # course_id, title, difficulty, primary_format
    ("c-py", "Python for data work", 1, "video"),
    ("c-sql", "SQL basics", 2, "reading"),
    ("c-ml", "Machine learning in practice", 3, "hands-on"),
]
MODULES = [("c-py", "m1", 1, 20.0), ("c-py", "m2", 2, 35.5), ("c-sql", "m1", 1, 15.0)]

# event_id, event_type, learner_key, course_id, module_id, properties
EVENTS = [
    ("e01", "profile_updated", "lk-a", None, None,
     {"target_role": "Data Scientists", "current_skills": ["Python", "SQL"],
      "weekly_minutes": 300, "preferred_format": "video"}),
    ("e02", "profile_updated", "lk-b", None, None, {"target_role": "Web Developers"}),
    ("e03", "consent_changed", "lk-a", None, None, {"tier": "fine", "granted": True}),
    ("e04", "consent_changed", "lk-a", None, None, {"tier": "fine", "granted": False}),
    ("e05", "search", "lk-a", None, None, {"query": "pandas dataframes", "results_count": 3}),
    ("e06", "search", "lk-b", None, None, {"query": "kubernetes", "results_count": 0}),
    ("e07", "course_view", "lk-a", "c-py", None, {}),
    ("e08", "rec_impression", "lk-a", "c-py", None,
     {"rec_id": "r1", "position": 1, "surface": "home", "model_version": "als-1"}),
    ("e09", "rec_impression", "lk-a", "c-sql", None,
     {"rec_id": "r1", "position": 2, "surface": "home", "model_version": "als-1"}),
    ("e10", "rec_click", "lk-a", "c-py", None, {"rec_id": "r1"}),
    ("e11", "enroll", "lk-a", "c-py", None, {"rec_id": "r1"}),
    ("e12", "enroll", "lk-b", "c-sql", None, {}),
    ("e13", "module_start", "lk-a", "c-py", "m1", {}),
    ("e14", "module_complete", "lk-a", "c-py", "m1", {}),
    ("e15", "video_progress", "lk-a", "c-py", "m1", {"position_s": 90.5, "duration_s": 181}),
    ("e16", "quiz_submit", "lk-a", "c-py", None, {"quiz_id": "q1", "score": 0.75, "attempt": 2}),
    ("e17", "course_complete", "lk-a", "c-py", None, {"result": "distinction"}),
    ("e18", "course_drop", "lk-b", "c-sql", None, {"reason": "no time"}),
    ("e19", "rating", "lk-a", "c-py", None, {"stars": 5, "comment": "clear and practical"}),
    ("e20", "forum_post", "lk-b", None, None, {"thread_id": "t1", "text": "how do I start?"}),
    ("e21", "nudge_sent", "lk-b", None, None,
     {"nudge_id": "n1", "channel": "email", "agent": "campaign:7", "campaign_id": "7"}),
    ("e22", "nudge_opened", "lk-b", None, None, {"nudge_id": "n1"}),
    ("e26", "nudge_clicked", "lk-b", None, None, {"nudge_id": "n1"}),
    ("e23", "rating", "lk-b", "c-sql", None, {"stars": 2}),
    ("e24", "course_complete", "lk-b", "c-ml", None, {}),
    # A course the catalog does not know (imported data can be partial): a warning, not a failure.
    ("e25", "enroll", "lk-b", "c-gone", None, {}),
    ("e27", "material_view", "lk-a", "c-py", None, {"material_id": "vle:7", "clicks": 3}),
    ("e28", "material_view", "lk-a", "c-py", None, {}),
]  # fmt: skip

# Staging models fed by the events above, with the event types each one keeps.
FAMILIES = {
    "stg_pathwise__profiles": {"profile_updated"},
    "stg_pathwise__consents": {"consent_changed"},
    "stg_pathwise__searches": {"search"},
    "stg_pathwise__course_views": {"course_view"},
    "stg_pathwise__material_views": {"material_view"},
    "stg_pathwise__rec_impressions": {"rec_impression"},
    "stg_pathwise__rec_clicks": {"rec_click"},
    "stg_pathwise__enrolments": {"enroll"},
    "stg_pathwise__module_starts": {"module_start"},
    "stg_pathwise__module_completions": {"module_complete"},
    "stg_pathwise__video_progress": {"video_progress"},
    "stg_pathwise__quiz_submissions": {"quiz_submit"},
    "stg_pathwise__course_ends": {"course_complete", "course_drop"},
    "stg_pathwise__ratings": {"rating"},
    "stg_pathwise__forum_posts": {"forum_post"},
    "stg_pathwise__nudges": {"nudge_sent", "nudge_opened", "nudge_clicked"},
}


def write_raw(events: list[tuple] = EVENTS) -> None:
    """Write the hand-made catalog, events and bookkeeping rows as ingestion would."""
    loaded_at = T0 + timedelta(days=1)
    with connect(vault=True) as con:
        con.executemany(
            "insert into raw.catalog_courses values (?, ?, ?, 'data', ?, 'i1', 'en', ?, ?)",
            [(c, t, f"About {t}.", d, f, loaded_at) for c, t, d, f in COURSES],
        )
        con.executemany(
            "insert into raw.catalog_modules values (?, ?, ?, ?, ?, 'video', ?, null)",
            [(c, m, p, f"Module {p}", minutes, loaded_at) for c, m, p, minutes in MODULES],
        )
        con.executemany(
            "insert into raw.catalog_course_skills values (?, ?, ?)",
            [("c-py", "Python", loaded_at), ("c-ml", "Machine learning", loaded_at)],
        )
        con.execute(
            "insert into raw.catalog_course_prerequisites values ('c-ml', 'c-py', ?)", [loaded_at]
        )
        rows = [
            (event_id, event_type, T0 + timedelta(minutes=i), learner, f"s-{learner}", course,
             module, json.dumps(props), BATCH, loaded_at)
            for i, (event_id, event_type, learner, course, module, props) in enumerate(events)
        ]  # fmt: skip
        con.executemany(
            "insert into raw.events values ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10)",
            rows,
        )
        # The fine events behind the daily counts below: only their ids and fingerprints stay.
        con.executemany(
            "insert into raw.event_ids values (?, md5_number(?), ?, ?)",
            [(f"f{i}", f"seek {i}", T0, BATCH) for i in range(3)],
        )
        con.execute(
            "insert into raw.fine_signals_daily values ('lk-a', 'c-py', ?, 3, 2, 1, 4, 42.5, 10, ?)",
            [T0.date(), BATCH],
        )
        con.execute(
            "insert into raw.quarantined_events values "
            "(?, 'events.ndjson', 7, 'malformed_json', 'line 7', null, null, null, '{oops', ?)",
            [BATCH, loaded_at],
        )
        n = len(events)
        con.execute(
            "insert into raw.ingest_batches values "
            "(?, 'events.ndjson', 'ndjson', ?, ?, 3, 0, 1, 2, ?, ?, 1, 0)",
            [BATCH, n + 6, n + 3, loaded_at, loaded_at + timedelta(seconds=2.5)],
        )


def query(sql: str) -> list[tuple]:
    with connect(read_only=True) as con:
        return con.execute(sql).fetchall()


def staging(model: str, columns: str, order_by: str = "event_id") -> list[tuple]:
    return query(f"select {columns} from staging.{model} order by {order_by}")


# ------------------------------------------------------------------------------ end to end


@pytest.mark.slow
def test_build_extracts_typed_properties_from_raw_events(prefect_harness, pathwise_home):
    write_raw()

    result = build_flow(select="staging")

    assert result["target"] == "plain"
    assert result["failures"] == []
    assert set(result["counts"]["model"]) == {"success"}
    assert result["counts"]["model"]["success"] >= len(FAMILIES) + 9  # + one per raw table
    assert set(result["counts"]["unit_test"]) == {"pass"}
    assert set(result["counts"]["test"]) == {"pass", "warn"}
    # The enrolment in a course missing from the catalog warns, and does not fail the build.
    assert sorted(w["name"] for w in result["warnings"]) == [
        "relationships_base_pathwise__events_course_id__course_id__ref_stg_pathwise__courses_",
        "relationships_stg_pathwise__enrolments_course_id__course_id__ref_stg_pathwise__courses_",
    ]
    assert Path(result["run_results"]).is_relative_to(pathwise_home.home)

    # Row counts per event family, from the hand-made events.
    for model, types in FAMILIES.items():
        expected = sorted(e[0] for e in EVENTS if e[1] in types)
        assert [r[0] for r in staging(model, "event_id")] == expected, model
    assert query("select count(*) from staging.base_pathwise__events") == [(len(EVENTS),)]

    # Typed properties.
    assert staging(
        "stg_pathwise__profiles", "target_role, current_skills, weekly_minutes, preferred_format"
    ) == [
        ("Data Scientists", ["Python", "SQL"], 300, "video"),
        ("Web Developers", None, None, None),
    ]
    assert staging("stg_pathwise__consents", "consent_tier, is_granted") == [
        ("fine", True),
        ("fine", False),
    ]
    assert staging("stg_pathwise__searches", "query_text, results_count, is_zero_result") == [
        ("pandas dataframes", 3, False),
        ("kubernetes", 0, True),
    ]
    assert staging(
        "stg_pathwise__rec_impressions", "course_id, rec_id, rec_position, surface, model_version"
    ) == [("c-py", "r1", 1, "home", "als-1"), ("c-sql", "r1", 2, "home", "als-1")]
    assert staging("stg_pathwise__rec_clicks", "course_id, rec_id") == [("c-py", "r1")]
    assert staging("stg_pathwise__material_views", "course_id, material_id, clicks") == [
        ("c-py", "vle:7", 3),
        ("c-py", None, 1),  # clicks not given: one use
    ]
    assert staging("stg_pathwise__enrolments", "course_id, rec_id, is_from_recommendation") == [
        ("c-py", "r1", True),
        ("c-sql", None, False),
        ("c-gone", None, False),
    ]
    assert staging("stg_pathwise__module_completions", "course_id, module_id, completed_at") == [
        ("c-py", "m1", T0 + timedelta(minutes=13))
    ]
    assert staging(
        "stg_pathwise__video_progress", "position_seconds, duration_seconds, watched_share"
    ) == [(90.5, 181.0, 0.5)]
    assert staging("stg_pathwise__quiz_submissions", "quiz_id, score, attempt_number") == [
        ("q1", 0.75, 2)
    ]
    assert staging(
        "stg_pathwise__course_ends", "course_id, outcome, is_completed, is_passed, drop_reason"
    ) == [
        ("c-py", "distinction", True, True, None),
        ("c-sql", "dropped", False, False, "no time"),
        ("c-ml", "pass", True, True, None),
    ]
    assert staging("stg_pathwise__ratings", "course_id, stars, comment_text, has_comment") == [
        ("c-py", 5, "clear and practical", True),
        ("c-sql", 2, None, False),
    ]
    assert staging("stg_pathwise__forum_posts", "course_id, thread_id, post_text") == [
        (None, "t1", "how do I start?")
    ]
    assert staging(
        "stg_pathwise__nudges", "nudge_action, nudge_id, channel, agent, campaign_id"
    ) == [
        ("sent", "n1", "email", "campaign:7", "7"),
        ("opened", "n1", None, None, None),
        ("clicked", "n1", None, None, None),
    ]

    # Catalog and bookkeeping tables.
    assert staging(
        "stg_pathwise__courses", "course_id, difficulty, difficulty_label", "difficulty"
    ) == [("c-py", 1, "beginner"), ("c-sql", 2, "intermediate"), ("c-ml", 3, "advanced")]
    assert staging(
        "stg_pathwise__modules", "course_id, module_id, module_position", "course_id, module_id"
    ) == [("c-py", "m1", 1), ("c-py", "m2", 2), ("c-sql", "m1", 1)]
    assert staging(
        "stg_pathwise__fine_signals_daily",
        "seek_count, rewind_count, skip_count, pause_count, rewind_seconds",
        "learner_key",
    ) == [(3, 2, 1, 4, 42.5)]
    assert staging(
        "stg_pathwise__ingest_batches", "received_count, loaded_count, duration_seconds", "batch_id"
    ) == [(len(EVENTS) + 6, len(EVENTS) + 3, 2.5)]
    assert staging("stg_pathwise__quarantined_events", "quarantine_reason", "line_no") == [
        ("malformed_json",)
    ]


@pytest.mark.slow
def test_a_failing_dbt_test_fails_the_flow(prefect_harness, pathwise_home):
    first = EVENTS[0]
    write_raw(
        [*EVENTS, (first[0], "search", "lk-c", None, None, {"query": "x", "results_count": 1})]
    )

    with pytest.raises(DbtError) as failed:
        build_flow(select="staging")

    # The id test on the base model of raw.events fails; dbt then skips everything built on it.
    message = str(failed.value)
    assert "1 node(s) failed" in message
    assert "test unique_base_pathwise__events_event_id: fail [1 failing rows]" in message
    assert "dbt.log" in message


@pytest.mark.slow
def test_encrypted_target_writes_an_encrypted_warehouse(
    prefect_harness, pathwise_home, monkeypatch
):
    key = "test-key-Zq8#not-in-any-log"
    monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", key)
    get_settings.cache_clear()
    write_raw()

    result = build_flow(select="staging")
    docs = docs_flow()

    assert result["target"] == docs["target"] == "encrypted"
    assert result["failures"] == []
    with pytest.raises(duckdb.Error, match="without a key"):
        duckdb.connect(str(pathwise_home.warehouse_path))
    assert query("select count(*) from staging.base_pathwise__events") == [(len(EVENTS),)]
    assert docs["catalog_nodes"] >= 24
    assert Path(docs["static_index_html"]).exists()
    # Every built model and source, and each of their columns, is described in the yml.
    target = Path(docs["index_html"]).parent
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    for unique_id, built in {**catalog["nodes"], **catalog["sources"]}.items():
        node = manifest["nodes"].get(unique_id) or manifest["sources"][unique_id]
        described = {name.lower() for name, c in node["columns"].items() if c.get("description")}
        assert node["description"], unique_id
        assert {c.lower() for c in built["columns"]} == described, unique_id
    # dbt's artifacts and logs (all under PATHWISE_HOME/dbt) never contain the key.
    artifacts = [p for p in (pathwise_home.home / "dbt").rglob("*") if p.is_file()]
    assert artifacts
    assert not [p for p in artifacts if key.encode() in p.read_bytes()]


# ------------------------------------------------------------------------------ pure logic


def test_summarize_run_results_counts_and_names_failures(tmp_path):
    path = tmp_path / "run_results.json"
    path.write_text(
        json.dumps(
            {
                "metadata": {"invocation_id": "inv-1"},
                "elapsed_time": 3.21,
                "results": [
                    {"unique_id": "model.pathwise.stg_a", "status": "success", "message": "OK"},
                    {"unique_id": "model.pathwise.stg_b", "status": "error", "message": "boom"},
                    {
                        "unique_id": "test.pathwise.unique_stg_a_id.1a2b3c",
                        "status": "fail",
                        "message": "Got 2 results",
                        "failures": 2,
                    },
                    {
                        "unique_id": "test.pathwise.relationships_x.9f",
                        "status": "warn",
                        "message": "Got 1 result",
                        "failures": 1,
                    },
                    {"unique_id": "test.pathwise.not_null_stg_b_id.4d", "status": "skipped"},
                    {"unique_id": "unit_test.pathwise.stg_a.test_rule", "status": "pass"},
                ],
            }
        )
    )

    summary = summarize_run_results.fn(path)

    assert summary["invocation_id"] == "inv-1"
    assert summary["dbt_seconds"] == 3.21
    assert summary["counts"] == {
        "model": {"error": 1, "success": 1},
        "test": {"fail": 1, "skipped": 1, "warn": 1},
        "unit_test": {"pass": 1},
    }
    assert [(f["name"], f["status"], f["failures"]) for f in summary["failures"]] == [
        ("stg_b", "error", None),
        ("unique_stg_a_id", "fail", 2),
    ]
    assert [w["name"] for w in summary["warnings"]] == ["relationships_x"]


def test_read_dbt_line():
    event = {
        "info": {"level": "error", "name": "MainEncounteredError", "msg": "\x1b[31mboom\x1b[0m"}
    }
    assert read_dbt_line(json.dumps(event)) == ("error", "MainEncounteredError", "boom")
    assert read_dbt_line("Traceback (most recent call last):") == (
        "error",
        "",
        "Traceback (most recent call last):",
    )


def test_node_name():
    assert node_name("test.pathwise.source_unique_raw_events_event_id.5f1a") == (
        "source_unique_raw_events_event_id"
    )
    assert node_name("seed.pathwise.skills") == "skills"
    assert node_name("unit_test.pathwise.stg_x.test_rule") == "test_rule"


def test_the_key_travels_only_in_the_environment(pathwise_home, monkeypatch, tmp_path):
    call = plan_dbt.fn(
        "build",
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
        encrypted=True,
        select="staging",
        full_refresh=True,
    )
    assert call.target == "encrypted"
    assert call.args[:1] == ("build",)
    assert {"--select", "staging", "--full-refresh"} <= set(call.args)
    assert str(tmp_path / "target") in call.args and str(tmp_path / "logs") in call.args

    assert "PATHWISE_WAREHOUSE_KEY" not in dbt_env({"PATHWISE_WAREHOUSE_KEY": ""})
    monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", "k3y")
    get_settings.cache_clear()
    env = dbt_env({})
    assert env["PATHWISE_WAREHOUSE_KEY"] == "k3y"
    assert env["PATHWISE_HTTPFS_EXTENSION"].endswith("httpfs.duckdb_extension")
    assert env["PATHWISE_HOME"] == str(pathwise_home.home.resolve())
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"


def test_the_k_of_the_settings_reaches_dbt_as_its_var(pathwise_home, monkeypatch, tmp_path):
    # One k everywhere: the app's threshold (settings) is the var every k-anonymous mart uses.
    monkeypatch.setenv("PATHWISE_K_ANONYMITY", "7")
    get_settings.cache_clear()
    assert project_vars() == {"k_anonymity": 7}
    call = plan_dbt.fn(
        "build",
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
        encrypted=False,
        dbt_vars=project_vars(),
    )
    assert json.loads(call.args[call.args.index("--vars") + 1]) == {"k_anonymity": 7}


def test_event_type_accepted_values_match_the_contract():
    sources = yaml.safe_load(
        (DBT_PROJECT_DIR / "models/staging/pathwise/_pathwise__sources.yml").read_text()
    )
    (raw,) = sources["sources"]
    (events,) = [t for t in raw["tables"] if t["name"] == "events"]
    (event_type,) = [c for c in events["columns"] if c["name"] == "event_type"]
    (accepted,) = [t["accepted_values"] for t in event_type["data_tests"] if "accepted_values" in t]
    essential = [n for n, e in EVENT_TYPES.items() if e.tier is Tier.ESSENTIAL]
    assert accepted["arguments"]["values"] == essential
    # Every essential event type has a staging model.
    assert set().union(*FAMILIES.values()) == set(essential)


def test_consumers_read_public_marts_only():
    """Every exposure depends on marts (public, contracted), and the snapshot publisher's on every
    mart it publishes: all of them but the nightly-job inputs (`ml_*`)."""
    exposures = yaml.safe_load((DBT_PROJECT_DIR / "models/marts/_exposures.yml").read_text())
    marts = {p.stem for p in (DBT_PROJECT_DIR / "models/marts").rglob("*.sql")}
    depends_on = {
        e["name"]: {ref.removeprefix("ref('").removesuffix("')") for ref in e["depends_on"]}
        for e in exposures["exposures"]
    }
    assert {"ml_nightly", "rag_index", "serving_snapshots"} <= depends_on.keys()
    for name, models in depends_on.items():
        assert models <= marts, f"{name} reads {models - marts}, which are not marts"
    assert depends_on["serving_snapshots"] == {m for m in marts if not m.startswith("ml_")}
    assert {"courses", "course_skills", "course_prerequisites", "ml_course_interactions"} <= (
        depends_on["ml_nightly"]
    )


@pytest.mark.parametrize(
    ("schema", "sources_yml"),
    [
        ("raw", "models/staging/pathwise/_pathwise__sources.yml"),
        # On a new warehouse, the agents' schema holds only what they write for dbt.
        ("agents", "models/staging/agents/_agents__sources.yml"),
    ],
)
def test_sources_describe_every_raw_table_and_column(pathwise_home, schema, sources_yml):
    with connect() as con:  # creates the raw tables from pathwise.warehouse.RAW_DDL
        rows = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_catalog = 'warehouse' and table_schema = ? "
            "order by table_name, ordinal_position",
            [schema],
        ).fetchall()
    in_warehouse: dict[str, list[str]] = {}
    for table, column in rows:
        in_warehouse.setdefault(table, []).append(column)
    sources = yaml.safe_load((DBT_PROJECT_DIR / sources_yml).read_text())
    (raw,) = sources["sources"]
    in_yml = {t["name"]: [c["name"] for c in t["columns"]] for t in raw["tables"]}
    assert in_yml == in_warehouse
    assert all(t.get("description") for t in raw["tables"])
    assert all(c.get("description") for t in raw["tables"] for c in t["columns"])
