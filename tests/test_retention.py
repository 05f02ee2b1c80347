"""Retention (PATHWISE_RETENTION_MONTHS = 24): the nightly purge on 30 months of simulated events.

The simulator writes three windows of days: 30 months ago (all purged), around the cutoff (the
file of the cutoff day also carries re-sent events of the day before: rewritten, not deleted)
and last week (all kept); one window as Parquet, two as NDJSON, with 1% bad input (quarantined,
originals in the vault). Two served-log files (one before the cutoff) and an old sign-in audit row
join them. A first nightly run without retention publishes twice (so a superseded snapshot holds
old rows), then the nightly run with retention. Then, by scanning every store, not counting:

- nothing dated before the cutoff remains: raw events and their daily aggregates, quarantine
  copies in the warehouse and originals in the vault, landing lines and files, served-log files
  and rows, snapshots, staging/intermediate/marts and ML rows, sign-in audit rows;
- everything after the cutoff is still there, and per store before = purged + kept;
- the build that follows is a full refresh of the retained raw data (an incremental one would
  keep aggregates of purged events);
- a second purge deletes nothing; the dry run counted what went; each run is audited.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cli import app
from flows.nightly import nightly_flow
from pathwise import served_log, snapshots
from pathwise.accounts import UserStore
from pathwise.at_rest import private_dir
from pathwise.rights import retention
from pathwise.rights.stores import OCCURRED_AT, STORES, oldest_retained
from pathwise.settings import get_settings
from pathwise.sources.simulator import simulate
from pathwise.warehouse import connect

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

RAW = {  # raw tables and the column that dates a row
    "raw.events": "occurred_at",
    "raw.event_ids": "occurred_at",
    "raw.fine_signals_daily": "activity_date",
    "raw.served_recommendations": "served_at",
}
BUILT = ("staging", "intermediate", "marts")


def _time(text: object) -> datetime | None:
    """An event's occurred_at as naive UTC, or None when it is no readable time."""
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _line_time(line: bytes) -> datetime | None:
    """A line's occurred_at; a malformed line's is found in its text, as the purge reads it."""
    try:
        row = json.loads(line)
    except ValueError:
        found = re.search(OCCURRED_AT.encode(), line)
        return _time(found[1].decode()) if found else None
    return _time(row.get("occurred_at")) if isinstance(row, dict) else None


def landing_lines(home: Path) -> list[tuple[str, datetime | None]]:
    """(file, occurred_at) of every event line or row of every landing file."""
    found = []
    for path in sorted((home / "landing").rglob("events-*")):
        if path.suffix == ".parquet":
            con = duckdb.connect()
            rows = con.execute(
                "select timezone('UTC', try_cast(occurred_at as timestamptz)) "
                "from read_parquet($p)",
                {"p": str(path)},
            ).fetchall()
            con.close()
            found += [(path.name, r[0]) for r in rows]
        else:
            data = path.read_bytes()
            data = gzip.decompress(data) if path.name.endswith(".gz") else data
            found += [(path.name, _line_time(ln)) for ln in data.splitlines() if ln.strip()]
    return found


def originals(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, datetime | None]]:
    """(batch, line, occurred_at as sent) of every quarantined original in the vault."""
    rows = con.execute("select batch_id, line_no, payload from vault.quarantine_originals")
    return [(b, n, _line_time(payload.encode())) for b, n, payload in rows.fetchall()]


def dated_columns(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[tuple]:
    """(schema, table, column, type) of every date or time column of a base table with learner
    rows."""
    return con.execute(
        """
        select c.table_schema, c.table_name, c.column_name, c.data_type
        from information_schema.columns c
        join information_schema.tables t using (table_catalog, table_schema, table_name)
        where c.table_catalog = 'warehouse' and t.table_type = 'BASE TABLE'
          and c.table_schema in ? and (c.data_type = 'DATE' or c.data_type like 'TIMESTAMP%')
          and (c.table_schema, c.table_name) in (
              select (table_schema, table_name) from information_schema.columns
              where table_catalog = 'warehouse' and column_name = 'learner_key')
        order by all
        """,
        [list(schemas)],
    ).fetchall()


def inventory(home: Path, cutoff: datetime) -> dict:
    """Everything the purge judges, read from the stores themselves."""
    s = get_settings()
    with connect(vault=True, read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        raw = {
            t: con.execute(
                f"select count(*) filter ({c} < $cutoff), count(*) from warehouse.{t}",
                {"cutoff": cutoff},
            ).fetchall()[0]
            for t, c in RAW.items()
        }
        kept_events = {
            r[0]
            for r in con.execute(
                "select event_id from warehouse.raw.events where occurred_at >= $cutoff",
                {"cutoff": cutoff},
            ).fetchall()
        }
        quarantine = con.execute(
            "select batch_id, line_no, quarantined_at from warehouse.raw.quarantined_events"
        ).fetchall()
        sent = originals(con)
        # A date may name a week or a month (`enrolment_month`): old only if the whole period is.
        derived = {
            f"{schema}.{table}.{col}": con.execute(
                f'select count(*) from warehouse."{schema}"."{table}" where "{col}" < $oldest',
                {"oldest": oldest_retained(kind, cutoff)},
            ).fetchall()[0][0]
            for schema, table, col, kind in dated_columns(con, (*BUILT, "ml"))
        }
        identities = con.execute("select count(*) from vault.identities").fetchall()[0][0]
    audit = sqlite3.connect(s.users_path)
    sign_ins = audit.execute("select at from sign_in_audit").fetchall()
    audit.close()
    return {
        "raw": raw,
        "kept_events": kept_events,
        "quarantine": quarantine,
        "originals": sent,
        "landing": landing_lines(home),
        "rec_log": sorted(p.name for p in s.rec_log_dir.glob("served-*.ndjson")),
        "snapshots": {v: snapshot_rows_before(v, cutoff) for v in snapshots.versions()},
        "derived": derived,
        "identities": identities,
        "sign_ins": [a for (a,) in sign_ins],
    }


def snapshot_rows_before(version: str, cutoff: datetime) -> int:
    """Rows dated before the cutoff in one published version, read from its Parquet files: every
    date and time column of every table (the purge judges learner tables; nothing may be older)."""
    found, con = 0, duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for path in sorted((get_settings().snapshots_dir / version).glob("*.parquet")):
        table = f"read_parquet('{path}')"
        for column, kind, *_ in con.execute(f"describe select * from {table}").fetchall():
            if kind == "DATE" or kind.startswith("TIMESTAMP"):
                # A period's start (skill_demand_weeks.week_start_at) names the whole period, as
                # a date does: the week holding the cutoff starts before it.
                week = column.endswith("_start_at")
                oldest = {
                    "oldest": cutoff - timedelta(days=7) if week else oldest_retained(kind, cutoff)
                }
                query = f'select count(*) from {table} where "{column}" < $oldest'
                found += con.execute(query, oldest).fetchall()[0][0]
    con.close()
    return found


def _response(rid: str, served_at: datetime, learner_key: str) -> bytes:
    item = {"rec_id": f"{rid}-1", "course_id": "C0002", "rank": 1, "score": 0.9, "boost": 0.0,
            "reason": "Because you took a course", "format_first": "video"}  # fmt: skip
    return json.dumps({
        "response_id": rid, "served_at": served_at.isoformat() + "+00:00",
        "learner_key": learner_key, "surface": "home", "cold_start": False,
        "snapshot_version": "v0", "model_version": "m", "controls_applied": [], "items": [item],
    }).encode()  # fmt: skip


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory):
    """The platform before and after the nightly run with retention (see the module docstring)."""
    home = tmp_path_factory.mktemp("retention") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        mp.setenv("PATHWISE_VAULT_KEY", "")
        get_settings.cache_clear()
        try:
            yield _run(home)
        finally:
            get_settings.cache_clear()


def _run(home: Path) -> dict:
    cutoff = build_platform(home)
    before = inventory(home, cutoff)
    dry = retention.purge(dry_run=True)
    result = nightly_flow(skip=["index"])
    after = inventory(home, cutoff)
    with connect(vault=True, read_only=True) as con:
        audits = con.execute(
            "select cutoff, deleted from vault.retention_audit order by finished_at"
        ).fetchall()
    return {"home": home, "cutoff": cutoff, "before": before, "after": after, "dry": dry,
            "result": result, "audits": audits}  # fmt: skip


def build_platform(home: Path) -> datetime:
    """The platform before retention (see the module docstring); returns the cutoff."""
    s = get_settings()
    assert s.retention_months == 24
    cutoff = retention.cutoff_for(24)
    today = datetime.now().date()
    windows = {  # source -> (first day, format)
        "old": (cutoff.date() - timedelta(days=183), "ndjson"),  # 30 months ago
        "edge": (cutoff.date() - timedelta(days=3), "parquet"),
        "recent": (today - timedelta(days=7), "ndjson"),
    }
    for i, (name, (first, fmt)) in enumerate(windows.items()):
        simulate(learners=90, courses=16, days=6, seed=11 + i, catalog_seed=11,
                 out=home / "landing" / name, fmt=fmt, start=first.isoformat(),
                 bad_share=0.01)  # fmt: skip
    log = private_dir(s.rec_log_dir)
    for when in (cutoff - timedelta(days=2), datetime.combine(today, datetime.min.time())):
        name = when.strftime("served-%Y-%m-%d-%H.ndjson")
        served_log.append(log / name, [_response(f"r-{when:%Y%m%d}", when, "lk-served")])
    users = UserStore()
    users.add("retention-learner", "a-test-password", "learner", learner_key="lk-served")
    users.authenticate("retention-learner", "a-test-password", client="198.51.100.23")
    db = sqlite3.connect(s.users_path)
    with db:
        db.execute(
            "insert into sign_in_audit values (?, 'retention-learner', 'signed_in', "
            "'203.0.113.9', null)",
            ((cutoff - timedelta(days=40)).isoformat(timespec="seconds") + "+00:00",),
        )
    db.close()

    nightly_flow(skip=["index", "retention"])
    with connect(read_only=True) as con:  # a second version: the first is now superseded
        snapshots.publish(con)
    return cutoff


def test_nothing_older_than_the_cutoff_remains(platform):
    before, after, cutoff = platform["before"], platform["after"], platform["cutoff"]
    # The platform held data on both sides of the cutoff, in every store the purge walks.
    assert all(old > 0 for t, (old, _) in before["raw"].items() if t != "raw.event_ids")
    assert any(w is not None and w < cutoff for *_, w in before["originals"])
    assert any(w is not None and w < cutoff for _, w in before["landing"])
    assert any(n < cutoff.strftime("served-%Y-%m-%d") for n in before["rec_log"])
    assert sum(before["snapshots"].values()) > 0
    assert any(a < cutoff.isoformat() for a in before["sign_ins"])

    assert all(old == 0 for old, _ in after["raw"].values()), after["raw"]
    assert all(w is None or w >= cutoff for *_, w in after["originals"])
    assert all(w is None or w >= cutoff for _, w in after["landing"])
    # Undated or future-dated lines stay with their file; no file of a day before the cutoff.
    assert all(f >= cutoff.strftime("events-%Y-%m-%d") for f, _ in after["landing"])
    assert all(n >= cutoff.strftime("served-%Y-%m-%d-%H") for n in after["rec_log"])
    assert all(a >= cutoff.isoformat() for a in after["sign_ins"])
    # Every quarantine copy left has its original, dated after the cutoff (or not dated).
    sent = {(b, n): w for b, n, w in after["originals"]}
    for batch, line, quarantined_at in after["quarantine"]:
        assert (batch, line) in sent
        assert (sent[(batch, line)] or quarantined_at) >= cutoff
    # Derived rows (staging, intermediate, marts, ML results) and every snapshot left.
    assert any(before["derived"].values())
    assert not any(after["derived"].values()), {k: v for k, v in after["derived"].items() if v}
    assert after["snapshots"] and not any(after["snapshots"].values())
    assert platform["result"]["snapshot"] == max(after["snapshots"])


def test_everything_after_the_cutoff_stays_and_counts_reconcile(platform):
    before, after, cutoff = platform["before"], platform["after"], platform["cutoff"]
    went = platform["result"]["retention"]
    assert after["kept_events"] == before["kept_events"] and after["kept_events"]
    assert all(after["raw"][t][1] == total - old for t, (old, total) in before["raw"].items())
    raw_before = sum(total for _, total in before["raw"].values()) + len(before["quarantine"])
    raw_after = sum(total for _, total in after["raw"].values()) + len(after["quarantine"])
    assert went["warehouse"] == raw_before - raw_after > 0
    assert went["vault.quarantine_originals"] == len(before["originals"]) - len(after["originals"])
    assert went["landing"] == len(before["landing"]) - len(after["landing"]) > 0
    # Kept: the lines dated after the cutoff, and the undated ones of files still kept.
    first_day = platform["cutoff"].strftime("events-%Y-%m-%d")
    kept = [(f, w) for f, w in before["landing"] if f >= first_day and not (w and w < cutoff)]
    assert sorted(after["landing"], key=str) == sorted(kept, key=str)
    assert went["rec_log"] == len(before["rec_log"]) - len(after["rec_log"]) == 1
    # the two versions before, one published tonight
    assert went["snapshots"] == len(before["snapshots"]) + 1 - len(after["snapshots"]) == 2
    assert went["accounts"] == len(before["sign_ins"]) - len(after["sign_ins"]) == 1
    assert went["vault.identities"] == before["identities"] - after["identities"] > 0
    # The dry run counted what went (the snapshots it could not yet count: tonight's supersedes)
    dry = platform["dry"].deleted
    assert {k: v for k, v in dry.items() if k != "snapshots"} == {
        k: v for k, v in went.items() if k != "snapshots"
    }


def test_the_build_after_a_purge_is_a_full_refresh(platform):
    """Incremental models keep aggregates of purged events (an incremental build after a purge
    left 54 of 63 tables different from a full refresh), so the nightly rebuilds from scratch when
    raw rows went: what it built is, by construction, a full refresh of the retained data."""
    build = platform["result"]["steps"]["build"]
    assert platform["result"]["retention"]["warehouse"] > 0
    assert build["full_refresh"] is True and build["select"] is None
    assert build["failures"] == []
    with connect(read_only=True) as con:
        assert con.execute("select count(*) from marts.learners").fetchall()[0][0] > 0


def test_a_second_purge_deletes_nothing_and_every_run_is_audited(platform):
    again = retention.purge()
    assert set(again.deleted) == {st.name for st in STORES}
    assert not any(again.deleted.values()), again.deleted
    result = CliRunner().invoke(app, ["privacy", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "vault.quarantine_originals" in result.output and "would go" in result.output
    went = platform["result"]["retention"]
    audits = platform["audits"]
    # The first run's publish (snapshots only), then tonight's retention step and publish.
    assert len(audits) == 3
    assert all(cutoff == platform["cutoff"] for cutoff, _ in audits)
    logged = [json.loads(d) for _, d in audits[1:]]
    assert {k: logged[0].get(k, 0) + logged[1].get(k, 0) for k in went} == went
