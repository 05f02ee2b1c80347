"""Campaign proposals for the top cohorts (the store and the admin actions on them, approve, edit
the message, schedule, pause, stop, are `pathwise/campaigns.py`).

Propose (`propose`, nightly after `cohorts.run`): for each of the latest run's top cohorts not
proposed yet, one campaign, the first that fits:

- a **live session** on the stalling module, run by the course's instructor, when the cohort
  shares one and is at least `LIVE_SESSION_MIN` learners (an instructor's hour is worth it for a
  group, not for ten); its message invites the cohort;
- a **course bundle** with a refresher: a prerequisite of the course (`marts.course_prerequisites`)
  the recommender already suggests to most cohort members (`ml.recommendations`), else the one
  sharing most skills with the course (`marts.course_skills`);
- a **nudge sequence** otherwise.

Each has its audience (the cohort's size), a message preview built from the catalog only (no
learner data), the expected effect (treated members x mean risk x the assumed lift) and a
holdout share. Nothing is sent here: `agents/campaign_sends.py` sends what is approved or
scheduled, minus the holdout. A campaign type an admin set to auto (`set_auto`) is approved on
proposal, by `auto`.
"""

from __future__ import annotations

import duckdb
import polars as pl

from agents import cohorts as cohort_finder
from pathwise.campaigns import (  # noqa: F401  (re-exported: the store's names, for callers here)
    TYPES,
    CampaignError,
    CampaignStore,
    Proposal,
)

TOP_COHORTS = 10  # proposals per run: an admin reviews a page, not a list of hundreds
LIVE_SESSION_MIN = 25


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
            # What the cohort receives (the instructor sees the proposal and its sentence).
            f"Stuck before {name} in {course}? Your instructor is holding a 45-minute live "
            f"session walking through {name}, with time for your questions: look out for its "
            "time on the course page.",
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
