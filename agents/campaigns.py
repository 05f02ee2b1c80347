"""Campaign proposals for the top cohorts, and the admin actions on them (approve, edit the
message, schedule, pause, stop), each in one transaction with its audit row.

Propose (`propose`, nightly after `cohorts.run`): for each of the latest run's top cohorts not
proposed yet, one campaign, the first that fits:

- a **live session** for the instructor on the stalling module, when the cohort shares one and is
  at least `LIVE_SESSION_MIN` learners (an instructor's hour is worth it for a group, not for ten);
- a **course bundle** with a refresher: a prerequisite of the course (`marts.course_prerequisites`)
  the recommender already suggests to most cohort members (`ml.recommendations`), else the one
  sharing most skills with the course (`marts.course_skills`);
- a **nudge sequence** otherwise.

Each has its audience (the cohort's size), a message preview built from the catalog only (no
learner data), the expected effect (treated members x mean risk x the assumed lift) and a
holdout share. Nothing is sent here: the outbox sends what is approved or scheduled, minus the
holdout. A campaign type an admin set to auto (`set_auto`) is approved on proposal, by `auto`.

Where: `controls.sqlite`, beside the other admin controls, because the Control Tower writes while
the nightly flow reads (SQLite in WAL mode allows it; a DuckDB file does not), with the same
encryption at rest; campaign actions go to its `audit_log`, so the Control Tower's one audit
trail shows them. Campaign rows hold no learner data (the audience is `agents.cohort_members` in
the warehouse, covered by erasure there).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from agents import cohorts as cohort_finder
from pathwise.at_rest import sqlite_connect
from pathwise.controls import ControlError, ControlStore

TOP_COHORTS = 10  # proposals per run: an admin reviews a page, not a list of hundreds
LIVE_SESSION_MIN = 25
# Share of each audience kept out as the control group. 20% keeps the treated arm large while a
# 50-learner cohort still has a 10-learner holdout (agents/uplift.py's interval handles it).
HOLDOUT_SHARE = 0.2
TYPES = ("nudge_sequence", "course_bundle", "live_session")
STATUSES = ("proposed", "approved", "scheduled", "paused", "stopped")
# action -> (statuses it may start from, status it leads to)
TRANSITIONS = {
    "approve": (("proposed", "paused"), "approved"),
    "schedule": (("approved", "paused"), "scheduled"),
    "pause": (("approved", "scheduled"), "paused"),
    "stop": (("proposed", "approved", "scheduled", "paused"), "stopped"),
}
EDITABLE = ("proposed", "approved", "paused")  # a scheduled campaign is paused first

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
        treated = cohort["size"] * (1 - HOLDOUT_SHARE)
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
                    HOLDOUT_SHARE, proposal.title, proposal.message, proposal.refresher_course_id,
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


# ------------------------------------------------------------------ deciding what to propose
def _catalog(con: duckdb.DuckDBPyConnection, cohort_ids: list[str]) -> dict[str, pl.DataFrame]:
    """What proposals are built from: modules, refresher candidates (prerequisites with the
    recommender's and the skill graph's support), per cohort."""
    con.register("_ids", pl.DataFrame({"cohort_id": cohort_ids}).to_arrow())
    has_recs = bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_catalog = 'warehouse' and table_schema = 'ml' "
            "and table_name = 'recommendations'"
        ).fetchall()[0][0]
    )
    recommended = (
        """
        select m.cohort_id, r.course_id as refresher_course_id, count(*) as recommended_to
        from warehouse.agents.cohort_members m
        join warehouse.ml.recommendations r using (learner_key)
        where m.cohort_id in (select cohort_id from _ids)
        group by 1, 2
        """
        if has_recs
        else "select null::varchar as cohort_id, null::varchar as refresher_course_id, "
        "0::bigint as recommended_to where false"
    )
    try:
        refreshers = con.execute(
            f"""
            with rec as ({recommended}),
            shared as (
                select p.course_id, p.prerequisite_course_id, count(s2.skill_name) as skills
                from warehouse.marts.course_prerequisites p
                left join warehouse.marts.course_skills s1 on s1.course_id = p.course_id
                left join warehouse.marts.course_skills s2
                    on s2.course_id = p.prerequisite_course_id and s2.skill_name = s1.skill_name
                group by 1, 2
            )
            select c.cohort_id, s.prerequisite_course_id as refresher_course_id,
                   coalesce(t.course_title, s.prerequisite_course_id) as refresher_title,
                   coalesce(rec.recommended_to, 0) as recommended_to, s.skills
            from warehouse.agents.cohorts c
            join shared s on s.course_id = c.course_id
            left join rec on rec.cohort_id = c.cohort_id
                and rec.refresher_course_id = s.prerequisite_course_id
            left join warehouse.marts.courses t on t.course_id = s.prerequisite_course_id
            where c.cohort_id in (select cohort_id from _ids)
            qualify row_number() over (
                partition by c.cohort_id
                order by coalesce(rec.recommended_to, 0) desc, s.skills desc,
                         s.prerequisite_course_id) = 1
            """
        ).pl()
        modules = con.execute(
            "select module_id, module_title, duration_minutes from warehouse.marts.course_modules"
        ).pl()
    finally:
        con.unregister("_ids")
    return {"refreshers": refreshers, "modules": modules}


def proposal_for(cohort: dict, refresher: dict | None, module: dict | None) -> Proposal:
    """The campaign a cohort gets (see the module docstring for the order), with its preview."""
    course = cohort["course_title"]
    stall = cohort["stall_module_id"]
    if stall and cohort["size"] >= LIVE_SESSION_MIN:
        name = cohort["stall_module_title"]
        return Proposal(
            "live_session",
            f"Live session on {name} ({course})",
            f"To the instructor of {course}: {cohort['size']} learners have stalled before "
            f"{name}. A 45-minute live session walking through it could get them moving again; "
            "propose a time and they will be invited.",
        )
    if refresher:
        return Proposal(
            "course_bundle",
            f"{course} + refresher {refresher['refresher_title']}",
            f"Finding parts of {course} hard going? {refresher['refresher_title']} covers the "
            "groundwork it builds on; take it alongside and come back to "
            f"{course} with the basics fresh.",
            refresher["refresher_course_id"],
        )
    if stall and module:
        minutes = module["duration_minutes"]
        length = f" (about {minutes:.0f} minutes)" if minutes else ""
        step = f"Your next step in {course} is {module['module_title']}{length}."
    else:
        step = f"You are part-way through {course}."
    return Proposal(
        "nudge_sequence",
        f"Nudges: {course}",
        f"{step} Pick it up where you left off; a little today keeps the course on track.",
    )


def propose(con: duckdb.DuckDBPyConnection, store: CampaignStore | None = None) -> dict:
    """Nightly: a proposal for each of the latest run's top cohorts that has none yet."""
    store = store or CampaignStore()
    top = cohort_finder.latest(con).head(TOP_COHORTS)
    if top.is_empty():
        return {"cohorts": 0, "proposed": 0}
    catalog = _catalog(con, top["cohort_id"].to_list())
    refreshers = {r["cohort_id"]: r for r in catalog["refreshers"].iter_rows(named=True)}
    modules = {r["module_id"]: r for r in catalog["modules"].iter_rows(named=True)}
    proposed = []
    for cohort in top.iter_rows(named=True):
        proposal = proposal_for(
            cohort, refreshers.get(cohort["cohort_id"]), modules.get(cohort["stall_module_id"])
        )
        if store.add(cohort, proposal) is not None:
            proposed.append(proposal.campaign_type)
    return {
        "cohorts": top.height,
        "proposed": len(proposed),
        "by_type": {t: proposed.count(t) for t in TYPES if t in proposed},
    }
