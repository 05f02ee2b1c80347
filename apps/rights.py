"""Data-subject requests from the Control Tower, through the same code as `pathwise privacy
erase|export` (`pathwise.rights`).

The warehouse has one writer at a time (DuckDB's file lock; ../shared/STACK-NOTES.md), and the
app does not normally write it: its own writes (controls, clicks, consents) go to stores of their
own that the nightly run and the API read. An erasure must rewrite the warehouse and the vault, so
it runs here directly, one at a time per app process (a lock), and when another process holds the
warehouse (a nightly run, an ingest, the CLI) it stops with `Busy` instead of waiting: the
tombstone is written first and every store's erase is idempotent, so asking again later resumes
where it stopped (as the CLI does after a crash)."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import duckdb

from pathwise.rights import erase as erasure
from pathwise.rights.export import export

_ONE_AT_A_TIME = threading.Lock()


class Busy(RuntimeError):
    """Another request of this app, or another process, is writing the warehouse."""


def erase(user_id: str, admin: str) -> erasure.ErasureReport:
    """Erase a learner everywhere, audited as asked by `admin` in the app; raises Busy."""
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise Busy("Another privacy request is running in the app.")
    try:
        return erasure.erase(user_id, requested_by=f"app:{admin}")
    except duckdb.IOException as exc:  # the file lock: a nightly run, an ingest, the CLI
        raise Busy(str(exc)) from exc
    finally:
        _ONE_AT_A_TIME.release()


def export_zip(user_id: str) -> bytes:
    """Everything held about a learner, as the zip `pathwise privacy export` writes; raises Busy."""
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise Busy("Another privacy request is running in the app.")
    try:
        with tempfile.TemporaryDirectory(prefix="pathwise-export-") as tmp:
            return Path(export(user_id, Path(tmp) / "export")).read_bytes()
    except duckdb.IOException as exc:
        raise Busy(str(exc)) from exc
    finally:
        _ONE_AT_A_TIME.release()


def audit(limit: int = 100) -> list[dict]:
    """The latest erasures (no learner id or key); raises Busy while a writer holds the vault."""
    try:
        return erasure.audit(limit=limit)
    except duckdb.IOException as exc:
        raise Busy(str(exc)) from exc
