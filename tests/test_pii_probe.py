"""A probe for personal data past the door, end to end with the real components.

Events carrying a unique e-mail address, IP address, phone number, full name, raw user id and a
session id built from the user id — in every envelope field and property, in valid and invalid
events, in NDJSON and Parquet — land in a folder whose name has a quote, go through the real
ingest flow and the real `dbt build` of the staging layer. Then every column of every table and
view in the warehouse, and every byte of every file under PATHWISE_HOME but the identity vault,
is searched for those strings: none may be found.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from flows.build import DBT_PROJECT_DIR, build_flow
from flows.ingest import ingest_flow, render_summary
from pathwise.contract import REASONS
from pathwise.events_io import write_events, write_lines
from pathwise.ingestion import ingest_file
from pathwise.privacy import session_key
from pathwise.settings import get_settings
from pathwise.sources.simulator import simulate
from pathwise.warehouse import connect

EMAIL = "philippa.q7f3a@example.org"
IP = "198.51.100.77"
PHONE = "+44 20 7946 0123"
NAME = "Philippa Quillfeather"
USER = "usr_probe5c1e9a"
HEX_USER = (
    "0123456789abcdef0123456789abcdef"  # looks like a learner_key: must be keyed all the same
)
SESSION = f"s-{USER}-3"
SECRETS = (EMAIL, IP, PHONE, NAME, USER, HEX_USER, SESSION)
CONTEXT = {"email": EMAIL, "ip": IP, "name": NAME, "phone": PHONE, "user_agent": "probe"}
# Everything a platform could add that the contract does not declare.
UNDECLARED = {"client_ip": IP, "full_name": NAME, "phone": PHONE, "email": EMAIL, "user": USER}


def ev(tag: str, event_type: str, props: dict, **envelope) -> dict:
    e = {
        "event_id": f"probe-{tag}",
        "event_type": event_type,
        "occurred_at": "2026-02-03T10:00:00Z",
        "user_id": USER,
        "session_id": SESSION,
        "course_id": "probe-course",
        "module_id": "probe-module",
        "schema_version": 1,
        "properties": props,
        "context": CONTEXT,
    }
    e.update(envelope)
    return e


def probe_events(tag: str) -> tuple[list[dict], dict[str, int]]:
    """(events, expected fate counts): valid ones first, then one per way of being rejected."""
    t = tag
    valid = [
        ev(f"{t}1", "course_view", UNDECLARED, email=EMAIL, ip=IP),  # + unknown top-level fields
        ev(f"{t}2", "search", {"query": f"mail {EMAIL} or call {PHONE} from {IP}",
                               "results_count": 1, "full_name": NAME}),
        ev(f"{t}3", "rating", {"stars": 5, "comment": f"{EMAIL} / {PHONE}"}),
        ev(f"{t}4", "forum_post", {"thread_id": "t1", "text": f"I am at {IP}, mail {EMAIL}"}),
        ev(f"{t}5", "enroll", {}, user_id=HEX_USER, session_id=f"s-{HEX_USER}-1"),
    ]  # fmt: skip
    invalid = [
        ev(f"{t}-{EMAIL}", "course_view", {}),  # personal_data: event_id
        ev(f"{t}7", "course_view", {}, course_id=f"c-{IP}"),  # personal_data: course_id
        ev(f"{t}8-{USER}", "course_view", {}),  # personal_data: the user id in the event_id
        ev(f"{t}9", EMAIL, UNDECLARED),  # unknown_event_type
        ev(f"{t}10", "rec_impression", {"rec_id": "r1", "position": 1, "surface":
           f"{NAME} {EMAIL}", "model_version": "m1"}),  # invalid_property: surface is a choice
        ev(f"{t}11", "quiz_submit", {"quiz_id": NAME, "score": f"high {PHONE}", "attempt": 1}),
        ev(f"{t}12", "course_view", {}, occurred_at=f"soon {EMAIL} {PHONE}"),
        ev(f"{t}13", "course_view", UNDECLARED, user_id=None),  # missing_field
        ev(f"{t}14", "course_view", {}, session_id={"name": NAME, "user": USER}),  # wrong_type
        ev(f"{t}15", "forum_post", {"thread_id": NAME, "text": f"{NAME} {EMAIL} " * 800}),
        ev(f"{t}1", "course_view", {**UNDECLARED, "x": 1}, course_id="other"),  # conflict
    ]  # fmt: skip
    expected = {
        "loaded": len(valid),
        "personal_data": 3,
        "unknown_event_type": 1,
        "invalid_property": 1,
        "wrong_type": 2,
        "invalid_timestamp": 1,
        "missing_field": 1,
        "oversized": 1,
        "duplicate_conflict": 1,
    }
    return valid + invalid, expected


def write_probe(folder: Path) -> dict[str, dict[str, int]]:
    """The probe as NDJSON (with two unreadable lines) and as Parquet; expected counts per file."""
    events, expected = probe_events("n")
    broken = json.dumps(ev("n16", "course_view", UNDECLARED))[:-40]  # malformed_json
    lines = [json.dumps(e) for e in events] + [broken, json.dumps([NAME, EMAIL, USER])]
    ndjson = write_lines(lines, folder / "zz-probe.ndjson")
    events, expected_pq = probe_events("p")
    rows = [
        {
            **{k: v if not isinstance(v, dict) else json.dumps(v) for k, v in e.items()},
            "properties": json.dumps(e["properties"]),
            "context": json.dumps(e["context"]),
        }
        for e in events
    ]
    frame = pl.DataFrame(
        rows, schema={k: pl.String for k in rows[0]} | {"schema_version": pl.Int64}
    )
    parquet = write_events(frame, folder / "zz-probe.parquet")
    # The session_id object becomes its JSON text in a Parquet string column: a valid session
    # id (and keyed like any other).
    expected_pq = {**expected_pq, "wrong_type": 1, "loaded": expected_pq["loaded"] + 1}
    return {
        ndjson.name: {**expected, "malformed_json": 1, "not_an_object": 1},
        parquet.name: expected_pq,
    }


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    """A small simulation in a folder named with a quote, plus the probe files."""
    out = tmp_path_factory.mktemp("door") / "o'brien-drop"
    simulate(
        learners=40, courses=8, days=3, seed=11, out=out, fmt="ndjson", start="2026-02-02",
        bad_share=0.02,
    )  # fmt: skip
    return out


def test_nothing_personal_past_the_door(landing, pathwise_home, prefect_harness):
    expected = write_probe(landing / "events")
    result = ingest_flow([str(landing)])
    assert result["reconciled"]
    assert result["totals"]["undeclared_dropped"] >= 4  # two per probe file, below
    assert "undeclared properties dropped from" in render_summary(result)
    probes = {Path(b["source_file"]).name: b for b in result["batches"]}
    for name, want in expected.items():
        batch = probes[name]
        assert batch["loaded"] == want["loaded"], name
        got = {r: n for r, n in batch["reasons"].items()}
        assert got == {r: n for r, n in want.items() if r != "loaded"}, name
        # The course_view and the search carried undeclared properties; both were stored.
        assert batch["undeclared_dropped"] == 2, name
    build = build_flow(select="staging")
    assert build["failures"] == []

    key = get_settings().pseudonym_key.get_secret_value()
    with connect(read_only=True) as con:
        sessions = {r[0] for r in con.execute("select session_id from raw.events").fetchall()}
        stored = dict(
            con.execute(
                "select event_type, properties from raw.events where event_id = 'probe-n1' "
                "or event_id = 'probe-n2'"
            ).fetchall()
        )
        hits = scan_warehouse(con)
    # The scanners do find the secrets where they legitimately are: the landing files, the vault.
    assert {h.rsplit(": ", 1)[1] for h in scan_files(landing)} == set(SECRETS)
    with connect(vault=True, read_only=True) as con:
        assert "main.identities.user_id" in scan_warehouse(con, "vault")
    assert session_key(SESSION, key) in sessions
    assert stored == {
        "course_view": "{}",
        "search": '{"query":"mail [email] or call [phone] from [ip]","results_count":1}',
    }
    assert hits == []
    assert scan_files(get_settings().home) == []


def scan_warehouse(con, catalog: str = "warehouse") -> list[str]:
    """`schema.table.column` of every column of every table and view holding a secret."""
    pattern = "|".join(s.replace(".", r"\.").replace("+", r"\+") for s in SECRETS)
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = $c",
        {"c": catalog},
    ).fetchall()
    hits = []
    for schema, table, column in columns:
        n = con.execute(
            f'select count(*) from "{catalog}"."{schema}"."{table}" '
            f"where regexp_matches(\"{column}\"::varchar, $p, 'i')",
            {"p": pattern},
        ).fetchall()[0][0]
        if n:
            hits.append(f"{schema}.{table}.{column}")
    return hits


def scan_files(folder: Path) -> list[str]:
    """Files under `folder` (but the vault, where identities belong) holding a secret's bytes."""
    vault = get_settings().vault_path.name
    hits = []
    for path in folder.rglob("*"):
        if not path.is_file() or path.name.startswith(vault):
            continue
        data = path.read_bytes().lower()
        hits += [f"{path}: {s}" for s in SECRETS if s.lower().encode() in data]
    return hits


def test_undeclared_properties_can_quarantine(pathwise_home, monkeypatch, tmp_path):
    monkeypatch.setenv("PATHWISE_UNDECLARED_PROPERTIES", "quarantine")
    get_settings.cache_clear()
    lines = [
        json.dumps(ev("1", "course_view", {"full_name": NAME})),
        json.dumps(ev("2", "rating", {"stars": 4, "phone": PHONE})),
        json.dumps(ev("3", "rating", {"stars": 9, "phone": PHONE})),  # invalid first
        json.dumps(ev("4", "course_view", {})),
    ]
    result = ingest_file(write_lines(lines, tmp_path / "o'q.ndjson"))
    assert (result.received, result.loaded, result.quarantined) == (4, 1, 3)
    assert result.reasons == {"undeclared_property": 2, "invalid_property": 1}
    assert result.undeclared_dropped == 0
    with connect(read_only=True) as con:
        rows = con.execute(
            "select line_no, detail, payload_redacted from raw.quarantined_events order by 1"
        ).fetchall()
        dropped = con.execute("select undeclared_dropped from raw.ingest_batches").fetchall()
    assert [(n, d) for n, d, _ in rows] == [(1, "full_name"), (2, "phone"), (3, "stars")]
    assert dropped == [(0,)]
    copy = json.loads(rows[1][2])  # the names of undeclared properties, never their values
    assert copy["undeclared_properties"] == ["phone"] and PHONE not in rows[1][2]
    assert copy["properties"] == {"stars": 4}


def test_dbt_accepts_every_quarantine_reason():
    sources = DBT_PROJECT_DIR / "models" / "staging" / "pathwise" / "_pathwise__sources.yml"
    tables = yaml.safe_load(sources.read_text())["sources"][0]["tables"]
    table = next(t for t in tables if t["name"] == "quarantined_events")
    column = next(c for c in table["columns"] if c["name"] == "reason")
    accepted = next(t for t in column["data_tests"] if isinstance(t, dict))["accepted_values"]
    assert accepted["arguments"]["values"] == list(REASONS)


def test_served_log_keeps_surfaces_to_the_list_and_paths_may_hold_quotes(tmp_path, monkeypatch):
    """The read API's log reaches the warehouse with a surface from the contract's list only
    (free text becomes `other`); a PATHWISE_HOME whose name has a quote works throughout."""
    from pathwise.contract import SURFACES
    from pathwise.served_log import load_closed_files

    monkeypatch.setenv("PATHWISE_HOME", str(tmp_path / "o'brien-home"))
    monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", "")
    get_settings.cache_clear()
    try:
        log = get_settings().rec_log_dir
        log.mkdir(parents=True)
        item = {"rec_id": "r-1", "course_id": "c1", "rank": 1, "score": 0.5, "boost": 0.0,
                "reason": "x", "format_first": None}  # fmt: skip
        responses = [
            {"response_id": f"r{i}", "served_at": "2026-01-05T10:00:00Z", "learner_key": "lk",
             "surface": surface, "cold_start": False, "snapshot_version": "v1",
             "model_version": "m1", "controls_applied": [], "items": [{**item, "rec_id": f"r{i}-1"}]}
            for i, surface in enumerate(["home", f"{NAME} {EMAIL}"])
        ]  # fmt: skip
        (log / "served-2026-01-05-10.ndjson").write_text(
            "".join(json.dumps(r) + "\n" for r in responses)
        )
        with connect() as con:
            assert load_closed_files(con)["items"] == 2
            surfaces = con.execute(
                "select surface from raw.served_recommendations order by rec_id"
            ).fetchall()
        assert surfaces == [("home",), ("other",)]
        assert "other" in SURFACES
    finally:
        get_settings.cache_clear()
