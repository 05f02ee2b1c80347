"""The learning-path agent at night: every stored path re-planned on the learner's progress, each
change recorded with its reason ("You finished Intro to SQL early.").

Registered as `paths` in `agents/run.py`, so it runs in the nightly flow's `agents` step (and with
`pathwise agents run paths`) on the marts just built. Per learner with a path:

- a completed course leaves the path ("You finished X early."), and one taken outside it that
  teaches the path's skills shortens it ("Y is no longer needed: you have shown its skills.");
- a course of the path the learner stalled in or dropped (`learner_course_progress.status`) is
  avoided from now on, and the path goes another way when the catalog has one;
- a step that should have ended a week ago or more and is not done moves the dates (the rest
  starts today).

Nothing new, nothing changes: a path is re-planned only when one of these happened, so the log
holds only what a learner should hear about, and their dates do not creep a day every night.
Planning itself is `planner.replan`; this module decides when and keeps the record.

Then the demand the paths show for what the catalog lacks goes to the instructors: per skill,
how many learners' goals need it (they lack it) while no course of tonight's catalog teaches it,
into `agents.uncovered_skill_demand` (replaced whole), which the next build's `content_gaps`
reads. Counted on tonight's catalog, not the stored path's list, so a skill a new course teaches
stops counting the same night. An aggregate: no learner_key, and a skill fewer than k learners
need is left out (k-anonymity; nothing else is published beside it to subtract from).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import duckdb

from agents.paths.catalog import load_catalog
from agents.paths.planner import Catalog, replan, skill_key
from agents.paths.serving import STALLED, path_from_dict, path_to_dict
from pathwise.learning_paths import PathStore
from pathwise.outbox import Outbox
from pathwise.settings import get_settings

MISSED = timedelta(days=7)  # a step this far past its planned end, not done, moves the dates


def adapt(
    catalog: Catalog, stored: dict, statuses: dict[str, str], today: date
) -> tuple[dict | None, list[str]]:
    """The re-planned path (as stored) and why it changed, or (None, []) when nothing happened
    that changes it. `statuses`: course id -> the learner's status in it."""
    previous = path_from_dict(stored)
    was = stored.get("planned_from", {})
    known = set(was.get("known", ()))
    done = {c for c, s in statuses.items() if s == "completed"}
    steps = [s.course_id for s in previous.steps]
    stalled = {c for c in steps if statuses.get(c) in STALLED} - done
    avoid = set(was.get("avoid", ())) | stalled
    behind = [s for s in previous.steps if s.course_id not in done and s.end + MISSED <= today]
    if done == set(was.get("done", ())) and avoid == set(was.get("avoid", ())) and not behind:
        return None, []
    new, changes = replan(catalog, previous, today, known=known, done=done, stalled=avoid)
    if behind and not changes:  # the same courses, later: say why the dates moved
        changes = [f"You now finish on {new.finish:%d %b %Y}, not {previous.finish:%d %b %Y}."]
    if behind:
        first = behind[0]
        changes.insert(
            0, f"{first.title} was planned to end on {first.end:%d %b %Y}, so the dates move."
        )
    if [s.course_id for s in new.steps] == steps and not behind:
        # Progress that does not touch the path (a course outside it, no skill of it): remember
        # it, keep the dates.
        new, changes = previous, []
    return path_to_dict(new, done=done, avoid=avoid, known=known), changes


def uncovered_demand(catalog: Catalog, paths: list[dict], k: int) -> dict[str, int]:
    """Skill name -> learners (one path each) whose goal needs it, who do not know it, and no
    course in `catalog` teaches it; skills under `k` learners left out."""
    counts: dict[str, int] = {}
    for stored in paths:
        goal = stored["goal"]
        known = {skill_key(s) for s in stored.get("planned_from", {}).get("known", ())}  # names
        names = goal.get("skill_names", {})
        for skill in set(goal["skills"]) - known:
            if not catalog.teaching.get(skill):  # a defaultdict: .get adds no key
                name = names.get(skill, skill)
                counts[name] = counts.get(name, 0) + 1
    return {name: n for name, n in sorted(counts.items()) if n >= k}


def write_demand(con: duckdb.DuckDBPyConnection, demand: dict[str, int], now: datetime) -> None:
    """Replace `agents.uncovered_skill_demand` (its DDL: pathwise/warehouse.py) in one
    transaction: the build never reads half of tonight's counts."""
    at = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    con.execute("begin")
    try:
        con.execute("delete from warehouse.agents.uncovered_skill_demand")
        if demand:
            con.executemany(
                "insert into warehouse.agents.uncovered_skill_demand values (?, ?, ?)",
                [(name, n, at) for name, n in demand.items()],
            )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def statuses_of(con: duckdb.DuckDBPyConnection, learner_keys: list[str]) -> dict[str, dict]:
    """learner_key -> {course_id: status} from `marts.learner_course_progress`."""
    rows = con.execute(
        "select learner_key, course_id, status from marts.learner_course_progress "
        "where list_contains($keys, learner_key)",
        {"keys": learner_keys},
    ).fetchall()
    found: dict[str, dict] = {}
    for lk, course, status in rows:
        found.setdefault(lk, {})[course] = status
    return found


def run(
    con: duckdb.DuckDBPyConnection,
    outbox: Outbox,
    route: Callable[[str], str],
    now: datetime,
    store: PathStore | None = None,
) -> dict:
    """Re-plan every stored path on tonight's marts (the agent registry's signature: the outbox
    and the route are unused, the path page and the read API show the changes)."""
    store = store or PathStore()
    k = get_settings().k_anonymity
    planned = store.planned()
    if not planned:
        write_demand(con, {}, now)  # no path, no demand: last night's counts go
        return {"paths": 0, "changed": 0, "changes": 0, "uncovered_skills": 0}
    catalog = load_catalog(con, k)
    progress = statuses_of(con, [lk for lk, _, _ in planned])
    changed = logged = 0
    paths = []
    for learner_key, _goal, stored in planned:
        new, changes = adapt(catalog, stored, progress.get(learner_key, {}), now.date())
        paths.append(stored if new is None else new)
        if new is None:
            continue
        store.save_path(learner_key, new, changes, at=now)
        changed += bool(changes)
        logged += len(changes)
    demand = uncovered_demand(catalog, paths, k)
    write_demand(con, demand, now)
    return {
        "paths": len(planned),
        "changed": changed,
        "changes": logged,
        "uncovered_skills": len(demand),
    }
