"""The course Q&A outcome log: one row per learner question the Q&A answered, for the quality
benchmark's refusals per module (agents/metadata/benchmark.py).

A row is the graded decision only (rag.decision: confident / closest / refused), the course
asked about (or, for a question over the whole catalog, the course of the best passage), the
module of the best passage as the Q&A index names it (null when nothing was retrieved) and the
UTC day. No learner key, no account and no question text (questions can hold personal data),
and only the day, not the time, so a row cannot be matched to a learner's timed events: the log
holds nothing about a learner and stays out of erasure, export and retention (docs/privacy.md).

The app writes rows into `controls.sqlite` beside the admins' controls (SQLite in WAL mode,
encrypted with the other stores when PATHWISE_WAREHOUSE_KEY is set): the app never opens the
warehouse. Each nightly ingest moves them into `raw.qa_outcomes` (copied, then deleted here; a
row copied twice after a crash is kept once by its id), which dbt aggregates per course and
module (`marts.course_module_questions`).

    QaOutcomes().record(course_id="git-novice", scope="course", module="Undoing Changes",
                        grade="refused")
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from pathwise.controls import ControlError, ControlStore

GRADES = ("confident", "closest", "refused")
SCOPES = ("course", "catalog")  # asked about one course | over the whole catalog
WAREHOUSE_TABLE = "warehouse.raw.qa_outcomes"

SCHEMA = """
create table if not exists qa_outcomes (
    outcome_id  text primary key,      -- a random id: a copy into the warehouse is kept once
    asked_on    text not null,         -- the UTC day only
    course_id   text,                  -- asked about, or the best passage's (scope 'catalog')
    scope       text not null check (scope in ('course', 'catalog')),
    module      text,                  -- the best passage's module (null: nothing retrieved)
    grade       text not null check (grade in ('confident', 'closest', 'refused'))
);
"""


class QaOutcomes(ControlStore):
    """The outcomes not yet moved into the warehouse (`$PATHWISE_HOME/controls.sqlite`)."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path)
        with self._db() as db:
            db.executescript(SCHEMA)

    def record(
        self,
        *,
        course_id: str | None,
        scope: str,
        module: str | None,
        grade: str,
        on: date | None = None,
    ) -> None:
        """Log one answered question's outcome (nothing about who asked or what)."""
        if grade not in GRADES or scope not in SCOPES:
            raise ControlError(f"unknown grade {grade!r} or scope {scope!r}")
        day = (on or datetime.now(UTC).date()).isoformat()
        with self._db() as db:
            db.execute(
                "insert into qa_outcomes values (?, ?, ?, ?, ?, ?)",
                (uuid.uuid4().hex, day, course_id, scope, module, grade),
            )

    def rows(self) -> list[tuple]:
        """(outcome_id, asked_on, course_id, scope, module, grade) of every row held."""
        with self._db() as db:
            return db.execute(
                "select outcome_id, asked_on, course_id, scope, module, grade from qa_outcomes"
            ).fetchall()

    def forget(self, outcome_ids: list[str]) -> None:
        """Delete the rows the warehouse now holds."""
        with self._db() as db:
            db.executemany(
                "delete from qa_outcomes where outcome_id = ?", [(i,) for i in outcome_ids]
            )


def load_outcomes(con: duckdb.DuckDBPyConnection, store: QaOutcomes | None = None) -> dict:
    """Move the logged outcomes into `raw.qa_outcomes` (one transaction there, then deleted from
    the log): the nightly ingest's step, before the build."""
    store = store or QaOutcomes()
    rows = store.rows()
    if rows:
        con.execute("begin")
        try:
            con.executemany(
                f"insert into {WAREHOUSE_TABLE} values (?, cast(? as date), ?, ?, ?, ?, "
                "current_timestamp) on conflict do nothing",
                rows,
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        store.forget([r[0] for r in rows])
    return {"loaded": len(rows)}
