"""Admin controls: course boosts and suppressions (with expiry), blend weights, the agents' kill
switch, and their audit log.

Admins change these in the Control Tower; the read API applies them to every response at once and the
nightly ranking honours them too. They live in SQLite, not in the warehouse: the app writes, the API
reads and the nightly flow reads at the same time, from different processes, and SQLite (WAL mode)
lets them, where a DuckDB file allows one writer and no readers beside it. With
PATHWISE_WAREHOUSE_KEY set the file is SQLCipher (the same SQLite, pages AES-encrypted:
pathwise/at_rest.py), so this holds encrypted too.

This module is the one owner of "what is in force": `ControlHistory.at(t)` alone decides which
controls and weights apply at an instant (the recommender, the read API and the app all ask it, via
`ControlStore.in_force` or `ControlWatcher.in_force`), `check_weights` alone validates weights, and
`course_effects` alone says what the controls in force do to a course.

    store = ControlStore()
    store.boost("c-017", amount=0.3, reason="spring campaign", days=14, actor="ada")
    now = store.in_force()
    ranked, used = apply_controls(candidates, now.controls, k=10)
    weights = now.weights(defaults)           # the model's default weights, admins' on top
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pathwise.at_rest import sqlite_connect
from pathwise.settings import get_settings

SCHEMA = """
create table if not exists course_controls (
    control_id  integer primary key,
    course_id   text not null,
    action      text not null check (action in ('boost', 'suppress')),
    amount      real not null default 0,     -- boost: added to the score; suppress: unused
    reason      text not null check (length(trim(reason)) > 0),
    created_by  text not null,
    created_at  text not null,               -- ISO-8601 UTC
    expires_at  text,                        -- null: until revoked
    revoked_at  text,
    revoked_by  text
);
create index if not exists course_controls_course on course_controls (course_id);
create table if not exists blend_weights (
    weights_id  integer primary key,
    weights     text not null,               -- JSON {signal: weight}
    reason      text not null,
    created_by  text not null,
    created_at  text not null
);
create table if not exists agent_switch (  -- the agents' kill switch: the newest row is in force
    switch_id   integer primary key,
    paused      integer not null check (paused in (0, 1)),
    reason      text not null,
    created_by  text not null,
    created_at  text not null
);
create table if not exists audit_log (
    audit_id    integer primary key,
    at          text not null,
    actor       text not null,
    action      text not null,               -- boost | suppress | revoke | set_weights | ...
    target      text,
    details     text not null,               -- JSON
    reason      text
);
"""

MAX_BOOST = 1.0  # scores are blends of signals normalised to [0, 1]; a bigger boost is a pin


class ControlError(ValueError):
    """A control that cannot be saved; the message says what to change."""


@dataclass(frozen=True)
class CourseControl:
    control_id: int
    course_id: str
    action: str
    amount: float
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = None

    def in_force_at(self, at: datetime) -> bool:
        """Saved by `at`, and neither expired nor revoked by then."""
        return (
            self.created_at <= at
            and (self.expires_at is None or self.expires_at > at)
            and (self.revoked_at is None or self.revoked_at > at)
        )


@dataclass(frozen=True)
class InForce:
    """The boosts, suppressions and blend weights in force at one instant."""

    at: datetime
    controls: tuple[CourseControl, ...]
    saved_weights: dict[str, float]  # the newest weights saved by `at`; {} for none

    def weights(self, defaults: Mapping[str, float]) -> dict[str, float]:
        """The blend weights in force: the saved ones over the model's `defaults`.

        A saved signal the model no longer has is ignored (a retired signal); one the admins never
        set keeps its default."""
        return resolve_weights(
            defaults, {k: v for k, v in self.saved_weights.items() if k in defaults}
        )


@dataclass(frozen=True)
class ControlHistory:
    """Every control and every saved set of weights, oldest first: enough to answer for any t."""

    controls: tuple[CourseControl, ...]
    weights: tuple[tuple[datetime, dict[str, float]], ...]  # (saved at, weights)

    def at(self, at: datetime | None = None) -> InForce:
        """What was (or is) in force at `at` (default: now; a naive time is UTC, as everywhere in the
        warehouse). The only place this is decided."""
        at = _now() if at is None else at if at.tzinfo else at.replace(tzinfo=UTC)
        saved = [w for t, w in self.weights if t <= at]
        return InForce(
            at=at,
            controls=tuple(c for c in self.controls if c.in_force_at(at)),
            saved_weights=dict(saved[-1]) if saved else {},
        )


def check_weights(weights: Mapping[str, float], known: Iterable[str] | None = None) -> None:
    """Refuse blend weights that are not finite numbers >= 0, all zero, or (given `known`) name an
    unknown signal. The one validation for weights, wherever they come from."""
    if known is not None:
        known = list(known)
        unknown = sorted(set(weights) - set(known))
        if unknown:
            raise ControlError(
                f"Unknown signal {unknown[0]!r} in the blend weights; known: {', '.join(known)}"
            )
    for name, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise ControlError(f"blend weights: {name!r} must be a number >= 0, got {w!r}")
    if weights and sum(weights.values()) <= 0:
        raise ControlError(f"blend weights must not all be zero; got {dict(weights)}")


def resolve_weights(
    defaults: Mapping[str, float], overrides: Mapping[str, float] | None = None
) -> dict[str, float]:
    """`defaults` with `overrides` on top, checked (an unknown signal name is refused)."""
    merged = {**defaults, **(overrides or {})}
    check_weights(merged, known=defaults)
    return {name: float(w) for name, w in merged.items()}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(ts: datetime | None) -> str | None:
    # Microseconds: "was it in force at t" must not depend on two changes sharing a second.
    return None if ts is None else ts.astimezone(UTC).isoformat(timespec="microseconds")


def _parse(ts: str | None) -> datetime | None:
    return None if ts is None else datetime.fromisoformat(ts)


class ControlStore:
    """The controls database, `$PATHWISE_HOME/controls.sqlite` unless a path is given."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path or get_settings().controls_path)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite_connect(self.path, "controls", timeout=10, isolation_level=None)
        try:
            db.execute("pragma journal_mode = wal")
            db.execute("pragma busy_timeout = 10000")
            yield db
        finally:
            db.close()

    # -- changes (each one in a transaction with its audit row) ---------------------------------

    def _change(
        self,
        actor: str,
        action: str,
        target: str,
        details: dict,
        reason: str,
        sql: str,
        params: Sequence,
    ) -> int:
        with self.transaction(actor, reason) as db:
            row_id = db.execute(sql, params).lastrowid or 0
            self.record(db, actor, action, target, details, reason)
        return row_id

    @contextmanager
    def transaction(self, actor: str, reason: str) -> Iterator[sqlite3.Connection]:
        """One write transaction on the controls database, for a change made by `actor` for
        `reason` (both required): the controls here, and other admin stores kept in the same
        file (pathwise/campaigns.py), which `record` their changes in the same audit log."""
        if not actor.strip():
            raise ControlError("every change needs the name of who makes it (actor)")
        if not reason.strip():
            raise ControlError("every change needs a reason; it is shown in the audit log")
        with self._db() as db:
            db.execute("begin immediate")
            try:
                yield db
                db.execute("commit")
            except BaseException:
                db.execute("rollback")
                raise

    @staticmethod
    def record(
        db: sqlite3.Connection, actor: str, action: str, target: str, details: dict, reason: str
    ) -> None:
        """Add an audit row inside a `transaction`."""
        db.execute(
            "insert into audit_log (at, actor, action, target, details, reason) "
            "values (?, ?, ?, ?, ?, ?)",
            (_iso(_now()), actor, action, target, json.dumps(details, default=str), reason),
        )

    def _control(
        self,
        action: str,
        course_id: str,
        amount: float,
        reason: str,
        days: float | None,
        actor: str,
    ) -> int:
        if not course_id.strip():
            raise ControlError("course_id is empty")
        if days is not None and days <= 0:
            raise ControlError("expiry must be in the future: give days > 0, or none for no expiry")
        created = _now()
        expires = None if days is None else created + timedelta(days=days)
        return self._change(
            actor,
            action,
            course_id,
            {"amount": amount, "expires_at": _iso(expires)},
            reason,
            "insert into course_controls (course_id, action, amount, reason, created_by, "
            "created_at, expires_at) values (?, ?, ?, ?, ?, ?, ?)",
            (course_id, action, amount, reason, actor, _iso(created), _iso(expires)),
        )

    def boost(
        self, course_id: str, *, amount: float, reason: str, actor: str, days: float | None = 14
    ) -> int:
        """Add `amount` (0 < amount <= 1) to the course's score wherever it is a candidate."""
        if not 0 < amount <= MAX_BOOST:
            raise ControlError(f"boost amount must be in (0, {MAX_BOOST}]; got {amount}")
        return self._control("boost", course_id, amount, reason, days, actor)

    def suppress(
        self, course_id: str, *, reason: str, actor: str, days: float | None = None
    ) -> int:
        """Never show the course while the suppression is active."""
        return self._control("suppress", course_id, 0.0, reason, days, actor)

    def revoke(self, control_id: int, *, reason: str, actor: str) -> None:
        """End a control now (it stays in the history and the audit log)."""
        with self._db() as db:
            found = db.execute(
                "select course_id from course_controls where control_id = ? and revoked_at is null",
                (control_id,),
            ).fetchall()
        if not found:
            raise ControlError(f"no active control with id {control_id}")
        self._change(
            actor,
            "revoke",
            found[0][0],
            {"control_id": control_id},
            reason,
            "update course_controls set revoked_at = ?, revoked_by = ? where control_id = ?",
            (_iso(_now()), actor, control_id),
        )

    def set_weights(
        self,
        weights: dict[str, float],
        *,
        reason: str,
        actor: str,
        known: Iterable[str] | None = None,
    ) -> int:
        """Save new blend weights (of the signals `known`, when given); the newest is in force."""
        if not weights:
            raise ControlError("blend weights: give at least one signal's weight")
        check_weights(weights, known)
        return self._change(
            actor,
            "set_weights",
            "blend",
            {"weights": weights},
            reason,
            "insert into blend_weights (weights, reason, created_by, created_at) values (?, ?, ?, ?)",
            (json.dumps(weights, sort_keys=True), reason, actor, _iso(_now())),
        )

    def clear_weights(self, *, reason: str, actor: str) -> int:
        """End the admins' override: the model's own (tuned) weights are in force again."""
        return self._change(
            actor,
            "clear_weights",
            "blend",
            {"weights": {}},
            reason,
            "insert into blend_weights (weights, reason, created_by, created_at) values (?, ?, ?, ?)",
            ("{}", reason, actor, _iso(_now())),
        )

    def pause_agents(self, paused: bool, *, reason: str, actor: str) -> int:
        """The kill switch: while paused, no agent decides anything and no message goes out
        (agents/); resuming lets deferred messages go on the next delivery."""
        return self._change(
            actor,
            "pause_agents" if paused else "resume_agents",
            "agents",
            {"paused": paused},
            reason,
            "insert into agent_switch (paused, reason, created_by, created_at) values (?, ?, ?, ?)",
            (int(paused), reason, actor, _iso(_now())),
        )

    def agents_paused(self) -> bool:
        """Is the agents' kill switch on (the newest switch row says paused)?"""
        with self._db() as db:
            row = db.execute(
                "select paused from agent_switch order by switch_id desc limit 1"
            ).fetchall()
        return bool(row and row[0][0])

    # -- reads --------------------------------------------------------------------------------

    def history(self) -> ControlHistory:
        """Every control and saved weights, for `ControlHistory.at` (the tables stay small)."""
        with self._db() as db:
            controls = db.execute(
                "select control_id, course_id, action, amount, reason, created_by, created_at, "
                "expires_at, revoked_at from course_controls order by control_id"
            ).fetchall()
            weights = db.execute(
                "select created_at, weights from blend_weights order by weights_id"
            ).fetchall()
        return ControlHistory(
            controls=tuple(
                CourseControl(
                    control_id=r[0],
                    course_id=r[1],
                    action=r[2],
                    amount=r[3],
                    reason=r[4],
                    created_by=r[5],
                    created_at=datetime.fromisoformat(r[6]),
                    expires_at=_parse(r[7]),
                    revoked_at=_parse(r[8]),
                )
                for r in controls
            ),
            weights=tuple((datetime.fromisoformat(t), json.loads(w)) for t, w in weights),
        )

    def in_force(self, at: datetime | None = None) -> InForce:
        """The controls and weights in force at `at` (default: now)."""
        return self.history().at(at)

    def audit(self, limit: int = 200) -> list[dict]:
        """The newest changes first: who, when, what, why."""
        with self._db() as db:
            cursor = db.execute("select * from audit_log order by audit_id desc limit ?", (limit,))
            names = [c[0] for c in cursor.description]
            rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        return [{**r, "details": json.loads(r["details"])} for r in rows]

    def revision(self) -> int:
        """Changes so far; cheap, so readers can cache controls until it moves."""
        with self._db() as db:
            return db.execute("select coalesce(max(audit_id), 0) from audit_log").fetchall()[0][0]


def without_nightly_boost(rows: Iterable[dict]) -> list[dict]:
    """Candidate rows as the nightly run wrote them -> base scores, ready for `apply_controls`.

    The nightly ranking honoured the boosts of its time (so boosted courses are among the
    candidates) and added them to `score`. Readers apply the controls in force *now*, so the old
    boost comes off the score and stays only as `nightly_boost`, to re-place a row whose boost
    has ended.
    """
    out = []
    for row in rows:
        boost = row.get("boost") or 0.0
        boost = 0.0 if boost != boost else boost  # NaN (pandas' missing value) is no boost
        row = {k: v for k, v in row.items() if k != "boost"}
        out.append({**row, "score": row["score"] - boost, "nightly_boost": boost})
    return out


@dataclass(frozen=True)
class CourseEffect:
    """What the controls in force do to one course: the one definition of a boost and a suppression."""

    suppressed_by: int | None = None  # a suppression's control_id: the course is never shown
    boost: float = 0.0  # added to the course's score (several boosts add up)
    boosted_by: tuple[int, ...] = ()


def course_effects(controls: Iterable[CourseControl]) -> dict[str, CourseEffect]:
    """course_id -> its effect, for every course a control names (the recommender applies these to
    its score matrix, `apply_controls` to one learner's list)."""
    out: dict[str, CourseEffect] = {}
    for c in controls:
        e = out.get(c.course_id, CourseEffect())
        if c.action == "suppress":
            e = replace(e, suppressed_by=e.suppressed_by or c.control_id)
        elif c.action == "boost":
            e = replace(e, boost=e.boost + c.amount, boosted_by=(*e.boosted_by, c.control_id))
        else:
            raise ControlError(f"control actions are 'boost' or 'suppress', not {c.action!r}")
        out[c.course_id] = e
    return out


def apply_controls(
    candidates: Sequence[dict], controls: Sequence[CourseControl], k: int
) -> tuple[list[dict], list[int]]:
    """Re-rank one learner's candidates under the controls; returns the top k and the controls used.

    Each candidate is a dict with at least `course_id` and `score`, in the recommender's rank order
    (which may differ from score order: the list is diversified). Suppressed courses are removed.
    A boosted course gets its boost added to its score (and `boost` set on the row) and moves up in
    front of the first course scoring less; every other course keeps its place relative to the rest.
    A boosted course that is not among the learner's candidates is not added: it was not eligible
    for this learner. A row with `nightly_boost` (ranked under a boost at the nightly run) whose
    boost has ended is re-placed by its own score the same way.
    """
    effects = course_effects(controls)
    used: set[int] = set()
    kept, lifted = [], []
    for row in candidates:
        e = effects.get(row["course_id"])
        if e is not None and e.suppressed_by is not None:
            used.add(e.suppressed_by)
        elif e is not None and e.boost:
            lifted.append({**row, "score": row["score"] + e.boost, "boost": e.boost})
        elif row.get("nightly_boost"):  # placed by a boost that has ended since: re-place it
            lifted.append(row)
        else:
            kept.append(row)
    for row in sorted(lifted, key=lambda r: -r["score"]):
        at = next((i for i, r in enumerate(kept) if r["score"] < row["score"]), len(kept))
        kept.insert(at, row)
    top = [{**r, "rank": i + 1} for i, r in enumerate(kept[:k])]
    # Boosts count as applied only where they reached what the learner sees.
    for r in top:
        used.update(effects[r["course_id"]].boosted_by if r["course_id"] in effects else ())
    return top, sorted(used)


class ControlWatcher:
    """What is in force, for a long-running reader (the read API), re-read only when it changes.

    Holds one SQLite connection; `pragma data_version` changes whenever another connection commits,
    so checking it per request costs microseconds and a saved boost applies to the next response.
    Use from one thread (the API's event loop).
    """

    def __init__(self, store: ControlStore | None = None) -> None:
        self.store = store or ControlStore()
        self._db = sqlite_connect(self.store.path, "controls", check_same_thread=False)
        self._seen: int | None = None
        self._history = ControlHistory((), ())

    def in_force(self) -> InForce:
        version = self._db.execute("pragma data_version").fetchall()[0][0]
        if version != self._seen:
            self._history = self.store.history()
            self._seen = version
        return self._history.at(_now())  # expiry is judged now, not when last read

    def close(self) -> None:
        self._db.close()
