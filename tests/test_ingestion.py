"""Ingestion on hand-made files whose right outcome is known line by line."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pathwise.events_io import write_events, write_lines
from pathwise.ingestion import ingest_file
from pathwise.privacy import pseudonym
from pathwise.settings import get_settings
from pathwise.warehouse import connect, open_connection

USER = "usr_00000000a1"
OTHER = "usr_00000000b2"


def event(n: int, event_type: str, properties: dict, **envelope) -> dict:
    e = {
        "event_id": f"ev-{n}",
        "event_type": event_type,
        "occurred_at": f"2026-01-05T10:{n % 60:02d}:00Z",
        "user_id": USER,
        "session_id": "s1",
        "course_id": "C1",
        "module_id": "C1-M1",
        "schema_version": 1,
        "properties": properties,
        "context": {"email": "ada@example.org", "ip": "203.0.113.9", "locale": "en"},
    }
    e.update(envelope)
    return e


def line(e: dict) -> str:
    return json.dumps(e)


# (line, expected fate) — fate is "loaded", "duplicate", "consent_dropped", "aggregated" or a
# quarantine reason. Lines are numbered from 1 in file order.
CASES: list[tuple[str, str]] = [
    (line(event(1, "enroll", {})), "loaded"),
    (line(event(2, "quiz_submit", {"quiz_id": "q1", "score": 0.5, "attempt": 1})), "loaded"),
    (line(event(2, "quiz_submit", {"quiz_id": "q1", "score": 0.5, "attempt": 1})), "duplicate"),
    (
        line(event(2, "quiz_submit", {"quiz_id": "q1", "score": 0.9, "attempt": 1})),
        "duplicate_conflict",
    ),
    (
        '{"event_id": "ev-3", "event_type": "enroll", "user_id": "usr_00000000a1", "occ',
        "malformed_json",
    ),
    ("[1, 2, 3]", "not_an_object"),
    (line({k: v for k, v in event(4, "enroll", {}).items() if k != "user_id"}), "missing_field"),
    (line(event(5, "enroll", {}, occurred_at=1767607200)), "wrong_type"),
    (line(event(6, "quiz_submit", {"quiz_id": "q1", "score": "high", "attempt": 1})), "wrong_type"),
    (
        line(event(7, "quiz_submit", {"quiz_id": "q1", "score": 1.5, "attempt": 1})),
        "invalid_property",
    ),
    (line(event(8, "quiz_submit", {"score": 0.5, "attempt": 1})), "missing_property"),
    (line(event(9, "teleport", {})), "unknown_event_type"),
    (line(event(10, "enroll", {}, schema_version=99)), "unsupported_schema_version"),
    (line(event(11, "enroll", {}, occurred_at="2026-01-05 10:00:00")), "invalid_timestamp"),
    (line(event(12, "enroll", {}, occurred_at="2099-01-01T00:00:00Z")), "future_timestamp"),
    (line(event(13, "enroll", {}, course_id=None)), "missing_scope"),
    (line(event(14, "forum_post", {"thread_id": "t", "text": "x" * 20_000})), "oversized"),
    (line(event(15, "rating", {"stars": 6})), "invalid_property"),
    (
        line(
            event(
                16,
                "search",
                {"query": "call +44 20 7946 0958 or ada@example.org", "results_count": 0},
            )
        ),
        "loaded",
    ),
    # Fine-tier: dropped before the grant, aggregated after it, dropped after the withdrawal.
    (
        line(
            event(17, "video_seek", {"from_s": 100, "to_s": 40}, occurred_at="2026-01-05T11:00:00Z")
        ),
        "consent_dropped",
    ),
    (
        line(
            event(
                18,
                "consent_changed",
                {"tier": "fine", "granted": True},
                occurred_at="2026-01-05T12:00:00Z",
            )
        ),
        "loaded",
    ),
    (
        line(
            event(19, "video_seek", {"from_s": 100, "to_s": 40}, occurred_at="2026-01-05T13:00:00Z")
        ),
        "aggregated",
    ),
    (
        line(
            event(20, "video_seek", {"from_s": 10, "to_s": 70}, occurred_at="2026-01-05T13:05:00Z")
        ),
        "aggregated",
    ),
    (
        line(event(21, "video_pause", {"position_s": 70}, occurred_at="2026-01-05T13:06:00Z")),
        "aggregated",
    ),
    (
        line(
            event(
                22,
                "consent_changed",
                {"tier": "fine", "granted": False},
                occurred_at="2026-01-05T14:00:00Z",
            )
        ),
        "loaded",
    ),
    (
        line(event(23, "video_pause", {"position_s": 5}, occurred_at="2026-01-05T15:00:00Z")),
        "consent_dropped",
    ),
    (line(event(24, "video_pause", {"position_s": 5}, user_id=OTHER)), "consent_dropped"),
    ("", "blank"),  # a blank line is no event: not received, but line numbers stay right
    (line(event(25, "enroll", {}, user_id=OTHER, context=None)), "loaded"),
]


@pytest.fixture
def case_file(tmp_path: Path) -> Path:
    return write_lines([c[0] for c in CASES], tmp_path / "cases.ndjson.gz")


def expected_counts() -> dict[str, int]:
    fates = [f for _, f in CASES if f != "blank"]
    simple = ("loaded", "duplicate", "consent_dropped", "aggregated")
    return {
        "received": len(fates),
        "loaded": sum(f in ("loaded", "aggregated") for f in fates),
        "aggregated": fates.count("aggregated"),
        "duplicates": fates.count("duplicate"),
        "consent_dropped": fates.count("consent_dropped"),
        "quarantined": sum(f not in simple for f in fates),
    }


def test_every_line_gets_its_fate(pathwise_home, case_file):
    result = ingest_file(case_file)
    assert result.status == "loaded"
    for key, n in expected_counts().items():
        assert getattr(result, key) == n, key
    with connect(read_only=True) as con:
        got = dict(con.execute("select line_no, reason from raw.quarantined_events").fetchall())
        # Rows with a valid envelope rejected later (properties, conflicts) keep their type too.
        untyped = con.execute(
            "select reason from raw.quarantined_events where event_type is null and reason in "
            "('missing_property', 'invalid_property', 'duplicate_conflict')"
        ).fetchall()
        batch = con.execute(
            "select received, loaded, duplicates, quarantined, consent_dropped from raw.ingest_batches"
        ).fetchall()
        fine = con.execute(
            "select seeks, rewinds, skips, pauses, rewind_seconds, skip_seconds from raw.fine_signals_daily"
        ).fetchall()
        stored = {r[0] for r in con.execute("select event_id from raw.events").fetchall()}
    want = {
        i + 1: fate
        for i, (_, fate) in enumerate(CASES)
        if fate not in ("loaded", "duplicate", "consent_dropped", "aggregated", "blank")
    }
    assert got == want
    r = batch[0]
    assert r[0] == r[1] + r[2] + r[3] + r[4]
    # One rewind (100 -> 40), one skip (10 -> 70), one pause: all after the grant, same day.
    assert fine == [(2, 1, 1, 1, 60.0, 60.0)]
    assert {"ev-1", "ev-2", "ev-16", "ev-18", "ev-22", "ev-25"} == stored
    # The step timings account for the whole batch, in the order the steps ran.
    assert list(result.steps) == [
        "file sha256", "open", "read", "check", "properties", "pseudonyms", "duplicates",
        "consent", "quarantine", "write", "close",
    ]  # fmt: skip
    assert sum(result.steps.values()) == pytest.approx(result.seconds, abs=0.05)
    assert {"invalid_property", "duplicate_conflict"} <= set(got.values())
    assert untyped == []


def test_personal_data_stays_out(pathwise_home, case_file):
    ingest_file(case_file)
    key = get_settings().pseudonym_key.get_secret_value()
    with connect(read_only=True) as con:
        dump = con.execute(
            "select string_agg(x, ' ') from ("
            " select concat_ws(' ', learner_key, properties) as x from raw.events"
            " union all select concat_ws(' ', learner_key, payload_redacted, detail, event_id) "
            " from raw.quarantined_events)"
        ).fetchall()[0][0]
        keys = {r[0] for r in con.execute("select distinct learner_key from raw.events").fetchall()}
        query = con.execute(
            "select properties->>'query' from raw.events where event_type = 'search'"
        ).fetchall()[0][0]
    for secret in (USER, OTHER, "ada@example.org", "203.0.113.9", "7946 0958"):
        assert secret not in dump
    assert keys == {pseudonym(USER, key), pseudonym(OTHER, key)}
    assert query == "call [phone] or [email]"
    # The originals are kept, but only in the vault, beside the identity mapping.
    with connect(vault=True, read_only=True) as con:
        originals = con.execute("select count(*) from vault.quarantine_originals").fetchall()[0][0]
        ids = dict(con.execute("select user_id, learner_key from vault.identities").fetchall())
    assert originals == expected_counts()["quarantined"]
    assert ids == {USER: pseudonym(USER, key), OTHER: pseudonym(OTHER, key)}


def test_reingesting_changes_nothing(pathwise_home, case_file, tmp_path):
    ingest_file(case_file)
    again = ingest_file(case_file)
    assert again.status == "skipped"
    # Same events in another file: all duplicates, none stored twice.
    copy = write_lines([c[0] for c in CASES] + [""], tmp_path / "copy.ndjson")
    result = ingest_file(copy)
    with connect(read_only=True) as con:
        n = con.execute("select count(*), count(distinct event_id) from raw.events").fetchall()[0]
    assert n[0] == n[1] == 6
    assert result.loaded == 0
    assert result.duplicates == expected_counts()["loaded"] + expected_counts()["duplicates"]


def test_parquet_rows_are_checked_like_lines(pathwise_home, tmp_path):
    good = event(1, "rating", {"stars": 4, "comment": "mail me: ada@example.org"})
    bad_json = event(2, "rating", {})
    rows = []
    for e in (good, bad_json, event(3, "rating", {"stars": 0})):
        rows.append(
            {
                **{k: e[k] for k in e if k not in ("properties", "context")},
                "properties": json.dumps(e["properties"]),
                "context": json.dumps(e["context"]),
            }
        )
    rows[1]["properties"] = '{"stars": 4'  # malformed JSON inside a Parquet value
    import polars as pl

    path = write_events(pl.DataFrame(rows), tmp_path / "events.parquet")
    result = ingest_file(path)
    assert (result.received, result.loaded, result.quarantined) == (3, 1, 2)
    with connect(read_only=True) as con:
        reasons = con.execute(
            "select line_no, reason from raw.quarantined_events order by 1"
        ).fetchall()
        comment = con.execute("select properties->>'comment' from raw.events").fetchall()[0][0]
    assert reasons == [(2, "malformed_json"), (3, "invalid_property")]
    assert comment == "mail me: [email]"
    # A row rejected for its properties keeps its whole envelope: in the warehouse's redacted
    # copy (no user_id) and in the vault's original.
    with connect(read_only=True) as con:
        kind, copy = con.execute(
            "select event_type, payload_redacted from raw.quarantined_events where line_no = 3"
        ).fetchall()[0]
    with connect(vault=True, read_only=True) as con:
        original = con.execute(
            "select payload from vault.quarantine_originals where line_no = 3"
        ).fetchall()[0][0]
    copy, original = json.loads(copy), json.loads(original)
    assert kind == copy["event_type"] == original["event_type"] == "rating"
    assert copy["occurred_at"] == original["occurred_at"] == rows[2]["occurred_at"]
    assert original["user_id"] == USER and "user_id" not in copy


def test_parquet_column_types_decide_the_type_checks(pathwise_home, tmp_path):
    """A typed Parquet column skips per-row type checks, so its type itself must be judged:
    integer user ids are the wrong type, an absent column is a missing field on every row, and
    a zoned timestamp column is a valid occurred_at."""
    from datetime import UTC, datetime

    import polars as pl

    frame = pl.DataFrame(
        {
            "event_id": ["e0", "e1", "e2"],
            "event_type": "course_view",
            "occurred_at": datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
            "user_id": [7, None, 9],
            "session_id": "s1",
            "course_id": "c1",
            "schema_version": 1,
            "properties": "{}",
        }
    )
    typed, no_version = tmp_path / "int-user-ids.parquet", tmp_path / "no-version.parquet"
    frame.write_parquet(typed)
    frame.with_columns(user_id=pl.lit("u1")).drop("schema_version").write_parquet(no_version)
    first, second = ingest_file(typed), ingest_file(no_version)
    assert (first.received, first.loaded) == (3, 0)
    assert first.reasons == {"wrong_type": 2, "missing_field": 1}
    assert (second.received, second.loaded, second.reasons) == (3, 0, {"missing_field": 3})
    with connect(read_only=True) as con:
        details = con.execute(
            "select detail, count(*) from raw.quarantined_events group by 1 order by 1"
        ).fetchall()
    assert details == [("schema_version", 3), ("user_id", 3)]
    # and the same rows, fixed, load: the zoned timestamp column is accepted as it is
    fixed = tmp_path / "fixed.parquet"
    frame.with_columns(user_id=pl.lit("u1"), event_id=pl.Series(["f0", "f1", "f2"])).write_parquet(
        fixed
    )
    assert ingest_file(fixed).loaded == 3


def test_encrypted_warehouse_needs_the_key(pathwise_home, case_file, monkeypatch):
    monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", "correct horse battery staple")
    monkeypatch.setenv("PATHWISE_VAULT_KEY", "the vault's own, other secret")
    get_settings.cache_clear()
    result = ingest_file(case_file)
    assert result.loaded == expected_counts()["loaded"]
    s = get_settings()
    for path in (s.warehouse_path, s.vault_path):
        with pytest.raises(duckdb.Error, match="encrypted"):
            duckdb.connect(str(path), read_only=True)
        assert b"ada@example.org" not in path.read_bytes()
    with connect(read_only=True) as con:
        assert con.execute("select count(*) from raw.events").fetchall()[0][0] == 6
    with connect(vault=True, read_only=True) as con:
        assert con.execute("select count(*) from vault.identities").fetchall()[0][0] > 0
    # The warehouse key never opens the vault, and the error says which key to set.
    monkeypatch.setenv("PATHWISE_VAULT_KEY", "correct horse battery staple")
    get_settings.cache_clear()
    with pytest.raises(duckdb.Error, match="set PATHWISE_VAULT_KEY"):
        open_connection(vault=True, read_only=True)
