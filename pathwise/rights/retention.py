"""Retention: learner data older than PATHWISE_RETENTION_MONTHS (24) goes, every night
(flows/nightly.py) or on demand (`pathwise privacy purge [--dry-run]`).

1. The cutoff is a midnight UTC, that many calendar months before today: what happened before
   it is purged, whole days only, so the daily aggregates lose whole days too. 0 months keeps
   everything (public research data such as OULAD, whose events are from 2013-2014).
2. Walk the registry (`stores.STORES`), the one list erasure and export walk: each store's
   `purge` deletes (or, in a dry run, counts) what it holds dated before the cutoff — raw events,
   quarantine rows in the warehouse and the vault, rec_log files, landing lines and files,
   superseded snapshots, sign-in audit rows, identities with nothing retained. Every purge is
   idempotent (a second run deletes 0), so a crash is resumed by running again.
3. One audit row (vault.retention_audit): when, by whom, the cutoff, what went per store.
4. Compact the warehouse and the vault as erasure does: DuckDB keeps deleted rows' bytes in
   freed blocks.
5. The caller rebuilds what is derived, as the nightly flow does: when raw rows went, the dbt
   build refreshes the incremental models fully (they would keep aggregates of purged events),
   so every mart equals a full refresh over the retained data; the ML jobs rewrite their tables;
   the publish step then purges the snapshots again, so the version it superseded goes too.
"""

from __future__ import annotations

import calendar
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pathwise.rights.erase import compact_all
from pathwise.rights.stores import STORES, Expiry
from pathwise.settings import Settings, get_settings
from pathwise.warehouse import open_connection

RETENTION_DDL = """
create table if not exists vault.retention_audit (   -- no id, no key: what went, when
    purge_id      varchar   primary key,
    requested_by  varchar   not null,
    cutoff        timestamp not null,                -- everything dated before it went
    started_at    timestamp not null,
    finished_at   timestamp not null,
    deleted       json      not null                 -- store -> rows (lines, files) deleted
);
"""


@dataclass
class PurgeReport:
    purge_id: str
    cutoff: datetime | None  # None: retention is off (PATHWISE_RETENTION_MONTHS=0)
    dry_run: bool
    deleted: dict[str, int] = field(default_factory=dict)  # store -> rows (lines, files)
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # seconds per store and compaction

    @property
    def warehouse_changed(self) -> bool:
        """Raw rows went: derived tables must be rebuilt (incremental ones fully)."""
        return bool(self.deleted.get("warehouse"))


def cutoff_for(months: int, today: date | None = None) -> datetime:
    """Midnight (naive UTC) `months` calendar months before `today` (the 31st becomes the
    month's last day)."""
    today = today or datetime.now(UTC).date()
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    day = min(today.day, calendar.monthrange(year, month + 1)[1])
    return datetime(year, month + 1, day)


def purge(
    *,
    stores: Iterable[str] | None = None,
    dry_run: bool = False,
    requested_by: str = "nightly",
    settings: Settings | None = None,
) -> PurgeReport:
    """Purge every store (or the named ones) of what is older than the retention period."""
    t0 = time.perf_counter()
    s = settings or get_settings()
    chosen = [st for st in STORES if stores is None or st.name in set(stores)]
    if stores is not None and len(chosen) != len(set(stores)):
        known = [st.name for st in STORES]
        raise ValueError(f"unknown store in {sorted(set(stores))}; the stores are {known}")
    started = datetime.now(UTC).replace(tzinfo=None)
    if not s.retention_months:
        return PurgeReport(uuid.uuid4().hex, None, dry_run)
    report = PurgeReport(uuid.uuid4().hex, cutoff_for(s.retention_months), dry_run)
    con = open_connection(vault=True, settings=s)
    try:
        expiry = Expiry(report.cutoff, con, s, dry_run)
        for store in chosen:
            t_store = time.perf_counter()
            report.deleted[store.name] = store.purge(expiry)
            report.steps[store.name] = round(time.perf_counter() - t_store, 3)
        if not dry_run:
            con.execute(RETENTION_DDL)
            con.execute(
                "insert into vault.retention_audit values ($id, $by, $cutoff, $started, $now, $n)",
                {
                    "id": report.purge_id,
                    "by": requested_by,
                    "cutoff": report.cutoff,
                    "started": started,
                    "now": datetime.now(UTC).replace(tzinfo=None),
                    "n": json.dumps(report.deleted),
                },
            )
    finally:
        con.close()
    if not dry_run and any(report.deleted.values()):
        t_compact = time.perf_counter()
        compact_all(s)
        report.steps["compact"] = round(time.perf_counter() - t_compact, 3)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report
