"""Erasing one learner from every store (`pathwise privacy erase USER_ID`).

1. Resolve: user_id -> learner_key through the vault (the keyed hash when the vault no longer
   holds it: an interrupted erasure already removed it).
2. Tombstone first (vault.erasure_tombstones, a keyed hash in its own domain: neither the id nor
   the learner_key), so an ingest running meanwhile, or an old landing file loaded later, cannot
   bring the learner back: ingestion drops and counts their events (`erased_dropped`).
3. Walk the registry (`stores.STORES`), one progress row per store (vault.erasure_progress):
   after a crash the same command resumes where it stopped. Every store's erase is idempotent.
4. One audit row (vault.erasure_audit): when, by whom, how many rows per store; no id, no key.
5. Compact: the DuckDB files are copied into new ones (COPY FROM DATABASE) and replace the old:
   DuckDB keeps deleted rows' bytes in freed blocks and row groups, so a CHECKPOINT alone leaves
   them in the file. SQLite stores are VACUUMed by their own erase; rewritten files are new files.

The LanceDB Q&A index holds course content only (no learner data), so it has nothing to erase.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pathwise.privacy import pseudonym, tombstone
from pathwise.rights.stores import STORES, Context, Subject
from pathwise.settings import Settings, get_settings
from pathwise.validation import sql_literal
from pathwise.warehouse import httpfs_extension_path, open_connection

RIGHTS_DDL = """
create table if not exists vault.erasure_progress (  -- while an erasure runs; gone when done
    erasure_id  varchar   not null,
    tombstone   varchar   not null,
    store       varchar   not null,
    deleted     bigint    not null,
    done_at     timestamp not null,
    primary key (erasure_id, store)
);
create table if not exists vault.erasure_audit (     -- no id, no key: what was done, when
    erasure_id    varchar   primary key,
    requested_by  varchar   not null,
    started_at    timestamp not null,
    finished_at   timestamp not null,
    deleted       json      not null                 -- store -> rows (lines, versions) deleted
);
"""


@dataclass
class ErasureReport:
    erasure_id: str
    known: bool  # the vault knew the user_id
    resumed: bool
    deleted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # seconds per store and compaction


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def resolve(con: duckdb.DuckDBPyConnection, user_id: str, key: str) -> tuple[Subject, bool]:
    """The subject of a request, and whether the vault knew its user_id."""
    rows = con.execute(
        "select learner_key from vault.identities where user_id = $u", {"u": user_id}
    ).fetchall()
    learner_key = rows[0][0] if rows else pseudonym(user_id, key)
    return Subject(user_id, learner_key, tombstone(user_id, key)), bool(rows)


def erase(user_id: str, *, requested_by: str = "cli", settings: Settings | None = None):
    """Erase one learner everywhere (see the module docstring); returns an ErasureReport."""
    import time

    t0 = time.perf_counter()
    s = settings or get_settings()
    if not user_id:
        raise ValueError("give the learner's platform user_id")
    con = open_connection(vault=True, settings=s)
    try:
        con.execute(RIGHTS_DDL)
        subject, known = resolve(con, user_id, s.pseudonym_key.get_secret_value())
        con.execute(
            "insert into vault.erasure_tombstones values ($t, $now) on conflict do nothing",
            {"t": subject.tombstone, "now": _now()},
        )
        pending = con.execute(
            "select erasure_id, store, deleted, done_at from vault.erasure_progress "
            "where tombstone = $t order by done_at",
            {"t": subject.tombstone},
        ).fetchall()
        report = ErasureReport(pending[0][0] if pending else uuid.uuid4().hex, known, bool(pending))
        report.deleted = {store: n for _, store, n, _ in pending}
        started = pending[0][3] if pending else _now()
        ctx = Context(subject, con, s)
        for store in STORES:
            if store.name in report.deleted:
                continue
            t_store = time.perf_counter()
            report.deleted[store.name] = store.erase(ctx)
            report.steps[store.name] = round(time.perf_counter() - t_store, 3)
            con.execute(
                "insert into vault.erasure_progress values ($id, $t, $store, $n, $now)",
                {
                    "id": report.erasure_id,
                    "t": subject.tombstone,
                    "store": store.name,
                    "n": report.deleted[store.name],
                    "now": _now(),
                },
            )
        con.execute("begin")
        con.execute(
            "insert into vault.erasure_audit values ($id, $by, $started, $now, $deleted)",
            {
                "id": report.erasure_id,
                "by": requested_by,
                "started": started,
                "now": _now(),
                "deleted": json.dumps(report.deleted),
            },
        )
        con.execute(
            "delete from vault.erasure_progress where erasure_id = $id", {"id": report.erasure_id}
        )
        con.execute("commit")
    finally:
        con.close()
    t_compact = time.perf_counter()
    compact_all(s)
    report.steps["compact"] = round(time.perf_counter() - t_compact, 3)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def audit(settings: Settings | None = None, limit: int = 100) -> list[dict]:
    """The latest erasures, newest first: id, who asked, when, rows deleted per store (no learner
    id or key is kept). Opens the vault read-only, so it fails (duckdb.IOException) while a
    writer holds it."""
    s = settings or get_settings()
    if not s.vault_path.exists() or not s.warehouse_path.exists():
        return []
    con = open_connection(vault=True, read_only=True, settings=s)
    try:
        found = con.execute(
            "select 1 from duckdb_tables() where database_name = 'vault' "
            "and table_name = 'erasure_audit'"
        ).fetchall()
        if not found:
            return []
        rows = con.execute(
            "select erasure_id, requested_by, started_at, finished_at, deleted "
            "from vault.erasure_audit order by finished_at desc limit $n",
            {"n": limit},
        ).fetchall()
    finally:
        con.close()
    return [
        {
            "erasure_id": r[0],
            "requested_by": r[1],
            "started_at": r[2],
            "finished_at": r[3],
            "deleted": json.loads(r[4]),
        }
        for r in rows
    ]


# ------------------------------------------------------------------ compaction
def compact_all(settings: Settings) -> None:
    """Rewrite the warehouse and the vault so no freed block keeps an erased learner's bytes."""
    compact_duckdb(settings.warehouse_path, settings.encryption_key)
    compact_duckdb(settings.vault_path, settings.vault_encryption_key)


def compact_duckdb(path: Path, key: str | None) -> None:
    """Copy a DuckDB file into a new one (COPY FROM DATABASE) and replace it.

    The old file is checkpointed first, so its WAL is merged and removed (a WAL left beside the
    new file would be replayed into it). A plain file keeps its storage format."""
    if not path.exists():
        return
    tmp = path.with_name(path.name + ".compacting")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(":memory:")
    try:
        if key:
            con.execute(f"LOAD {sql_literal(str(httpfs_extension_path()))}")
        secret = {"key": key} if key else {}
        with_key = " (ENCRYPTION_KEY $key)" if key else ""
        # The old file is attached as `warehouse`: views dbt made name that database.
        con.execute(f"ATTACH {sql_literal(str(path))} AS warehouse{with_key}", secret)
        con.execute("CHECKPOINT warehouse")
        version = con.execute(
            "select tags['storage_version'] from duckdb_databases() "
            "where database_name = 'warehouse'"
        ).fetchall()[0][0]
        # 'v1.0.0+' means "v1.0.0 or later": the format it was written in is the named one.
        version = re.match(r"v\d+\.\d+\.\d+", version or "")
        options = with_key or (f" (STORAGE_VERSION '{version[0]}')" if version else "")
        con.execute(f"ATTACH {sql_literal(str(tmp))} AS compacted{options}", secret)
        con.execute("COPY FROM DATABASE warehouse TO compacted")
        con.execute("DETACH compacted")
        con.execute("DETACH warehouse")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)  # checkpointed: empty if any
