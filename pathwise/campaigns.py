"""The campaigns an agent proposed and their status, with the admin actions on them (approve, edit
the message, schedule, pause, stop), each in one transaction with its audit row.

Where: `controls.sqlite`, beside the other admin controls, because the Control Tower writes while
the nightly flow reads (SQLite in WAL mode allows it; a DuckDB file does not), with the same
encryption at rest; campaign actions go to its `audit_log`, so the Control Tower's one audit
trail shows them. It lives in the base package, like the controls and the outbox, because the
app's Campaigns page must reach it and the apps may not import the agent layer
(tests/test_layers.py); what to propose is decided in `agents/campaigns.py`, what is sent in
`agents/campaign_sends.py`. Campaign rows hold no learner data (the audience is
`agents.cohort_members` in the warehouse, covered by erasure there).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pathwise.at_rest import sqlite_connect
from pathwise.controls import ControlError, ControlStore
from pathwise.settings import get_settings

TYPES = ("nudge_sequence", "course_bundle", "live_session")
STATUSES = ("proposed", "approved", "scheduled", "paused", "stopped")
# action -> (statuses it may start from, status it leads to)
TRANSITIONS = {
    "approve": (("proposed", "paused"), "approved"),
    # Scheduling approves for a later start: an approved campaign sends at the next run.
    "schedule": (("proposed", "approved", "paused"), "scheduled"),
    "pause": (("approved", "scheduled"), "paused"),
    "stop": (("proposed", "approved", "scheduled", "paused"), "stopped"),
}
EDITABLE = ("proposed", "approved", "paused")  # a scheduled campaign is paused first
OPEN = ("proposed", "approved", "scheduled", "paused")  # may still send: needs its audience

SCHEMA = """
create table if not exists campaigns (
    campaign_id        integer primary key,
    cohort_id          text not null unique,    -- agents.cohorts.cohort_id (one proposal each)
    run_id             text not null,
    course_id          text not null,
    campaign_type      text not null,
    status             text not null default 'proposed',
    audience_size      integer not null,
    holdout_share      real not null,
    title              text not null,
    message            text not null,           -- the preview; admins may edit it
    refresher_course_id text,                   -- course_bundle only
    module_id          text,                    -- the stalling module, when the cohort shares one
    expected_prevented real not null,           -- treated x mean risk x assumed lift
    explanation        text not null,           -- the cohort's sentence
    created_at         text not null,
    updated_at         text not null,
    scheduled_for      text
);
create table if not exists campaign_type_modes (
    campaign_type text primary key,
    auto          integer not null               -- 1: approved on proposal
);
"""


class CampaignError(ControlError):
    """An action the campaign's status or the input does not allow; the message says why. (A
    missing actor or reason raises its parent, ControlError, as for every admin control.)"""


@dataclass(frozen=True)
class Proposal:
    campaign_type: str
    title: str
    message: str
    refresher_course_id: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CampaignStore:
    """Campaign proposals and their status in `controls.sqlite` (or `path`); each change in one
    transaction with its audit row, through the ControlStore that owns the file."""

    def __init__(self, path: Path | None = None) -> None:
        self.controls = ControlStore(path)  # the file, its audit log and its transactions
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection for reading (changes go through `_change`)."""
        db = sqlite_connect(self.controls.path, "controls", timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("pragma busy_timeout = 10000")
            yield db
        finally:
            db.close()

    @contextmanager
    def _change(self, actor: str, reason: str) -> Iterator[sqlite3.Connection]:
        with self.controls.transaction(actor, reason) as db:
            db.row_factory = sqlite3.Row
            yield db

    def _audited(self, db, actor: str, action: str, campaign_id, details: dict, reason: str):
        self.controls.record(
            db, actor, f"campaign_{action}", f"campaign:{campaign_id}", details, reason
        )

    # -- reading ----------------------------------------------------------------------------
    def get(self, campaign_id: int) -> dict:
        with self._db() as db:
            row = db.execute("select * from campaigns where campaign_id = ?", (campaign_id,))
            found = row.fetchone()
        if found is None:
            raise CampaignError(f"no campaign {campaign_id}")
        return dict(found)

    def list(self, status: str | None = None) -> list[dict]:
        """Campaigns, newest first (only those in `status` if given)."""
        with self._db() as db:
            rows = db.execute(
                "select * from campaigns where ? is null or status = ? "
                "order by created_at desc, expected_prevented desc",
                (status, status),
            ).fetchall()
        return [dict(r) for r in rows]

    def due(self, now: datetime) -> list[dict]:
        """Campaigns that send now: approved ones, and scheduled ones whose time has come."""
        return [
            c
            for c in self.list()
            if c["status"] == "approved"
            or (c["status"] == "scheduled" and datetime.fromisoformat(c["scheduled_for"]) <= now)
        ]

    def statuses(self) -> dict[int, str]:
        """campaign_id -> status (what the delivery worker checks before sending)."""
        with self._db() as db:
            return dict(db.execute("select campaign_id, status from campaigns").fetchall())

    def audit(self, campaign_id: int) -> list[dict]:
        with self._db() as db:
            rows = db.execute(
                "select * from audit_log where target = ? order by audit_id",
                (f"campaign:{campaign_id}",),
            ).fetchall()
        return [dict(r) for r in rows]

    def auto_types(self) -> set[str]:
        with self._db() as db:
            rows = db.execute("select campaign_type from campaign_type_modes where auto = 1")
            return {r[0] for r in rows.fetchall()}

    # -- admin actions ----------------------------------------------------------------------
    def act(
        self,
        campaign_id: int,
        action: str,
        *,
        actor: str,
        reason: str,
        scheduled_for: datetime | None = None,
    ) -> dict:
        """approve | schedule (needs `scheduled_for`) | pause | stop, audited; returns the row."""
        if action not in TRANSITIONS:
            raise CampaignError(f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}")
        allowed, to = TRANSITIONS[action]
        if action == "schedule" and scheduled_for is None:
            raise CampaignError("scheduling needs the time to start (scheduled_for)")
        with self._change(actor, reason) as db:
            status = self._status(db, campaign_id)
            if status not in allowed:
                raise CampaignError(
                    f"campaign {campaign_id} is {status}: '{action}' works only on a campaign "
                    f"that is {' or '.join(allowed)}"
                )
            when = scheduled_for.astimezone(UTC).isoformat() if scheduled_for else None
            db.execute(
                "update campaigns set status = ?, updated_at = ?, "
                "scheduled_for = coalesce(?, scheduled_for) where campaign_id = ?",
                (to, _now(), when, campaign_id),
            )
            self._audited(db, actor, action, campaign_id, {"from": status, "to": to,
                                                           "scheduled_for": when}, reason)  # fmt: skip
        return self.get(campaign_id)

    def edit_message(self, campaign_id: int, message: str, *, actor: str, reason: str) -> dict:
        """Replace the message (audited with the old and the new text)."""
        if not message.strip():
            raise CampaignError("the message cannot be empty")
        with self._change(actor, reason) as db:
            status = self._status(db, campaign_id)
            if status not in EDITABLE:
                raise CampaignError(
                    f"campaign {campaign_id} is {status}: pause it before editing its message"
                    if status == "scheduled"
                    else f"campaign {campaign_id} is stopped: its message cannot change"
                )
            old = db.execute(
                "select message from campaigns where campaign_id = ?", (campaign_id,)
            ).fetchone()[0]
            db.execute(
                "update campaigns set message = ?, updated_at = ? where campaign_id = ?",
                (message, _now(), campaign_id),
            )
            self._audited(db, actor, "edit", campaign_id, {"old": old, "new": message}, reason)
        return self.get(campaign_id)

    def set_auto(self, campaign_type: str, auto: bool, *, actor: str, reason: str) -> None:
        """Let proposals of a type be approved without an admin (or stop that), audited."""
        if campaign_type not in TYPES:
            raise CampaignError(f"unknown campaign type {campaign_type!r}; one of {TYPES}")
        with self._change(actor, reason) as db:
            db.execute(
                "insert into campaign_type_modes values (?, ?) "
                "on conflict (campaign_type) do update set auto = excluded.auto",
                (campaign_type, int(auto)),
            )
            self._audited(db, actor, "set_auto", campaign_type, {"auto": auto}, reason)

    @staticmethod
    def _status(db: sqlite3.Connection, campaign_id: int) -> str:
        row = db.execute("select status from campaigns where campaign_id = ?", (campaign_id,))
        found = row.fetchone()
        if found is None:
            raise CampaignError(f"no campaign {campaign_id}")
        return found[0]

    # -- proposals --------------------------------------------------------------------------
    def add(self, cohort: dict, proposal: Proposal) -> int | None:
        """Store one proposal for a cohort (None if it already has one); auto types approved."""
        auto = proposal.campaign_type in self.auto_types()
        share = get_settings().campaign_holdout_share  # kept with the campaign: it may change
        treated = cohort["size"] * (1 - share)
        with self._change("agents.campaigns", "proposed for a cohort") as db:
            cur = db.execute(
                "insert into campaigns (cohort_id, run_id, course_id, campaign_type, status, "
                "audience_size, holdout_share, title, message, refresher_course_id, module_id, "
                "expected_prevented, explanation, created_at, updated_at) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "on conflict (cohort_id) do nothing",
                (
                    cohort["cohort_id"], cohort["run_id"], cohort["course_id"],
                    proposal.campaign_type, "approved" if auto else "proposed", cohort["size"],
                    share, proposal.title, proposal.message, proposal.refresher_course_id,
                    cohort["stall_module_id"],
                    treated * cohort["mean_risk"] * cohort["expected_lift"],
                    cohort["explanation"], _now(), _now(),
                ),
            )  # fmt: skip
            if not cur.rowcount:
                return None
            campaign_id = cur.lastrowid
            self._audited(db, "agents.campaigns", "propose", campaign_id,
                          {"cohort_id": cohort["cohort_id"], "type": proposal.campaign_type},
                          "proposed for a cohort")  # fmt: skip
            if auto:
                self._audited(db, "auto", "approve", campaign_id,
                              {"from": "proposed", "to": "approved"},
                              f"{proposal.campaign_type} campaigns are set to auto")  # fmt: skip
        return campaign_id
