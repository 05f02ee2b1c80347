"""Loading one file of platform events into the warehouse as one atomic batch.

The steps, all vectorized in DuckDB (an in-memory database holds the batch while it is checked):

1. read    NDJSON(.gz) line by line (so one bad line cannot sink the file) or Parquet row by row,
           into an *envelope*: each field, its JSON type, the row's size, parse errors.
2. check   the contract (`pathwise.validation`): the first failing check quarantines the event.
3. key     user_id -> learner_key and session_id -> session_key (HMAC-SHA256, distinct domains);
           the user mapping goes to the identity vault only. Properties the contract does not
           declare are dropped (counted) or, by PATHWISE_UNDECLARED_PROPERTIES, quarantined.
4. dedup   on event_id within the batch and against earlier batches (PATHWISE_DEDUP_WINDOW_DAYS):
           same payload = duplicate (counted, dropped); other payload = quarantined conflict.
5. consent fine-tier events count only under a `fine` grant in force at their time; the rest are
           counted as consent_dropped and never stored. Kept ones are aggregated per
           learner x course x day; their raw trail never lands.
6. write   the vault first (idempotent upserts: identities, quarantined originals), then every
           warehouse table in ONE transaction, including the `raw.ingest_batches` row whose
           check constraint enforces received = loaded + duplicates + quarantined + consent_dropped.

A batch is identified by the sha256 of the file's bytes: a file already loaded is skipped, and a
batch interrupted at any point (even by SIGKILL) left nothing in the warehouse, so re-running it
loads it exactly once.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from pathwise.ingestion.classify import OK, classify
from pathwise.ingestion.envelope import read_ndjson, read_parquet
from pathwise.ingestion.quarantine import quarantine
from pathwise.ingestion.write import write
from pathwise.privacy import install_pseudonym_key
from pathwise.settings import Settings, get_settings
from pathwise.warehouse import open_connection


@dataclass
class BatchResult:
    batch_id: str
    source_file: str
    source_format: str
    status: str  # loaded | skipped (this file's bytes were loaded before)
    received: int = 0
    loaded: int = 0
    aggregated: int = 0
    duplicates: int = 0
    quarantined: int = 0
    consent_dropped: int = 0
    undeclared_dropped: int = 0  # of loaded: stored events whose undeclared properties were dropped
    erased_dropped: int = 0  # of consent_dropped: events of erased learners (tombstones)
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step, for profiling

    def as_dict(self) -> dict:
        return asdict(self)


class Laps:
    """A lap timer: `lap("name")` ends the running step and starts the next one; `lap(None)` ends
    the last. The seconds land in `steps` (a batch's `BatchResult.steps`)."""

    def __init__(self, steps: dict[str, float]) -> None:
        self.steps = steps
        self._name: str | None = None
        self._since = time.perf_counter()

    def __call__(self, name: str | None) -> None:
        now = time.perf_counter()
        if self._name is not None:
            self.steps[self._name] = round(self.steps.get(self._name, 0.0) + now - self._since, 3)
        self._name, self._since = name, now


def event_format(path: Path) -> str | None:
    """'parquet', 'ndjson' or None (not an event file), from the file name."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")):
        return "ndjson"
    return None


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# ------------------------------------------------------------------ entry point


def ingest_file(path: Path, settings: Settings | None = None) -> BatchResult:
    """Load one event file as one atomic batch (see the module docstring)."""
    s = settings or get_settings()
    path = Path(path)
    fmt = event_format(path)
    if fmt is None:
        raise ValueError(f"{path}: not an event file (.parquet, .ndjson[.gz] or .jsonl[.gz])")
    t0 = time.perf_counter()
    batch = BatchResult("", str(path), fmt, "loaded")
    lap = Laps(batch.steps)
    lap("file sha256")
    batch.batch_id = file_sha256(path)
    lap("open")
    con = open_connection(vault=True, settings=s)
    # Taken while holding the warehouse (one writer at a time), so batches' `loaded_at` grows in
    # commit order: the incremental dbt models read the events loaded after their newest one.
    started = datetime.now(UTC).replace(tzinfo=None)
    try:
        already = con.execute(
            "select count(*) from warehouse.raw.ingest_batches where batch_id = $b",
            {"b": batch.batch_id},
        ).fetchall()[0][0]
        if already:
            batch.status = "skipped"
            batch.seconds = time.perf_counter() - t0
            return batch
        con.execute("set TimeZone = 'UTC'")
        install_pseudonym_key(con, s.pseudonym_key.get_secret_value())
        con.execute("set variable max_bytes = $n", {"n": int(s.max_event_bytes)})
        latest = started + timedelta(hours=s.max_clock_skew_hours)
        con.execute("set variable latest_ts = $ts::timestamp", {"ts": latest})
        lap("read")  # NDJSON: its lines into memory; Parquet is read by the check itself
        envelope = read_parquet(con, path) if fmt == "parquet" else read_ndjson(con, path)
        lap("check")
        classify(con, envelope, s.dedup_window_days, lap, s.undeclared_properties == "quarantine")
        lap("quarantine")
        quarantine(con, envelope, fmt, path)
        _count(con, batch)
        lap("write")
        write(con, batch, started)
        lap("close")
    finally:
        con.close()
        lap(None)  # also for a skipped batch, whose last step is "open"
    batch.seconds = time.perf_counter() - t0
    return batch


def _count(con: duckdb.DuckDBPyConnection, batch: BatchResult) -> None:
    def one(sql: str) -> int:
        return con.execute(sql).fetchall()[0][0]

    fates = dict(con.execute("select fate, count(*) from fates group by fate").fetchall())
    # An erased learner's lines left `checked` before the checks; they count as received and
    # dropped, like events without consent: no legal basis to keep them.
    batch.erased_dropped = one("select coalesce(sum(lines), 0)::bigint from erased")
    batch.received = one("select count(*) from checked") + batch.erased_dropped
    batch.quarantined = one("select count(*) from quarantine")
    batch.duplicates = fates.get("duplicate", 0)
    batch.consent_dropped = fates.get("consent_dropped", 0) + batch.erased_dropped
    batch.aggregated = fates.get("aggregated", 0)
    valid = one(f"select count(*) from {OK} where c.problem is null")
    batch.loaded = (
        valid - batch.duplicates - fates.get("consent_dropped", 0) - fates.get("conflict", 0)
    )
    batch.undeclared_dropped = one(  # none under `quarantine`: then all are in prop_problems
        "select count(*) from undeclared anti join prop_problems using (line_no) "
        "anti join fates using (line_no)"
    )
    batch.reasons = dict(
        con.execute(
            "select reason, count(*) from quarantine group by reason order by 2 desc"
        ).fetchall()
    )
