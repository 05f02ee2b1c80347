"""The cohort campaign agent's run: find cohorts, propose campaigns, send what admins approved.

    pathwise agents run campaigns     # the same as the nightly `agents` step does for campaigns

1. `cohorts.run` (agents.cohorts, agents.cohort_members), at most once a day: a re-run the same
   day reuses the day's cohorts, so it proposes and sends nothing twice;
2. `campaigns.propose` (proposals in controls.sqlite; types set to auto are approved at once);
3. send (`send_due`): every approved campaign, and every scheduled one whose time has come, goes
   to its audience (the cohort's members) through the guardrails every agent obeys
   (`agents/guardrails.py`): consent to messages, the agents' common holdout, frequency caps. A
   campaign also keeps its own `holdout_share` of its audience out (a hash of the campaign id and
   the learner_key: stable, independent of every other campaign), recorded as `holdout` with no
   message. Each member is decided once per campaign: decision and message share the id (agent
   `campaign:<id>`, learner, type, cohort), so a re-run, the same night or any later one, adds
   nothing; a member held back by the caps stays `capped` for that campaign. The kill switch is
   checked before any agent runs (`agents/run.py`); quiet hours, and a campaign paused or stopped
   after its messages were queued, at delivery (`agents/delivery.py`).
4. prune `agents.cohort_members` (learner keys) to the cohorts of open campaigns that have not
   sent yet: a learner is kept there only while a campaign may still contact them. The outbox's
   decisions keep who was treated or held out, for uplift (`agents/uplift.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb
import polars as pl

from agents import campaigns, cohorts
from agents.guardrails import Guardrails, in_holdout
from pathwise.campaigns import OPEN, CampaignStore
from pathwise.outbox import Decision, Message, Outbox, message_id
from pathwise.warehouse import table_exists

TEMPLATE = "campaign-message"  # the campaign's own text, as the admin approved it
SUBJECTS = {
    "nudge_sequence": "{course}: pick up where you left off",
    "course_bundle": "{course}: a refresher to go with it",
    "live_session": "{course}: a live session for you",
}


def agent_name(campaign_id: int) -> str:
    """The outbox's agent name of a campaign's decisions and messages."""
    return f"campaign:{campaign_id}"


def _members(con: duckdb.DuckDBPyConnection, cohort_id: str) -> pl.DataFrame:
    """A cohort's members still in the warehouse (erased learners are gone), with consent."""
    return con.execute(
        """
        select m.learner_key, m.course_id, m.risk, coalesce(c.course_title, m.course_id) as title,
               coalesce(l.has_message_consent, true) as has_message_consent
        from warehouse.agents.cohort_members m
        left join warehouse.marts.learners l using (learner_key)
        left join warehouse.marts.courses c using (course_id)
        where m.cohort_id = ?
        order by m.learner_key
        """,
        [cohort_id],
    ).pl()


def send_due(
    con: duckdb.DuckDBPyConnection,
    outbox: Outbox,
    store: CampaignStore,
    route: Callable[[str], str],
    now: datetime,
) -> dict[str, int]:
    """Decide and enqueue the messages of every campaign due now (see the module docstring)."""
    guard = Guardrails.load(outbox, now)
    decisions, messages = [], []
    due = store.due(now)
    for c in due:
        agent = agent_name(c["campaign_id"])
        decided = {d.decision_id for d in outbox.decisions(agent)}
        for m in _members(con, c["cohort_id"]).iter_rows(named=True):
            mid = message_id(agent, m["learner_key"], c["campaign_type"], c["cohort_id"])
            if mid in decided:
                continue
            own = in_holdout(m["learner_key"], c["holdout_share"], salt=agent)
            outcome = guard.screen(m["learner_key"], m["has_message_consent"], held_out=own)
            why = {
                "campaign_id": c["campaign_id"],
                "cohort_id": c["cohort_id"],
                "campaign_type": c["campaign_type"],
                "holdout_share": c["holdout_share"],
                "holdout": ("campaign" if own else "agents") if outcome == "holdout" else None,
                "signals": {"risk": m["risk"]},
            }
            decisions.append(
                Decision(mid, m["learner_key"], agent, now.date().isoformat(),
                         c["campaign_type"], outcome, why, m["course_id"])
            )  # fmt: skip
            if outcome == "treated":
                messages.append(
                    Message(
                        message_id=mid,
                        learner_key=m["learner_key"],
                        agent=agent,
                        channel=route(m["learner_key"]),
                        template=TEMPLATE,
                        subject=SUBJECTS[c["campaign_type"]].format(course=m["title"]),
                        body=c["message"],
                        reason=c["campaign_type"],
                        evidence=why,
                        course_id=m["course_id"],
                        campaign_id=str(c["campaign_id"]),
                        created_at=now,
                    )
                )
    # Decisions first, as the re-engagement agent: a crash between the two is mended by a re-run.
    outbox.decide(decisions, now)
    summary = {"campaigns_due": len(due), "enqueued": outbox.enqueue(messages)}
    for d in decisions:
        summary[d.outcome] = summary.get(d.outcome, 0) + 1
    return summary


def prune_members(con: duckdb.DuckDBPyConnection, store: CampaignStore, outbox: Outbox) -> int:
    """Delete the cohort members no campaign needs any more: those of cohorts without an open
    campaign, and of campaigns that sent already (every member was decided, in one run, and the
    outbox keeps the decisions). Returns rows deleted."""
    con.execute(cohorts.COHORTS_DDL)
    sent = outbox.deciding_agents()
    keep = pl.DataFrame(
        {
            "cohort_id": [
                c["cohort_id"]
                for c in store.list()
                if c["status"] in OPEN and agent_name(c["campaign_id"]) not in sent
            ]
        },
        schema={"cohort_id": pl.String},
    )
    con.register("_keep", keep.to_arrow())
    try:
        return con.execute(
            "delete from warehouse.agents.cohort_members "
            "where cohort_id not in (select cohort_id from _keep)"
        ).fetchall()[0][0]
    finally:
        con.unregister("_keep")


def _found_today(con: duckdb.DuckDBPyConnection) -> str | None:
    """The run id of today's cohort run (UTC), if the finder already ran today."""
    con.execute(cohorts.COHORTS_DDL)
    found = con.execute(
        "select max(run_id) from warehouse.agents.cohorts "
        "where cast(timezone('UTC', found_at) as date) = ?",
        [datetime.now(UTC).date()],
    ).fetchall()[0][0]
    return found


def run(
    con: duckdb.DuckDBPyConnection,
    outbox: Outbox,
    route: Callable[[str], str] = lambda _: "in_app",
    now: datetime | None = None,
) -> dict:
    """The agent: cohorts (once a day), proposals, the due campaigns' messages, then pruning."""
    now = now or datetime.now(UTC)
    store = CampaignStore()
    if not table_exists(con, "ml", "dropout_risk"):
        found = {"skipped": "no ml.dropout_risk yet: the nightly dropout step writes it"}
    elif today := _found_today(con):
        found = {"run_id": today, "reused": True}
    else:
        found = cohorts.run(con)
    proposed = campaigns.propose(con, store)
    sent = send_due(con, outbox, store, route, now)
    return {
        "cohorts": found,
        "proposals": proposed,
        "sends": sent,
        "members_pruned": prune_members(con, store, outbox),
    }
