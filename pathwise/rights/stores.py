"""The one registry of every store that holds learner data: what it holds, how a learner's rows are
found in it, and how they are erased and exported. Erasure and export walk `STORES` in order;
`tests/test_erasure.py` fails when a planted learner turns up in a table or file no store covers.

A store added later (goals, paths, an outbox...) joins here: one `Store` with its `erase`,
`export`, `purge` (how it is retained: what older than the cutoff it deletes, see
pathwise/rights/retention.py) and what it covers (`tables`, `paths`). A warehouse table with a `learner_key` column
joins by itself (dbt models, incremental ones included, and ML results).

Order matters for erasure: the vault's quarantined originals are found through the warehouse's
quarantine rows, so they go first; the snapshot is republished from the warehouse after the
warehouse rows are gone; the identity goes last, so an interrupted erasure can still resolve.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from pathwise import snapshots
from pathwise.accounts import UserStore
from pathwise.api_keys import KeyStore
from pathwise.at_rest import seal, unseal, write_private
from pathwise.ingestion import file_sha256
from pathwise.learning_paths import PathStore
from pathwise.outbox import Outbox
from pathwise.privacy import app_user_id
from pathwise.settings import Settings
from pathwise.validation import sql_literal
from pathwise.warehouse import table_exists

Rows = list[dict]


@dataclass(frozen=True)
class Subject:
    """The learner a request is about. `tombstone` is what stays after erasure (privacy.py)."""

    user_id: str
    learner_key: str
    tombstone: str


@dataclass
class Context:
    subject: Subject
    con: duckdb.DuckDBPyConnection  # warehouse and vault attached
    settings: Settings


@dataclass
class Expiry:
    """A retention run: every row, line or file dated before `cutoff` goes (retention.py)."""

    cutoff: datetime  # naive UTC, a midnight
    con: duckdb.DuckDBPyConnection  # warehouse and vault attached
    settings: Settings
    dry_run: bool = False  # count what would go, change nothing

    @property
    def horizon(self) -> datetime:
        """A line dated later than this (naive UTC) is no date: ingestion quarantines it too."""
        skew = timedelta(hours=self.settings.max_clock_skew_hours)
        return datetime.now(UTC).replace(tzinfo=None) + skew


@dataclass(frozen=True)
class Store:
    name: str
    holds: str  # what learner data it holds
    finds_by: str  # how one learner's rows are found
    erase: Callable[[Context], int]  # rows (or lines, files) deleted; idempotent
    export: Callable[[Context], dict[str, Rows]]  # table name -> the learner's rows
    purge: Callable[[Expiry], int]  # rows (lines, files) older than the cutoff deleted; idempotent
    # What it covers, for the registry test: (database, schema, table, columns) -> bool, and
    # the files under PATHWISE_HOME it owns.
    tables: Callable[[str, str, str, set[str]], bool] = lambda *_: False
    paths: Callable[[Settings], list[Path]] = lambda _: []


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> Rows:
    cur = con.execute(sql, params or {})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _expire(x: Expiry, relation: str, where: str) -> int:
    """Delete (or, in a dry run, count) the rows of `relation` matching `where` ($cutoff)."""
    verb = "select count(*) from" if x.dry_run else "delete from"
    return x.con.execute(f"{verb} {relation} where {where}", {"cutoff": x.cutoff}).fetchall()[0][0]


# ------------------------------------------------------------------ vault: quarantined originals
# A quarantined line is the learner's when the warehouse's copy of it carries their learner_key,
# or its original names their user_id (a malformed line is matched on the quoted id).
_ORIGINALS = """
    from vault.quarantine_originals as o
    where (o.batch_id, o.line_no) in (
              select batch_id, line_no from warehouse.raw.quarantined_events
              where learner_key = $lk)
       -- CASE: no JSON function ever sees a malformed payload, however the filter is ordered
       or case when json_valid(o.payload) then o.payload->>'user_id' = $uid
               else contains(o.payload, $quoted) end
"""


def _originals_params(ctx: Context) -> dict:
    s = ctx.subject
    return {"lk": s.learner_key, "uid": s.user_id, "quoted": json.dumps(s.user_id)}


def _erase_originals(ctx: Context) -> int:
    return ctx.con.execute(f"delete {_ORIGINALS}", _originals_params(ctx)).fetchall()[0][0]


def _export_originals(ctx: Context) -> dict[str, Rows]:
    rows = _rows(ctx.con, f"select o.* {_ORIGINALS}", _originals_params(ctx))
    return {"vault.quarantine_originals": rows}


# An event's occurred_at in its text (JSON or not): quarantine originals and landing lines.
OCCURRED_AT = r'"occurred_at"\s*:\s*"([^"]{1,64})"'


def _sent_at(payload: str, horizon: datetime) -> str:
    """SQL: when a quarantined line says it happened (its occurred_at, searched as text so a
    malformed line has one too), as naive UTC; null when it names no readable, believable time."""
    found = f"regexp_extract({payload}, {sql_literal(OCCURRED_AT)}, 1)"
    sent = f"timezone('UTC', try_cast({found} as timestamptz))"
    return f"case when {sent} <= timestamp '{horizon:%Y-%m-%d %H:%M:%S}' then {sent} end"


def _purge_originals(x: Expiry) -> int:
    """A quarantined line is dated by its occurred_at, else by when it was quarantined. The
    warehouse's copies go next: a copy whose original is gone was purged with it."""
    copy = (
        "(select max(q.quarantined_at) from warehouse.raw.quarantined_events as q "
        "where q.batch_id = o.batch_id and q.line_no = o.line_no)"
    )
    return _expire(
        x,
        "vault.quarantine_originals as o",
        f"coalesce({_sent_at('o.payload', x.horizon)}, {copy}) < $cutoff",
    )


# ------------------------------------------------------------------ warehouse: learner_key tables
def learner_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every base table of the warehouse with a learner_key column, as `schema.table`: raw
    events and their quarantine copies, the served log, staging, marts (incremental ones too)
    and ML results. Views hold no rows."""
    rows = con.execute(
        """
        select c.table_schema, c.table_name
        from information_schema.columns c
        join information_schema.tables t using (table_catalog, table_schema, table_name)
        where c.table_catalog = 'warehouse' and c.column_name = 'learner_key'
          and t.table_type = 'BASE TABLE'
        order by 1, 2
        """
    ).fetchall()
    return [f"{s}.{t}" for s, t in rows]


def _quoted(table: str) -> str:
    schema, name = table.split(".")
    return f'warehouse."{schema}"."{name}"'


def _erase_warehouse(ctx: Context) -> int:
    """One transaction: the marts never disagree with the events they were built from."""
    con, deleted = ctx.con, 0
    con.execute("begin")
    try:
        for table in learner_tables(con):
            deleted += con.execute(
                f"delete from {_quoted(table)} where learner_key = $lk",
                {"lk": ctx.subject.learner_key},
            ).fetchall()[0][0]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return deleted


# Raw tables and the column that dates their rows. Staging, intermediate and marts are derived
# from them: the build after a purge refreshes the incremental models fully (retention.py), and
# the nightly jobs rewrite the ML results from the marts.
_DATED = {
    "raw.events": "occurred_at",
    "raw.event_ids": "occurred_at",
    "raw.fine_signals_daily": "activity_date",
    "raw.served_recommendations": "served_at",
    "raw.served_recommendation_signals": "served_at",
}


# The cohort finder's members (agents/cohorts.py) are dated by their run; the agent itself keeps
# them only while a campaign may contact them (agents/campaign_sends.py).
_FOUND_BEFORE = """cohort_id in (select cohort_id from warehouse.agents.cohorts
                                where timezone('UTC', found_at) < $cutoff)"""


def _purge_warehouse(x: Expiry) -> int:
    """One transaction, as erasure. Quarantine copies go with their originals (purged first)."""
    con, deleted = x.con, 0
    con.execute("begin")
    try:
        for table, column in _DATED.items():
            deleted += _expire(x, _quoted(table), f"{column} < $cutoff")
        retained_original = f"""not exists (
            select 1 from vault.quarantine_originals as o
            where o.batch_id = q.batch_id and o.line_no = q.line_no
              and coalesce({_sent_at("o.payload", x.horizon)}, q.quarantined_at) >= $cutoff)"""
        deleted += _expire(x, "warehouse.raw.quarantined_events as q", retained_original)
        if table_exists(con, "agents", "cohort_members"):
            deleted += _expire(x, "warehouse.agents.cohort_members", _FOUND_BEFORE)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return deleted


def _export_warehouse(ctx: Context) -> dict[str, Rows]:
    return {
        f"warehouse.{table}": _rows(
            ctx.con,
            f"select * from {_quoted(table)} where learner_key = $lk",
            {"lk": ctx.subject.learner_key},
        )
        for table in learner_tables(ctx.con)
    }


# ------------------------------------------------------------------ rec_log files
def _rec_log_files(s: Settings) -> list[Path]:
    return sorted(s.rec_log_dir.glob("served-*.ndjson")) if s.rec_log_dir.exists() else []


def _split_rec_log(ctx: Context, path: Path) -> tuple[list[bytes], list[bytes], bool]:
    """(kept records, the learner's responses, sealed?) of one log file. A record is one append:
    several JSON lines, sealed together when a key is set."""
    kept, theirs, sealed = [], [], False
    needle = ctx.subject.learner_key.encode()
    for record in path.read_bytes().splitlines():
        if not record.strip():
            continue
        plain = unseal(record, "rec_log", ctx.settings)
        sealed = sealed or plain != record.strip()
        if needle not in plain:
            kept.append(record)
            continue
        lines = plain.split(b"\n")
        mine = [ln for ln in lines if json.loads(ln).get("learner_key") == ctx.subject.learner_key]
        theirs += mine
        rest = [ln for ln in lines if ln not in mine]
        if rest:
            data = b"\n".join(rest)
            kept.append(seal(data, "rec_log", ctx.settings) if sealed else data)
    return kept, theirs, sealed


def _erase_rec_log(ctx: Context) -> int:
    deleted = 0
    for path in _rec_log_files(ctx.settings):
        kept, theirs, _ = _split_rec_log(ctx, path)
        if theirs:
            write_private(path, b"".join(r + b"\n" for r in kept))
            deleted += len(theirs)
    return deleted


def _purge_rec_log(x: Expiry) -> int:
    """Log files are hourly (`served-YYYY-MM-DD-HH`): files of hours before the cutoff go."""
    first_kept = x.cutoff.strftime("served-%Y-%m-%d-%H.ndjson")
    expired = [p for p in _rec_log_files(x.settings) if p.name < first_kept]
    for path in expired if not x.dry_run else ():
        path.unlink()
    return len(expired)


def _export_rec_log(ctx: Context) -> dict[str, Rows]:
    rows = []
    for path in _rec_log_files(ctx.settings):
        rows += [json.loads(ln) for ln in _split_rec_log(ctx, path)[1]]
    return {"rec_log": rows}


# ------------------------------------------------------------------ landing files
def landing_files(ctx: Context | Expiry) -> list[Path]:
    """Files under landing/ and every event file ingested from elsewhere (its path is in
    `raw.ingest_batches`)."""
    root = ctx.settings.landing_dir
    found = {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()
    sources = ctx.con.execute("select distinct source_file from warehouse.raw.ingest_batches")
    found |= {Path(r[0]) for r in sources.fetchall() if Path(r[0]).is_file()}
    return sorted(found)


_NDJSON = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz", ".json")


def landing_ids(ctx: Context) -> list[str]:
    """The user_ids a learner's landing lines carry: the platform's, and the one the app writes
    for them (`privacy.app_user_id`: the app knows them only by learner_key)."""
    key = ctx.settings.pseudonym_key.get_secret_value()
    return [ctx.subject.user_id, app_user_id(ctx.subject.learner_key, key)]


def _is_theirs(line: bytes, ids: list[str]) -> bool:
    try:
        row = json.loads(line)
    except ValueError:
        return True  # a malformed line naming the id: theirs
    return not isinstance(row, dict) or row.get("user_id") in ids


def _their_lines(data: bytes, ids: list[str]) -> list[tuple[int, int]]:
    """(start, end) of the learner's lines in NDJSON text, newline included. Only lines holding
    a quoted id are parsed: found with bytes.find, not by splitting a million lines."""
    spans = set()
    for needle in (json.dumps(i).encode() for i in ids):
        pos = 0
        while (hit := data.find(needle, pos)) >= 0:
            start = data.rfind(b"\n", 0, hit) + 1
            end = data.find(b"\n", hit)
            end = len(data) if end < 0 else end + 1
            if _is_theirs(data[start:end].strip(), ids):
                spans.add((start, end))
            pos = end
    return sorted(spans)


def _parquet_holds_user_id(ctx: Context, path: Path) -> bool:
    cols = ctx.con.execute("describe select * from read_parquet($p)", {"p": str(path)})
    return "user_id" in {r[0] for r in cols.fetchall()}


def _rewrite_parquet(ctx: Context, path: Path) -> int:
    """Rewrite a Parquet file without the learner's rows; returns rows removed."""
    params = {"p": str(path), "ids": landing_ids(ctx)}
    theirs = ctx.con.execute(
        "select count(*) from read_parquet($p) where list_contains($ids, user_id::varchar)", params
    ).fetchall()[0][0]
    if theirs:
        tmp = path.with_name(f".{path.name}.erasing")
        ctx.con.execute(
            "copy (select * from read_parquet($p) "
            "where not coalesce(list_contains($ids, user_id::varchar), false)) "
            "to $tmp (format parquet, compression zstd)",
            {**params, "tmp": str(tmp)},
        )
        _replace(tmp, path)
    return theirs


def _replace(tmp: Path, path: Path) -> None:
    os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def _read_text(path: Path) -> tuple[bytes, bytes]:
    """(bytes on disk, NDJSON text) of a landing file."""
    raw = path.read_bytes()
    return raw, gzip.decompress(raw) if path.name.endswith(".gz") else raw


def _erase_landing(ctx: Context) -> int:
    deleted = 0
    for path in landing_files(ctx):
        name = path.name.lower()
        if name.endswith(".parquet") and _parquet_holds_user_id(ctx, path):
            old_sha = file_sha256(path)
            if n := _rewrite_parquet(ctx, path):
                _alias_batch(ctx.con, old_sha, file_sha256(path), path)
                deleted += n
        elif name.endswith(_NDJSON):
            raw, data = _read_text(path)
            spans = _their_lines(data, landing_ids(ctx))
            if spans:
                _rewrite_without(ctx.con, path, raw, data, spans)
                deleted += len(spans)
    return deleted


def _rewrite_without(
    con: duckdb.DuckDBPyConnection, path: Path, raw: bytes, data: bytes, spans: list
) -> None:
    """Rewrite an NDJSON landing file without the (start, end) spans of its text."""
    kept, pos = [], 0
    for start, end in spans:
        kept.append(data[pos:start])
        pos = end
    kept.append(data[pos:])
    new = b"".join(kept)
    if path.name.lower().endswith(".gz"):  # level 1: a third of level 6's time, for landing
        new = gzip.compress(new, compresslevel=1, mtime=0)
    tmp = path.with_name(f".{path.name}.erasing")
    tmp.write_bytes(new)
    _replace(tmp, path)
    _alias_batch(con, _sha256(raw), _sha256(new), path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _alias_batch(con: duckdb.DuckDBPyConnection, old: str, new: str, path: Path) -> None:
    """The rewritten file is the batch that was loaded, minus the erased learner: its new bytes
    are marked loaded (a row of zeros), so the next ingest skips it instead of loading its other
    events twice. The old batch row stays: the old file, if it comes back, is skipped too."""
    con.execute(
        """
        insert into warehouse.raw.ingest_batches
            (batch_id, source_file, source_format, received, loaded, aggregated, duplicates,
             quarantined, consent_dropped, started_at, finished_at, contract_version)
        select $new, source_file, source_format, 0, 0, 0, 0, 0, 0, $now, $now, contract_version
        from warehouse.raw.ingest_batches where batch_id = $old
        on conflict do nothing
        """,
        {"old": old, "new": new, "now": datetime.now(UTC).replace(tzinfo=None)},
    )


_OCCURRED_AT = re.compile(OCCURRED_AT.encode())


def _utc(text: bytes) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.decode())
    except ValueError:
        return None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _expired_lines(data: bytes, x: Expiry) -> tuple[list[tuple[int, int]], int]:
    """(start, end) of the NDJSON lines dated before the cutoff, and how many lines are dated
    (a line with no readable, believable occurred_at stays with its file)."""
    spans, dated, line, horizon = [], 0, -1, x.horizon
    for found in _OCCURRED_AT.finditer(data):
        start = data.rfind(b"\n", 0, found.start()) + 1
        when = None if start == line else _utc(found[1])
        if when is None or when > horizon:
            continue
        line, dated = start, dated + 1
        if when < x.cutoff:
            end = data.find(b"\n", found.end())
            spans.append((start, len(data) if end < 0 else end + 1))
    return spans, dated


def _purge_ndjson(x: Expiry, path: Path) -> int:
    raw, data = _read_text(path)
    spans, dated = _expired_lines(data, x)
    if spans and len(spans) == dated:  # nothing in it is retained: the whole file goes
        lines = sum(1 for ln in data.split(b"\n") if ln.strip())
        if not x.dry_run:
            path.unlink()
        return lines
    if spans and not x.dry_run:
        _rewrite_without(x.con, path, raw, data, spans)
    return len(spans)


def _purge_parquet(x: Expiry, path: Path) -> int:
    cols = x.con.execute("describe select * from read_parquet($p)", {"p": str(path)})
    if "occurred_at" not in {r[0] for r in cols.fetchall()}:
        return 0
    when = "timezone('UTC', try_cast(occurred_at as timestamptz))"
    params = {"p": str(path), "cutoff": x.cutoff}
    retained = f"not ({when} < $cutoff)"
    expired, dated_kept, rows = x.con.execute(
        f"select count(*) filter ({when} < $cutoff), count(*) filter ({retained} and {when} <= "
        f"$horizon), count(*) from read_parquet($p)",
        {**params, "horizon": x.horizon},
    ).fetchall()[0]
    if expired and not dated_kept:  # nothing dated in it is retained: the whole file goes
        if not x.dry_run:
            path.unlink()
        return rows
    if expired and not x.dry_run:
        old_sha, tmp = file_sha256(path), path.with_name(f".{path.name}.erasing")
        x.con.execute(
            f"copy (select * from read_parquet($p) where {retained} or {when} is null) "
            "to $tmp (format parquet, compression zstd)",
            {**params, "tmp": str(tmp)},
        )
        _replace(tmp, path)
        _alias_batch(x.con, old_sha, file_sha256(path), path)
    return expired


def _purge_landing(x: Expiry) -> int:
    """Event lines and rows dated before the cutoff; a file left with none is deleted, others
    are rewritten (and marked loaded, as after erasure). Catalog files hold no events."""
    deleted = 0
    for path in landing_files(x):
        name = path.name.lower()
        if name.endswith(".parquet"):
            deleted += _purge_parquet(x, path)
        elif name.endswith(_NDJSON):
            deleted += _purge_ndjson(x, path)
    return deleted


def _export_landing(ctx: Context) -> dict[str, Rows]:
    rows: Rows = []
    for path in landing_files(ctx):
        name = path.name.lower()
        if name.endswith(".parquet") and _parquet_holds_user_id(ctx, path):
            found = _rows(
                ctx.con,
                "select * from read_parquet($p) where list_contains($ids, user_id::varchar)",
                {"p": str(path), "ids": landing_ids(ctx)},
            )
            rows += [{"file": str(path), "event": r} for r in found]
        elif name.endswith(_NDJSON):
            data = _read_text(path)[1]
            for start, end in _their_lines(data, landing_ids(ctx)):
                rows.append({"file": str(path), "event": _parse_or_text(data[start:end])})
    return {"landing": rows}


def _parse_or_text(line: bytes) -> object:
    try:
        return json.loads(line)
    except ValueError:
        return line.decode(errors="replace")


# ------------------------------------------------------------------ snapshots
def _erase_snapshots(ctx: Context) -> int:
    """Publish again from the erased warehouse, then delete every other version holding the
    learner (rollback to them would serve the learner again). Returns versions deleted."""
    root = ctx.settings.snapshots_dir
    if not root.exists():
        return 0
    for stale in root.glob(".building-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if snapshots.versions():
        snapshots.publish(ctx.con)
    serving = snapshots.current()
    deleted = 0
    for version in snapshots.versions():
        if serving and version == serving.version:
            continue
        if _snapshot_holds(snapshots.Snapshot(version, root / version), ctx.subject.learner_key):
            shutil.rmtree(root / version)
            deleted += 1
    return deleted


def _snapshot_holds(snap: snapshots.Snapshot, learner_key: str) -> bool:
    con = snap.connect()
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.columns where column_name = 'learner_key'"
            ).fetchall()
        ]
        return any(
            con.execute(
                f'select count(*) from "{t}" where learner_key = $lk', {"lk": learner_key}
            ).fetchall()[0][0]
            for t in tables
        )
    finally:
        con.close()


def _purge_snapshots(x: Expiry) -> int:
    """Superseded versions holding a learner row dated before the cutoff (rollback to them would
    serve it again); the serving one is republished by the run that purged (retention.py)."""
    root, serving, deleted = x.settings.snapshots_dir, snapshots.current(), 0
    for version in snapshots.versions():
        if serving and version == serving.version:
            continue
        if _snapshot_dated_before(snapshots.Snapshot(version, root / version), x.cutoff):
            if not x.dry_run:
                shutil.rmtree(root / version)
            deleted += 1
    return deleted


def _snapshot_dated_before(snap: snapshots.Snapshot, cutoff: datetime) -> bool:
    """Whether a table of the snapshot with a learner_key holds a date or time before `cutoff`
    (a date naming a week or a month, as `enrolment_month` does, only if the whole period is)."""
    con = snap.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        columns = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_name in (select table_name from information_schema.columns "
            "where column_name = 'learner_key') and (data_type = 'DATE' or data_type like 'TIMESTAMP%')"
        ).fetchall()
        return any(
            con.execute(
                f'select count(*) from "{t}" where "{c}" < $cutoff',
                {"cutoff": oldest_retained(kind, cutoff)},
            ).fetchall()[0][0]
            for t, c, kind in columns
        )
    finally:
        con.close()


def oldest_retained(data_type: str, cutoff: datetime) -> datetime:
    """The oldest value a retained row may hold in a column of this type: a time, the cutoff;
    a date, the start of the week or month that holds the cutoff (a date may name a period)."""
    if data_type != "DATE":
        return cutoff
    return min(cutoff.replace(day=1), cutoff - timedelta(days=6))


# ------------------------------------------------------------------ accounts, API keys, identity
def _users(ctx: Context) -> UserStore:
    return UserStore(ctx.settings.users_path)


def _erase_accounts(ctx: Context) -> int:
    if not ctx.settings.users_path.exists():
        return 0
    return _users(ctx).forget_learner(ctx.subject.learner_key)


def _purge_accounts(x: Expiry) -> int:
    """Sign-in audit rows and failures (client addresses) before the cutoff; accounts stay."""
    if not x.settings.users_path.exists():
        return 0
    return UserStore(x.settings.users_path).forget_before(x.cutoff, dry_run=x.dry_run)


def _export_accounts(ctx: Context) -> dict[str, Rows]:
    if not ctx.settings.users_path.exists():
        return {}
    return _users(ctx).learner_records(ctx.subject.learner_key)


def _erase_api_keys(ctx: Context) -> int:
    return KeyStore(ctx.settings.api_keys_path).forget_learner(ctx.subject.learner_key)


def _export_api_keys(ctx: Context) -> dict[str, Rows]:
    keys = KeyStore(ctx.settings.api_keys_path).list()
    fields = ("key_id", "name", "role", "created_at", "revoked_at")
    rows = [
        {f: getattr(k, f, None) for f in fields}
        for k in keys
        if k.learner_key == ctx.subject.learner_key
    ]
    return {"api_keys": rows}


def _erase_outbox(ctx: Context) -> int:
    if not ctx.settings.outbox_path.exists():
        return 0
    return Outbox(ctx.settings.outbox_path).forget_learner(ctx.subject.learner_key)


def _export_outbox(ctx: Context) -> dict[str, Rows]:
    if not ctx.settings.outbox_path.exists():
        return {}
    return Outbox(ctx.settings.outbox_path).learner_records(ctx.subject.learner_key)


def _purge_outbox(x: Expiry) -> int:
    if not x.settings.outbox_path.exists():
        return 0
    return Outbox(x.settings.outbox_path).forget_before(x.cutoff, x.dry_run)


def _erase_learning_paths(ctx: Context) -> int:
    if not ctx.settings.learning_paths_path.exists():
        return 0
    with closing(PathStore(ctx.settings.learning_paths_path)) as store:
        return store.forget_learner(ctx.subject.learner_key)


def _export_learning_paths(ctx: Context) -> dict[str, Rows]:
    if not ctx.settings.learning_paths_path.exists():
        return {}
    with closing(PathStore(ctx.settings.learning_paths_path)) as store:
        return store.learner_records(ctx.subject.learner_key)


def _purge_learning_paths(x: Expiry) -> int:
    if not x.settings.learning_paths_path.exists():
        return 0
    with closing(PathStore(x.settings.learning_paths_path)) as store:
        return store.forget_before(x.cutoff, x.dry_run)


def _erase_contacts(ctx: Context) -> int:
    return ctx.con.execute(
        "delete from vault.contacts where learner_key = $lk", {"lk": ctx.subject.learner_key}
    ).fetchall()[0][0]


def _export_contacts(ctx: Context) -> dict[str, Rows]:
    from pathwise.contacts import lookup

    found = lookup(ctx.con, [ctx.subject.learner_key], ctx.settings)[ctx.subject.learner_key]
    rows = [{"email": found.email, "timezone": found.timezone}] if found.email else []
    return {"vault.contacts": rows}


def _erase_identity(ctx: Context) -> int:
    return ctx.con.execute(
        "delete from vault.identities where learner_key = $lk or user_id = $uid",
        {"lk": ctx.subject.learner_key, "uid": ctx.subject.user_id},
    ).fetchall()[0][0]


def _purge_identities(x: Expiry) -> int:
    """The user_id of a learner none of whose raw rows is retained (they come back with their
    next event); the other stores' purges went first."""
    retained = " union all ".join(
        f"select learner_key from {_quoted(t)} where {c} >= $cutoff"
        for t, c in _DATED.items()
        if t != "raw.event_ids"
    )
    return _expire(x, "vault.identities", f"learner_key not in ({retained})")


def _export_identity(ctx: Context) -> dict[str, Rows]:
    rows = _rows(
        ctx.con,
        "select * from vault.identities where learner_key = $lk",
        {"lk": ctx.subject.learner_key},
    )
    return {"vault.identities": rows}


# ------------------------------------------------------------------ the registry
STORES: tuple[Store, ...] = (
    Store(
        "vault.quarantine_originals",
        "quarantined events as sent: user_id, e-mail, IP, free text",
        "the learner_key of the warehouse's quarantine copy; else the user_id in the payload",
        _erase_originals,
        _export_originals,
        _purge_originals,
        tables=lambda db, schema, table, cols: (db, table) == ("vault", "quarantine_originals"),
    ),
    Store(
        "warehouse",
        "events, fine-signal aggregates, quarantine copies, the served log, staging, marts "
        "(incremental ones too) and ML results",
        "learner_key column (every base table that has one)",
        _erase_warehouse,
        _export_warehouse,
        _purge_warehouse,
        tables=lambda db, schema, table, cols: db == "warehouse" and "learner_key" in cols,
        paths=lambda s: [s.warehouse_path, s.warehouse_path.with_name("warehouse.duckdb.wal")],
    ),
    Store(
        "rec_log",
        "every shown list: learner_key, courses, reasons, contributions, weights, caller "
        "(sealed with a key)",
        "learner_key of each JSON line (each record unsealed in memory)",
        _erase_rec_log,
        _export_rec_log,
        _purge_rec_log,
        paths=lambda s: [s.rec_log_dir],
    ),
    Store(
        "landing",
        "platform files as sent: user_id, context (e-mail, IP), free text",
        "user_id of each line or row (a file scan)",
        _erase_landing,
        _export_landing,
        _purge_landing,
        paths=lambda s: [s.landing_dir],
    ),
    Store(
        "snapshots",
        "published copies of the marts and ML results",
        "learner_key column of each table; republished from the erased warehouse",
        _erase_snapshots,
        lambda ctx: {},  # copies of warehouse tables, exported from there
        _purge_snapshots,
        paths=lambda s: [s.snapshots_dir],
    ),
    Store(
        "accounts",
        "learner accounts (username, learner_key) and their sign-in audit",
        "learner_key column of `users`, then the username",
        _erase_accounts,
        _export_accounts,
        _purge_accounts,
        paths=lambda s: [s.users_path],
    ),
    Store(
        "api_keys",
        "API keys scoped to one learner",
        "learner_key of each key",
        _erase_api_keys,
        _export_api_keys,
        lambda x: 0,  # live credentials, not a record of the past: revoked or erased on request
        paths=lambda s: [s.api_keys_path],
    ),
    Store(
        "outbox",
        "agents' messages (rendered text, reason, evidence) and decisions (treated, holdout...)",
        "learner_key column of `messages` and `decisions`",
        _erase_outbox,
        _export_outbox,
        _purge_outbox,
        paths=lambda s: [
            s.outbox_path,
            *(s.outbox_path.with_name(f"outbox.sqlite{x}") for x in ("-wal", "-shm")),
        ],
    ),
    Store(
        "learning_paths",
        "the onboarding conversation (the learner's words), goal, current path and the log of "
        "why it changed",
        "learner_key column of every table",
        _erase_learning_paths,
        _export_learning_paths,
        _purge_learning_paths,
        paths=lambda s: [
            s.learning_paths_path,
            *(
                s.learning_paths_path.with_name(f"learning_paths.sqlite{x}")
                for x in ("-wal", "-shm")
            ),
        ],
    ),
    Store(
        "vault.contacts",
        "e-mail address (sealed) and time zone of learners who agreed to e-mail",
        "learner_key",
        _erase_contacts,
        _export_contacts,
        lambda x: 0,  # current contact details, not a record of the past: erased on request
        tables=lambda db, schema, table, cols: (db, table) == ("vault", "contacts"),
    ),
    Store(
        "vault.identities",
        "learner_key <-> user_id",
        "learner_key or user_id",
        _erase_identity,
        _export_identity,
        _purge_identities,
        tables=lambda db, schema, table, cols: (db, table) == ("vault", "identities"),
        paths=lambda s: [s.vault_path, s.vault_path.with_name("vault.duckdb.wal")],
    ),
)


def covering(database: str, schema: str, table: str, columns: set[str]) -> Store | None:
    """The store that covers a DuckDB table, if any."""
    return next((s for s in STORES if s.tables(database, schema, table, columns)), None)


def owner(path: Path, settings: Settings) -> Store | None:
    """The store that owns a file under PATHWISE_HOME, if any."""
    for store in STORES:
        for root in store.paths(settings):
            if path == root or root in path.parents:
                return store
    return None
