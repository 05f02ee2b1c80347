"""The learning-path store: each learner's onboarding conversation, goal, current path and the log
of why their path changed, under their learner_key (never a platform id).

    store = PathStore()
    store.save_onboarding(lk, state, turns=[("learner", "data analyst"), ("agent", "...")])
    store.save_goal(lk, goal); store.save_path(lk, path, changes=["You finished X early."])
    store.view(lk)                     # what the read API and the learner page show

Where it lives, and why: `$PATHWISE_HOME/learning_paths.sqlite` (SQLCipher with the at-rest key,
like the outbox), not the warehouse or the snapshot. The app and the read API write a learner's
onboarding turns, and the first path when the conversation ends, at any hour; the nightly agent
re-plans every path beside them. A DuckDB file lets one process write or several read, a snapshot
is immutable until the next night; SQLite in WAL mode lets readers read while one writer commits.
It is in the base package because the erasure registry (`pathwise/rights/stores.py`) and the read
API reach it, and neither may import the agent layer that plans the paths
(`agents/paths/serving.py`). Goals, paths and states are stored as the agent's JSON: this module
only keeps them.

Retention: the conversation turns and the change log are a record of the past and go after the
retention period; the goal, the state and the current path are the learner's present choices,
kept until they change them or ask for erasure.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pathwise.at_rest import sqlite_connect
from pathwise.settings import get_settings

SCHEMA = """
create table if not exists onboarding (
    learner_key  text primary key,
    state        text not null,                 -- JSON: the dialogue's state (its slots, its step)
    started_at   text not null,
    updated_at   text not null
);
create table if not exists turns (              -- the conversation, as said
    learner_key  text not null,
    turn_no      integer not null,
    speaker      text not null check (speaker in ('learner', 'agent')),
    text         text not null,
    said_at      text not null,
    primary key (learner_key, turn_no)
);
create table if not exists goals (
    learner_key  text primary key,
    goal         text not null,                 -- JSON: role, skills, hours a week, target date...
    set_at       text not null
);
create table if not exists paths (
    learner_key  text primary key,
    path         text not null,                 -- JSON: steps with dates and reasons, uncovered
    planned_at   text not null
);
create table if not exists path_changes (
    learner_key  text not null,
    change_no    integer not null,
    changed_at   text not null,
    reason       text not null,                 -- "You finished Intro to SQL early."
    primary key (learner_key, change_no)
);
"""
TABLES = ("onboarding", "turns", "goals", "paths", "path_changes")
# Dated records of the past (retention) and the column dating them.
_DATED = {"turns": "said_at", "path_changes": "changed_at"}
_NUMBERED = {"turns": "turn_no", "path_changes": "change_no"}


def _iso(ts: datetime | None = None) -> str:
    return (ts or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")


def _append(db: sqlite3.Connection, table: str, learner_key: str, rows: list[tuple]) -> None:
    """Add a learner's rows to a numbered log (`turns`, `path_changes`), numbered on from the
    last, inside the caller's transaction."""
    if not rows:
        return
    first = db.execute(
        f"select coalesce(max({_NUMBERED[table]}), 0) + 1 from {table} where learner_key = ?",
        (learner_key,),
    ).fetchall()[0][0]
    marks = ", ".join("?" * (len(rows[0]) + 2))
    db.executemany(
        f"insert into {table} values ({marks})",
        [(learner_key, first + i, *row) for i, row in enumerate(rows)],
    )


class PathStore:
    """`$PATHWISE_HOME/learning_paths.sqlite` unless a path is given."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path or get_settings().learning_paths_path)
        self._local = threading.local()
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, opened on first use and kept: the app and the API ask the
        store several times a turn, and closing a WAL database's last connection checkpoints it
        (8 ms a close measured, a third of a turn). No transaction is left open between calls."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite_connect(self.path, "learning_paths", timeout=10, isolation_level=None)
            db.execute("pragma journal_mode = wal")
            db.execute("pragma busy_timeout = 10000")
            db.execute("pragma secure_delete = on")  # erased rows are zeroed, not left in pages
            self._local.db = db
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("rollback")
            raise

    def close(self) -> None:
        """Close this thread's connection (a one-off user such as erasure closes it at once, so
        the file and its WAL are settled when it returns, not whenever it is collected)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            self._local.db = None
            db.close()

    # -- writes ---------------------------------------------------------------------------------
    def save_onboarding(
        self,
        learner_key: str,
        state: dict,
        turns: Iterable[tuple[str, str]] = (),
        at: datetime | None = None,
    ) -> None:
        """The dialogue's new state and what was said to reach it, in one transaction."""
        at_s = _iso(at)
        with self._db() as db:
            db.execute("begin immediate")
            db.execute(
                "insert into onboarding values (?, ?, ?, ?) on conflict (learner_key) do update "
                "set state = excluded.state, updated_at = excluded.updated_at",
                (learner_key, json.dumps(state, sort_keys=True), at_s, at_s),
            )
            _append(db, "turns", learner_key, [(who, text, at_s) for who, text in turns])
            db.execute("commit")

    def restart_onboarding(self, learner_key: str) -> None:
        """Start the conversation over (the goal and path stay until a new one is made)."""
        with self._db() as db:
            db.execute("begin immediate")
            for table in ("onboarding", "turns"):
                db.execute(f"delete from {table} where learner_key = ?", (learner_key,))
            db.execute("commit")

    def save_goal(self, learner_key: str, goal: dict, at: datetime | None = None) -> None:
        with self._db() as db:
            db.execute(
                "insert or replace into goals values (?, ?, ?)",
                (learner_key, json.dumps(goal, sort_keys=True), _iso(at)),
            )

    def save_path(
        self, learner_key: str, path: dict, changes: Iterable[str] = (), at: datetime | None = None
    ) -> None:
        """The learner's current path, and why it changed (one log row per reason), together."""
        at_s = _iso(at)
        with self._db() as db:
            db.execute("begin immediate")
            db.execute(
                "insert or replace into paths values (?, ?, ?)",
                (learner_key, json.dumps(path, sort_keys=True), at_s),
            )
            _append(db, "path_changes", learner_key, [(at_s, reason) for reason in changes])
            db.execute("commit")

    # -- reads ----------------------------------------------------------------------------------
    def onboarding(self, learner_key: str) -> dict | None:
        return self._json("select state from onboarding where learner_key = ?", learner_key)

    def goal(self, learner_key: str) -> dict | None:
        return self._json("select goal from goals where learner_key = ?", learner_key)

    def current_path(self, learner_key: str) -> dict | None:
        return self._json("select path from paths where learner_key = ?", learner_key)

    def turns(self, learner_key: str) -> list[dict]:
        return self._rows(
            "select speaker, text, said_at from turns where learner_key = ? order by turn_no",
            (learner_key,),
        )

    def changes(self, learner_key: str, limit: int = 100) -> list[dict]:
        """The change log, newest first."""
        return self._rows(
            "select changed_at, reason from path_changes where learner_key = ? "
            "order by change_no desc limit ?",
            (learner_key, limit),
        )

    def planned(self) -> list[tuple[str, dict, dict]]:
        """(learner_key, goal, path) of every learner with a path (the nightly re-plan)."""
        with self._db() as db:
            rows = db.execute(
                "select p.learner_key, g.goal, p.path from paths p join goals g using "
                "(learner_key) order by p.learner_key"
            ).fetchall()
        return [(lk, json.loads(g), json.loads(p)) for lk, g, p in rows]

    def view(self, learner_key: str) -> dict:
        """What a learner sees of their path: the path, the goal, the change log, and where the
        onboarding conversation is (its step; None when it never started)."""
        state = self.onboarding(learner_key)
        return {
            "path": self.current_path(learner_key),
            "goal": self.goal(learner_key),
            "changes": self.changes(learner_key),
            "onboarding_step": state and state.get("step"),
        }

    def _json(self, sql: str, learner_key: str) -> dict | None:
        with self._db() as db:
            found = db.execute(sql, (learner_key,)).fetchall()
        return json.loads(found[0][0]) if found else None

    def _rows(self, sql: str, params: tuple) -> list[dict]:
        with self._db() as db:
            cur = db.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # -- rights (pathwise/rights/stores.py) ------------------------------------------------------
    def learner_records(self, learner_key: str) -> dict[str, list[dict]]:
        """Every row held about a learner, per table (export)."""
        records = {}
        for table in TABLES:
            rows = self._rows(f"select * from {table} where learner_key = ?", (learner_key,))
            for row in rows:
                for column in ("state", "goal", "path"):
                    if column in row:
                        row[column] = json.loads(row[column])
            records[f"learning_paths.{table}"] = rows
        return records

    def forget_learner(self, learner_key: str) -> int:
        """Erase a learner's rows, then VACUUM and truncate the WAL, so no page of the file keeps
        them. Returns rows deleted."""
        with self._db() as db:
            n = sum(
                db.execute(f"delete from {t} where learner_key = ?", (learner_key,)).rowcount
                for t in TABLES
            )
            db.execute("vacuum")
            db.execute("pragma wal_checkpoint(truncate)")
        return n

    def forget_before(self, cutoff: datetime, dry_run: bool = False) -> int:
        """Retention: turns said and changes logged before `cutoff` (naive UTC) go, then the file
        is compacted as after erasure. Returns rows deleted (or, dry, that would be)."""
        since = _iso(cutoff.replace(tzinfo=UTC))
        verb = "select count(*) from" if dry_run else "delete from"
        with self._db() as db:
            n = 0
            for table, column in _DATED.items():
                cur = db.execute(f"{verb} {table} where {column} < ?", (since,))
                n += cur.fetchall()[0][0] if dry_run else cur.rowcount
            if n and not dry_run:
                db.execute("vacuum")
                db.execute("pragma wal_checkpoint(truncate)")
        return n
