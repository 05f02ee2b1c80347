"""The outbox: every message an agent decides to send, and every decision it took, in one store.

    outbox = Outbox()
    outbox.decide(Decision(...))          # what the agent decided for a learner, and why
    outbox.enqueue(Message(...))          # idempotent: the same id twice is one message
    for m in outbox.due(now): ...         # what the delivery worker sends now
    outbox.mark_sent([m.message_id], now) / outbox.mark_failed(m.message_id, error, now)

Where it lives, and why: `$PATHWISE_HOME/outbox.sqlite` (SQLCipher with the at-rest key, like
the controls), not the warehouse. Three processes use it at once: the nightly flow writes
decisions and messages, the delivery worker marks them sent, and the read API reads a learner's
in-app nudges on every request. A DuckDB file lets one process write *or* several read
(../shared/STACK-NOTES.md: 55 of 226 reads failed while a writer rebuilt in place); SQLite in WAL
mode lets readers read while one writer commits. It lives in the base package, like the accounts
and the controls, because the erasure registry (`pathwise/rights/stores.py`) and the read API
must reach it and neither may import the agent layer above them.

Delivery is at least once: a message is marked sent only after its channel accepted it, so a crash
between the two sends it again on the next run; the id travels with it (webhook header, e-mail
Message-ID) so a receiver can drop the repeat. Ids are derived (agent, learner_key, reason, day), so
an agent re-run after a crash enqueues nothing twice. A failed attempt is retried after an
exponential backoff (`retry_base_seconds` x 2^(attempts-1), at most a day); after
`max_attempts` the message is `dead`, with its last error, and is kept for the audit trail.

No contact detail is stored here: an e-mail address or a platform user id is looked up at send
time (`pathwise/contacts.py`, the identity vault) and never written back.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pathwise.at_rest import sqlite_connect
from pathwise.settings import get_settings

SCHEMA = """
create table if not exists messages (
    message_id    text primary key,            -- derived: agent, learner_key, reason, day
    learner_key   text not null,
    agent         text not null,                -- e.g. 'reengage', or 'campaign:<id>'
    campaign_id   text,
    course_id     text,
    channel       text not null check (channel in ('in_app', 'email', 'webhook')),
    template      text not null,
    subject       text not null,
    body          text not null,                -- the rendered text, as sent
    reason        text not null,                -- e.g. 'inactive', 'dropout_risk'
    evidence      text not null,                -- JSON: signals and thresholds behind it
    state         text not null check (state in ('scheduled', 'failed', 'sent', 'dead')),
    attempts      integer not null default 0,
    last_error    text,
    created_at    text not null,                -- ISO-8601 UTC, microseconds
    scheduled_at  text not null,                -- next attempt not before this
    sent_at       text
);
create index if not exists messages_learner on messages (learner_key, created_at);
create index if not exists messages_due on messages (state, scheduled_at);
create table if not exists decisions (
    decision_id   text primary key,             -- the message id it would have (or has)
    learner_key   text not null,
    agent         text not null,
    course_id     text,
    day           text not null,                -- the decision's day (UTC)
    reason        text not null,
    outcome       text not null,                -- treated | holdout | opted_out | capped
    evidence      text not null,                -- JSON
    decided_at    text not null
);
create index if not exists decisions_learner on decisions (learner_key);
create index if not exists decisions_agent on decisions (agent, day);
"""

CHANNELS = ("in_app", "email", "webhook")
OUTCOMES = ("treated", "holdout", "opted_out", "capped")
MAX_BACKOFF = timedelta(days=1)


def message_id(agent: str, learner_key: str, reason: str, day: str) -> str:
    """The idempotent id of an agent's message to a learner for a reason on a day (UTC)."""
    text = "\x1f".join((agent, learner_key, reason, day))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Message:
    message_id: str
    learner_key: str
    agent: str
    channel: str
    template: str
    subject: str
    body: str
    reason: str
    evidence: dict
    course_id: str | None = None
    campaign_id: str | None = None
    state: str = "scheduled"
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = field(default_factory=_now)
    scheduled_at: datetime | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    decision_id: str
    learner_key: str
    agent: str
    day: str
    reason: str
    outcome: str
    evidence: dict
    course_id: str | None = None


class Outbox:
    """The outbox store, `$PATHWISE_HOME/outbox.sqlite` unless a path is given."""

    def __init__(self, path: Path | None = None) -> None:
        s = get_settings()
        self.path = Path(path or s.outbox_path)
        self.max_attempts = s.agents_max_attempts
        self.retry_base = timedelta(seconds=s.agents_retry_base_seconds)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite_connect(self.path, "outbox", timeout=10, isolation_level=None)
        try:
            db.execute("pragma journal_mode = wal")
            db.execute("pragma busy_timeout = 10000")
            db.execute("pragma secure_delete = on")  # erased rows are zeroed, not left in pages
            yield db
        finally:
            db.close()

    # -- writes ---------------------------------------------------------------------------------
    def decide(self, decisions: list[Decision], at: datetime | None = None) -> int:
        """Record decisions (idempotent: a decision already recorded stays as it was)."""
        at_s = _iso(at or _now())
        rows = [
            (d.decision_id, d.learner_key, d.agent, d.course_id, d.day, d.reason, d.outcome,
             json.dumps(d.evidence, sort_keys=True, default=str), at_s)
            for d in decisions
        ]  # fmt: skip
        return self._insert_new("decisions", "decision_id", rows)

    def enqueue(self, messages: list[Message]) -> int:
        """Add messages; one whose id is already here is left alone. Returns messages added."""
        for m in messages:
            if m.channel not in CHANNELS:
                raise ValueError(f"unknown channel {m.channel!r}; one of {', '.join(CHANNELS)}")
        rows = [
            (m.message_id, m.learner_key, m.agent, m.campaign_id, m.course_id, m.channel,
             m.template, m.subject, m.body, m.reason,
             json.dumps(m.evidence, sort_keys=True, default=str), "scheduled", 0, None,
             _iso(m.created_at), _iso(m.scheduled_at or m.created_at), None)
            for m in messages
        ]  # fmt: skip
        return self._insert_new("messages", "message_id", rows)

    def _insert_new(self, table: str, key: str, rows: list[tuple]) -> int:
        """Insert the rows whose key is not there yet, in one transaction; returns how many."""
        if not rows:
            return 0
        marks = ", ".join("?" * len(rows[0]))
        with self._db() as db:
            before = db.total_changes
            db.execute("begin immediate")
            db.executemany(
                f"insert into {table} values ({marks}) on conflict ({key}) do nothing", rows
            )
            db.execute("commit")
            return db.total_changes - before

    def mark_sent(self, message_ids: list[str], at: datetime | None = None) -> None:
        """Record accepted messages in one transaction (in-app nudges go by the thousand)."""
        at_s = _iso(at or _now())
        with self._db() as db:
            db.execute("begin immediate")
            db.executemany(
                "update messages set state = 'sent', sent_at = ?, attempts = attempts + 1, "
                "last_error = null where message_id = ? and state in ('scheduled', 'failed')",
                [(at_s, m) for m in message_ids],
            )
            db.execute("commit")

    def mark_failed(
        self, message_id: str, error: str, at: datetime | None = None, *, permanent: bool = False
    ) -> str:
        """Count a failed attempt: retried after a backoff, or `dead` after max_attempts (or at
        once when `permanent`). Returns the new state."""
        at = at or _now()
        with self._db() as db:
            db.execute("begin immediate")
            found = db.execute(
                "select attempts from messages where message_id = ?", (message_id,)
            ).fetchall()
            if not found:
                db.execute("rollback")
                raise KeyError(f"no message {message_id} in the outbox")
            attempts = found[0][0] + 1
            dead = permanent or attempts >= self.max_attempts
            wait = min(self.retry_base * 2 ** (attempts - 1), MAX_BACKOFF)
            db.execute(
                "update messages set state = ?, attempts = ?, last_error = ?, scheduled_at = ? "
                "where message_id = ?",
                ("dead" if dead else "failed", attempts, error[:500], _iso(at + wait), message_id),
            )
            db.execute("commit")
        return "dead" if dead else "failed"

    def defer(self, message_id: str, until: datetime) -> None:
        """Not now (quiet hours, the kill switch): try again at `until`, no attempt counted."""
        with self._db() as db:
            db.execute(
                "update messages set scheduled_at = ? where message_id = ? "
                "and state in ('scheduled', 'failed')",
                (_iso(until), message_id),
            )

    # -- reads ----------------------------------------------------------------------------------
    def due(self, at: datetime | None = None, limit: int = 10_000) -> list[Message]:
        """Messages to attempt now, oldest first."""
        return self._messages(
            "state in ('scheduled', 'failed') and scheduled_at <= ? "
            "order by scheduled_at, message_id limit ?",
            (_iso(at or _now()), limit),
        )

    def get(self, message_id: str) -> Message | None:
        found = self._messages("message_id = ?", (message_id,))
        return found[0] if found else None

    def messages(self, state: str | None = None) -> list[Message]:
        if state is None:
            return self._messages("1 = 1 order by created_at, message_id", ())
        return self._messages("state = ? order by created_at, message_id", (state,))

    def inbox(self, learner_key: str, since: datetime, limit: int = 20) -> list[Message]:
        """A learner's delivered in-app nudges since `since`, newest first (the read API)."""
        return self._messages(
            "learner_key = ? and channel = 'in_app' and state = 'sent' and sent_at >= ? "
            "order by sent_at desc limit ?",
            (learner_key, _iso(since), limit),
        )

    def contacts_since(self, since: datetime) -> dict[str, int]:
        """learner_key -> contacts since `since` (frequency caps): messages created that are not
        dead, and holdout decisions: the messages a held-out learner would have had, so the caps
        screen the holdout as they screen the treated (else the treated arm loses its recently
        contacted learners to the caps and the holdout keeps them: a biased comparison)."""
        with self._db() as db:
            rows = db.execute(
                "select learner_key, count(*) from ("
                " select learner_key from messages where created_at >= ? and state <> 'dead'"
                " union all"
                " select learner_key from decisions where decided_at >= ? and outcome = 'holdout'"
                ") group by learner_key",
                (_iso(since), _iso(since)),
            ).fetchall()
        return dict(rows)

    def decisions(self, agent: str | None = None) -> list[Decision]:
        with self._db() as db:
            rows = db.execute(
                "select decision_id, learner_key, agent, day, reason, outcome, evidence, "
                "course_id from decisions where ? is null or agent = ? order by decision_id",
                (agent, agent),
            ).fetchall()
        return [Decision(*r[:6], json.loads(r[6]), r[7]) for r in rows]

    def deciding_agents(self) -> set[str]:
        """The agents (a campaign is `campaign:<id>`) with at least one decision recorded."""
        with self._db() as db:
            return {r[0] for r in db.execute("select distinct agent from decisions").fetchall()}

    def assignments(self) -> list[dict]:
        """Who each agent assigned to a message (`treated`) or kept in the holdout, and when:
        agent, learner_key, course_id, treated, decided_at (what uplift compares; opted-out and
        capped learners were neither)."""
        with self._db() as db:
            rows = db.execute(
                "select agent, learner_key, course_id, outcome = 'treated', decided_at "
                "from decisions where outcome in ('treated', 'holdout') "
                "order by decided_at, decision_id"
            ).fetchall()
        names = ("agent", "learner_key", "course_id", "treated", "decided_at")
        return [
            dict(zip(names, (*r[:3], bool(r[3]), datetime.fromisoformat(r[4])), strict=True))
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        """Messages per state."""
        with self._db() as db:
            return dict(db.execute("select state, count(*) from messages group by 1").fetchall())

    def _messages(self, where: str, params: tuple) -> list[Message]:
        with self._db() as db:
            cur = db.execute(f"select * from messages where {where}", params)
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        for r in rows:
            r["evidence"] = json.loads(r["evidence"])
            for t in ("created_at", "scheduled_at", "sent_at"):
                r[t] = r[t] and datetime.fromisoformat(r[t])
        return [Message(**r) for r in rows]

    # -- rights (pathwise/rights/stores.py) ------------------------------------------------------
    def learner_records(self, learner_key: str) -> dict[str, list[dict]]:
        """A learner's messages and decisions (export)."""
        msgs = [asdict(m) for m in self._messages("learner_key = ?", (learner_key,))]
        decs = [asdict(d) for d in self.decisions() if d.learner_key == learner_key]
        return {"outbox.messages": msgs, "outbox.decisions": decs}

    def forget_before(self, cutoff: datetime, dry_run: bool = False) -> int:
        """Retention: messages created and decisions taken before `cutoff` (naive UTC) go, then
        the file is compacted as after erasure. Returns rows deleted (or, dry, that would be)."""
        since = _iso(cutoff.replace(tzinfo=UTC))
        with self._db() as db:
            n = 0
            for table, column in (("messages", "created_at"), ("decisions", "decided_at")):
                if dry_run:
                    n += db.execute(
                        f"select count(*) from {table} where {column} < ?", (since,)
                    ).fetchone()[0]
                else:
                    n += db.execute(f"delete from {table} where {column} < ?", (since,)).rowcount
            if n and not dry_run:
                db.execute("vacuum")
                db.execute("pragma wal_checkpoint(truncate)")
        return n

    def forget_learner(self, learner_key: str) -> int:
        """Erase a learner's messages and decisions, then VACUUM and truncate the WAL, so no
        page of the file keeps them. Returns rows deleted."""
        with self._db() as db:
            deleted = db.execute("delete from messages where learner_key = ?", (learner_key,))
            n = deleted.rowcount
            n += db.execute("delete from decisions where learner_key = ?", (learner_key,)).rowcount
            db.execute("vacuum")
            db.execute("pragma wal_checkpoint(truncate)")
        return n
