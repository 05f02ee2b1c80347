"""The read API's recommendation log -> `raw.served_recommendations`, one row per served item.

The API appends each response to an hourly file (`$PATHWISE_HOME/rec_log/served-YYYY-MM-DD-HH.ndjson`).
A file is loaded once its hour is over (nobody appends to it any more) and never twice
(`raw.served_log_files`). Its rows carry the `rec_id` the platform echoes back in `rec_impression`
and `rec_click` events, so the KPI marts can join what was served with what learners did.
The log holds learner_keys only: the API pseudonymizes platform ids before logging.

With PATHWISE_WAREHOUSE_KEY set, each append is one sealed record (AES-GCM, pathwise/at_rest.py)
instead of plain lines; the loader decrypts a file in memory (nothing plain touches the disk) and
reads it exactly as a plain one. Files are 0600 in a 0700 folder.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import fsspec

from pathwise.at_rest import SEALED, open_private_append, unseal
from pathwise.at_rest import seal as seal_record
from pathwise.contract import SURFACES
from pathwise.settings import get_settings

RESPONSE_COLUMNS = {
    "response_id": "VARCHAR",
    "served_at": "TIMESTAMPTZ",
    "learner_key": "VARCHAR",
    "surface": "VARCHAR",
    "cold_start": "BOOLEAN",
    "snapshot_version": "VARCHAR",
    "model_version": "VARCHAR",
    "controls_applied": "INTEGER[]",
    "items": "STRUCT(rec_id VARCHAR, course_id VARCHAR, rank INTEGER, score DOUBLE, "
    "boost DOUBLE, reason VARCHAR, format_first VARCHAR)[]",
}


def append(path: Path, lines: Sequence[bytes]) -> None:
    """Append JSON lines to one log file (one sealed record when a key is set)."""
    data = b"\n".join(lines)
    with open_private_append(path) as f:
        f.write(seal_record(data, "rec_log") + b"\n")


def read_lines(path: Path) -> bytes:
    """A log file's JSON lines, decrypted (plain lines, written without a key, pass as they are)."""
    return b"\n".join(unseal(line, "rec_log") for line in path.read_bytes().splitlines() if line)


@contextmanager
def _readable(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[str]:
    """A path `read_json` can read: the file itself if plain, else its plaintext in memory."""
    with path.open("rb") as f:
        plain = not f.read(len(SEALED)).startswith(SEALED)
    if plain and not get_settings().encrypted:
        yield str(path)
        return
    memory = fsspec.filesystem("memory")
    if not con.filesystem_is_registered("memory"):
        con.register_filesystem(memory)
    name = f"memory://pathwise-rec-log/{uuid.uuid4().hex}.ndjson"
    memory.pipe(name, read_lines(path) + b"\n")
    try:
        yield name
    finally:
        memory.rm(name)


def closed_files(folder: Path, now: datetime | None = None) -> list[Path]:
    """Log files whose hour has ended."""
    hour = (now or datetime.now(UTC)).strftime("served-%Y-%m-%d-%H.ndjson")
    return sorted(p for p in folder.glob("served-*.ndjson") if p.name < hour)


def load_closed_files(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> dict:
    """Load every closed, not yet loaded log file; each file in one transaction."""
    loaded = {
        r[0] for r in con.execute("select file_name from warehouse.raw.served_log_files").fetchall()
    }
    summary = {"files": 0, "responses": 0, "items": 0}
    columns = ", ".join(f"'{k}': '{v}'" for k, v in RESPONSE_COLUMNS.items())
    for path in closed_files(get_settings().rec_log_dir, now):
        if path.name in loaded:
            continue
        con.execute("begin")
        try:
            with _readable(con, path) as readable:
                con.execute(
                    f"""
                    create or replace temp table _served as
                    select * from read_json($path, format = 'newline_delimited',
                                            columns = {{{columns}}})
                    """,
                    {"path": readable},
                )
            con.execute(
                """
                insert or ignore into warehouse.raw.served_recommendations
                select item.rec_id, response_id, timezone('UTC', served_at), learner_key,
                       -- a closed list: free text never reaches the warehouse through it
                       if(list_contains($surfaces, surface), surface, 'other'), cold_start,
                       snapshot_version, model_version, controls_applied, item.course_id,
                       item.rank, item.score, item.boost, item.reason, item.format_first,
                       $name
                from (select *, unnest(items) as item from _served)
                """,
                {"name": path.name, "surfaces": list(SURFACES)},
            )
            responses, items = con.execute(
                "select count(*), coalesce(sum(len(items)), 0) from _served"
            ).fetchall()[0]
            con.execute(
                "insert into warehouse.raw.served_log_files values (?, ?, ?, ?)",
                [path.name, responses, items, datetime.now(UTC).replace(tzinfo=None)],
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        summary["files"] += 1
        summary["responses"] += responses
        summary["items"] += items
    return summary
