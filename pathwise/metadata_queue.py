"""The review queue for course metadata suggested by the metadata agent (agents/metadata/).

Skill tags, difficulty, prerequisites and durations the agent suggests wait here until an
instructor (their own courses) or an admin accepts (as suggested or edited) or rejects them; each
decision is one transaction with its audit row, in the controls database beside the admins'
controls (pathwise/controls.py: SQLite in WAL mode, so the app writes while the nightly reads).
An admin may set a confidence at or above which the agent's suggestions are accepted on arrival
(`set_auto_accept`); those are audited too, with the agent as the actor.

Nothing reaches the catalog before it is accepted: `load_accepted` copies the accepted ones into
`raw.catalog_accepted_metadata` at the start of each nightly run (and `pathwise agents run
metadata`), and dbt's catalog marts add them to what the catalog says (`course_skills`,
`course_prerequisites`; `courses`: an accepted difficulty overrides the catalog's level, an
accepted duration fills a course without one, each marked by `difficulty_source` /
`duration_source`), so the recommender, the paths and the content gaps read them from the next
build. A course whose text changed gets new suggestions; its pending old ones are
superseded. The queue holds course metadata and the names of staff, no learner data.

    queue = MetadataQueue()
    queue.propose("c-1", [Suggestion("c-1", "skill", "SQL", 0.82, {"sentence": ".."})], fingerprint="..")
    queue.accept(7, actor="ada", reason="matches the syllabus")
    queue.accept(8, actor="ada", reason="closer", value="PostgreSQL")     # edited
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pathwise.controls import ControlError, ControlStore

KINDS = ("skill", "difficulty", "prerequisite", "duration")
AGENT = "metadata-agent"

SCHEMA = """
create table if not exists metadata_suggestions (
    suggestion_id  integer primary key,
    course_id      text not null,
    kind           text not null check (kind in ('skill', 'difficulty', 'prerequisite', 'duration')),
    value          text not null,       -- skill name | score 1-5 | prerequisite course_id | minutes
    confidence     real not null check (confidence between 0 and 1),
    detail         text not null,       -- JSON: the supporting sentence, taxonomy id, level, ...
    fingerprint    text not null,       -- hash of the course text it was made from
    status         text not null default 'pending'
                   check (status in ('pending', 'accepted', 'rejected', 'superseded')),
    proposed_at    text not null,
    decided_by     text,
    decided_at     text,
    decided_value  text,                -- the value accepted (the suggestion's, or as edited)
    reason         text,
    unique (course_id, kind, value, fingerprint)
);
create index if not exists metadata_suggestions_course on metadata_suggestions (course_id, status);
create table if not exists metadata_course_texts (  -- the text each course was last read from
    course_id    text primary key,
    fingerprint  text not null,
    checked_at   text not null
);
create table if not exists metadata_auto_accept (  -- the newest row is in force; null: off
    setting_id  integer primary key,
    threshold   real check (threshold is null or threshold between 0 and 1),
    reason      text not null,
    created_by  text not null,
    created_at  text not null
);
"""

WAREHOUSE_TABLE = "warehouse.raw.catalog_accepted_metadata"


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Suggestion:
    course_id: str
    kind: str
    value: str
    confidence: float
    detail: dict = field(default_factory=dict)


class MetadataQueue(ControlStore):
    """The suggestions in the controls database (`$PATHWISE_HOME/controls.sqlite`)."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path)
        with self._db() as db:
            db.executescript(SCHEMA)

    # -- the agent's side ------------------------------------------------------------------------

    def fingerprints(self) -> dict[str, str]:
        """course_id -> the fingerprint of the text the agent last made suggestions from."""
        with self._db() as db:
            return dict(db.execute("select course_id, fingerprint from metadata_course_texts"))

    def propose(
        self, course_id: str, suggestions: Iterable[Suggestion], *, fingerprint: str
    ) -> dict[str, int]:
        """Queue one course's suggestions, made from its text with `fingerprint` (none: the
        text is recorded as read); pending ones from an older text are superseded; those at or
        above the auto-accept threshold are accepted."""
        suggestions = list(suggestions)
        others = {s.course_id for s in suggestions} - {course_id}
        if others:
            raise ControlError(f"suggestions for {sorted(others)} proposed as {course_id!r}'s")
        threshold = self.auto_accept_threshold()
        now = _stamp()
        counts = {"proposed": 0, "auto_accepted": 0, "superseded": 0}
        reason = "new or changed course text"
        with self.transaction(AGENT, reason) as db:
            db.execute(
                "insert or replace into metadata_course_texts values (?, ?, ?)",
                (course_id, fingerprint, now),
            )
            counts["superseded"] = db.execute(
                "update metadata_suggestions set status = 'superseded', decided_at = ? "
                "where course_id = ? and status = 'pending' and fingerprint <> ?",
                (now, course_id, fingerprint),
            ).rowcount
            for s in suggestions:
                if s.kind not in KINDS:
                    raise ControlError(f"unknown kind {s.kind!r}; one of {', '.join(KINDS)}")
                auto = threshold is not None and s.confidence >= threshold
                cur = db.execute(
                    "insert or ignore into metadata_suggestions (course_id, kind, value, "
                    "confidence, detail, fingerprint, status, proposed_at, decided_by, "
                    "decided_at, decided_value, reason) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        s.course_id,
                        s.kind,
                        s.value,
                        float(s.confidence),
                        json.dumps(s.detail, default=str),
                        fingerprint,
                        "accepted" if auto else "pending",
                        now,
                        AGENT if auto else None,
                        now if auto else None,
                        s.value if auto else None,
                        f"confidence {s.confidence:.2f} >= auto-accept {threshold}"
                        if auto
                        else None,
                    ),
                )
                if cur.rowcount:
                    counts["proposed"] += 1
                    if auto:
                        counts["auto_accepted"] += 1
                        self.record(
                            db,
                            AGENT,
                            "metadata_auto_accept",
                            s.course_id,
                            {
                                "suggestion_id": cur.lastrowid,
                                "kind": s.kind,
                                "value": s.value,
                                "confidence": s.confidence,
                            },
                            f"confidence at or above the admins' threshold {threshold}",
                        )
            if counts["proposed"] or counts["superseded"]:
                self.record(db, AGENT, "metadata_propose", course_id, counts, reason)
        return counts

    # -- the reviewers' side ---------------------------------------------------------------------

    def suggestions(
        self, course_ids: Iterable[str] | None = None, status: str | None = "pending"
    ) -> list[dict]:
        """Suggestions (of the courses named, with the status given; None: any), best first."""
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if course_ids is not None:
            ids = list(course_ids)
            where.append(f"course_id in ({', '.join('?' * len(ids))})" if ids else "false")
            params += ids
        sql = "select * from metadata_suggestions" + (
            f" where {' and '.join(where)}" if where else ""
        )
        with self._db() as db:
            cursor = db.execute(sql + " order by course_id, kind, confidence desc", params)
            names = [c[0] for c in cursor.description]
            rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        return [{**r, "detail": json.loads(r["detail"])} for r in rows]

    def _decide(self, suggestion_id: int, status: str, actor: str, reason: str, value: str | None):
        with self.transaction(actor, reason) as db:
            found = db.execute(
                "select course_id, kind, value from metadata_suggestions "
                "where suggestion_id = ? and status = 'pending'",
                (suggestion_id,),
            ).fetchall()
            if not found:
                raise ControlError(
                    f"no pending suggestion with id {suggestion_id} (decided or superseded already?)"
                )
            course_id, kind, suggested = found[0]
            if value is not None:
                value = check_value(kind, value)
            decided = (value or suggested) if status == "accepted" else None
            db.execute(
                "update metadata_suggestions set status = ?, decided_by = ?, decided_at = ?, "
                "decided_value = ?, reason = ? where suggestion_id = ?",
                (status, actor, _stamp(), decided, reason, suggestion_id),
            )
            action = (
                "metadata_reject"
                if status == "rejected"
                else (
                    "metadata_edit"
                    if value is not None and value != suggested
                    else "metadata_accept"
                )
            )
            details = {"suggestion_id": suggestion_id, "kind": kind, "suggested": suggested}
            self.record(db, actor, action, course_id, details | {"value": decided}, reason)

    def accept(
        self, suggestion_id: int, *, actor: str, reason: str, value: str | None = None
    ) -> None:
        """Accept a pending suggestion, as suggested or with `value` instead (an edit)."""
        self._decide(suggestion_id, "accepted", actor, reason, value)

    def reject(self, suggestion_id: int, *, actor: str, reason: str) -> None:
        self._decide(suggestion_id, "rejected", actor, reason, None)

    def auto_accept_threshold(self) -> float | None:
        """The confidence at or above which suggestions are accepted on arrival (None: off)."""
        with self._db() as db:
            row = db.execute(
                "select threshold from metadata_auto_accept order by setting_id desc limit 1"
            ).fetchall()
        return row[0][0] if row else None

    def set_auto_accept(self, threshold: float | None, *, actor: str, reason: str) -> None:
        """Admins only (the app checks the role): accept suggestions at or above `threshold`
        on arrival; None turns it off. Applies to suggestions made from now on."""
        if threshold is not None and not 0.5 <= threshold <= 1:
            raise ControlError(f"auto-accept threshold must be in [0.5, 1] or off; got {threshold}")
        self._change(
            actor,
            "metadata_set_auto_accept",
            "metadata",
            {"threshold": threshold},
            reason,
            "insert into metadata_auto_accept (threshold, reason, created_by, created_at) "
            "values (?, ?, ?, ?)",
            (threshold, reason, actor, _stamp()),
        )

    def accepted(self) -> list[tuple]:
        """(course_id, kind, value, confidence, suggestion_id, decided_at) of every accepted one
        in force: skill tags and prerequisites always; a difficulty or duration (a judgement of
        the whole course, which the catalog mart applies over or beside the catalog's own) only
        while the course's text is the one it was suggested from, so a course the catalog
        changed goes back to review instead of keeping a level or length judged on old text."""
        with self._db() as db:
            return db.execute(
                "select s.course_id, s.kind, s.decided_value, s.confidence, s.suggestion_id, "
                "s.decided_at from metadata_suggestions s "
                "left join metadata_course_texts t on t.course_id = s.course_id "
                "where s.status = 'accepted' "
                "and (s.kind in ('skill', 'prerequisite') or s.fingerprint = t.fingerprint) "
                "order by s.suggestion_id"
            ).fetchall()


def check_value(kind: str, value: str) -> str:
    """An edited value, checked for its kind; the message says what is expected."""
    value = str(value).strip()
    if not value:
        raise ControlError("an edited value cannot be empty")
    if kind == "difficulty" and value not in {"1", "2", "3", "4", "5"}:
        raise ControlError(f"difficulty must be a score from 1 to 5, got {value!r}")
    if kind == "duration":
        try:
            ok = float(value) > 0
        except ValueError:
            ok = False
        if not ok:
            raise ControlError(f"duration must be minutes > 0, got {value!r}")
    return value


def load_accepted(con: duckdb.DuckDBPyConnection, queue: MetadataQueue | None = None) -> dict:
    """Replace the warehouse's copy of the accepted suggestions (`raw.catalog_accepted_metadata`,
    which dbt's catalog marts read) with the queue's, in one transaction."""
    rows = (queue or MetadataQueue()).accepted()
    con.execute("begin")
    try:
        con.execute(f"delete from {WAREHOUSE_TABLE}")
        if rows:
            con.executemany(
                f"insert into {WAREHOUSE_TABLE} values (?, ?, ?, ?, ?, cast(? as timestamptz))",
                rows,
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    counts: dict[str, int] = {}
    for _, kind, *_ in rows:
        counts[kind] = counts.get(kind, 0) + 1
    return {"accepted": counts}
