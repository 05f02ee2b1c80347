"""Plan a learner's path to a goal: the courses that teach the skills the goal needs and the learner
lacks, prerequisites first, laid out on a calendar at the learner's hours per week.

Pure: a `Catalog` and a `Goal` in, a `Path` out, no I/O. The agent loads the catalog from the marts
and stores or serves the result; `replan` compares two paths and says, in words, what changed.

Choosing courses is a weighted set cover (NP-hard). The greedy rule, most uncovered gap skills per
unit of cost, is within ln(n) of the best and plans over a catalog of thousands in milliseconds. A
course is weighed together with the prerequisites it would pull in that are not planned or done,
so a short course behind a long chain does not look cheap. Its cost is its hours, discounted for
quality and raised when its level or format does not fit the learner. Courses the cover made
redundant are then dropped, and the order is a topological sort that keeps, among courses free to
go next, the one chosen first.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from graphlib import CycleError, TopologicalSorter

MIN_HOURS = 1.0  # a course with no listed duration still takes time
LEVEL_PENALTY = 0.5  # cost x (1 + 0.5 per level between the course's and the learner's)
FORMAT_PENALTY = 1.25  # cost x 1.25 when the course teaches in another format than preferred


def skill_key(name: str) -> str:
    """Skills match whatever the case and spacing a catalog or a taxonomy writes them in."""
    return " ".join(name.casefold().split())


@dataclass(frozen=True)
class Course:
    course_id: str
    title: str
    skills: frozenset[str]  # skill_key()s
    hours: float
    prerequisites: tuple[str, ...] = ()
    level: int | None = None  # 1 beginner, 2 intermediate, 3 advanced
    format: str | None = None  # video, reading, hands-on
    quality: float = 0.5  # 0..1, e.g. the share of learners who complete it


@dataclass(frozen=True)
class Goal:
    role: str
    skills: frozenset[str]  # skill_key()s the role needs
    hours_per_week: float
    start: date
    target: date | None = None
    level: int | None = None
    preferred_format: str | None = None
    skill_names: dict[str, str] = field(default_factory=dict, compare=False)  # key -> display


@dataclass(frozen=True)
class Step:
    course_id: str
    title: str
    covers: tuple[str, ...]  # gap skills this course is the path's source of
    after: tuple[str, ...]  # titles of its prerequisites in the path
    hours: float
    start: date
    end: date
    reason: str


@dataclass(frozen=True)
class Path:
    goal: Goal
    steps: tuple[Step, ...]
    uncovered: tuple[str, ...]  # gap skills no course in the catalog teaches

    @property
    def total_hours(self) -> float:
        return sum(s.hours for s in self.steps)

    @property
    def finish(self) -> date:
        return self.steps[-1].end if self.steps else self.goal.start

    @property
    def on_time(self) -> bool:
        return self.goal.target is None or self.finish <= self.goal.target


class Catalog:
    """Courses indexed by the skills they teach, with a prerequisite graph without cycles (an edge
    that closes a cycle is dropped and kept in `ignored_prerequisites`: the catalog needs fixing,
    but a learner can still be planned for)."""

    def __init__(self, courses: Iterable[Course]):
        self.courses = {c.course_id: c for c in courses}
        self.teaching: dict[str, list[str]] = defaultdict(list)
        for c in self.courses.values():
            for skill in c.skills:
                self.teaching[skill].append(c.course_id)
        self.prerequisites = {
            cid: tuple(p for p in c.prerequisites if p in self.courses and p != cid)
            for cid, c in self.courses.items()
        }
        self.ignored_prerequisites: list[tuple[str, str]] = []
        self._break_cycles()

    def _break_cycles(self) -> None:
        while True:
            try:
                TopologicalSorter(self.prerequisites).prepare()
                return
            except CycleError as cycle:
                course, prerequisite = cycle.args[1][1], cycle.args[1][0]
                self.prerequisites[course] = tuple(
                    p for p in self.prerequisites[course] if p != prerequisite
                )
                self.ignored_prerequisites.append((course, prerequisite))

    def missing_prerequisites(self, course_id: str, have: set[str]) -> list[str]:
        """The prerequisites, direct and indirect, of `course_id` not in `have`, deepest first."""
        found: list[str] = []
        stack = [course_id]
        seen = set(have) | {course_id}
        while stack:
            for p in self.prerequisites[stack.pop()]:
                if p not in seen:
                    seen.add(p)
                    found.append(p)
                    stack.append(p)
        return found[::-1]


def cost(course: Course, goal: Goal) -> float:
    hours = max(course.hours, MIN_HOURS) * (1.5 - min(max(course.quality, 0.0), 1.0))
    if goal.level and course.level:
        hours *= 1 + LEVEL_PENALTY * abs(goal.level - course.level)
    if goal.preferred_format and course.format and course.format != goal.preferred_format:
        hours *= FORMAT_PENALTY
    return hours


def plan(
    catalog: Catalog,
    goal: Goal,
    known: Iterable[str] = (),
    done: Iterable[str] = (),
    avoid: Iterable[str] = (),
) -> Path:
    """The path from `known` skills and `done` courses to `goal`, never through `avoid`ed ones."""
    done, avoid = set(done), set(avoid)
    known = {skill_key(s) for s in known} | {
        s for cid in done if cid in catalog.courses for s in catalog.courses[cid].skills
    }
    gap = goal.skills - known
    chosen, uncovered = _cover(catalog, goal, gap, done, avoid)
    chosen = _prune(catalog, chosen, gap - uncovered)
    order = _order(catalog, chosen)
    names = goal.skill_names
    return Path(
        goal=goal,
        steps=tuple(_schedule(catalog, goal, order, gap)),
        uncovered=tuple(sorted(names.get(s, s) for s in uncovered)),
    )


def _cover(
    catalog: Catalog, goal: Goal, gap: set[str], done: set[str], avoid: set[str]
) -> tuple[list[str], set[str]]:
    """Greedy set cover: bundles of a course and its missing prerequisites, best ratio first.
    Returns the courses chosen and the gap skills no course teaches without an avoided one."""
    remaining = set(gap)
    chosen: list[str] = []
    while remaining:
        have = done | set(chosen)
        best, best_ratio = None, 0.0
        for cid in sorted({c for s in remaining for c in catalog.teaching[s]} - have - avoid):
            bundle = [*catalog.missing_prerequisites(cid, have), cid]
            if avoid.intersection(bundle):
                continue
            taught = set().union(*(catalog.courses[b].skills for b in bundle)) & remaining
            ratio = len(taught) / sum(cost(catalog.courses[b], goal) for b in bundle)
            if ratio > best_ratio:
                best, best_ratio = bundle, ratio
        if best is None:  # untaught, or only behind an avoided course
            break
        chosen.extend(best)
        for cid in best:
            remaining -= catalog.courses[cid].skills
    return chosen, remaining


def _prune(catalog: Catalog, chosen: list[str], needed: set[str]) -> list[str]:
    """Drop, latest choice first, each course that neither teaches a skill no other chosen course
    does nor is a prerequisite of one kept."""
    kept = list(chosen)
    for cid in reversed(chosen):
        others = [c for c in kept if c != cid]
        required = any(cid in catalog.prerequisites[c] for c in others)
        still = set().union(*(catalog.courses[c].skills for c in others)) if others else set()
        if not required and needed <= still:
            kept = others
    return kept


def _order(catalog: Catalog, chosen: list[str]) -> list[str]:
    """Topological order over the prerequisites among `chosen`; among courses free to go next,
    the earliest chosen first (Kahn's algorithm with a heap)."""
    rank = {cid: i for i, cid in enumerate(chosen)}
    waiting = {cid: {p for p in catalog.prerequisites[cid] if p in rank} for cid in chosen}
    unlocks: dict[str, list[str]] = defaultdict(list)
    for cid, prereqs in waiting.items():
        for p in prereqs:
            unlocks[p].append(cid)
    ready = [(rank[c], c) for c, prereqs in waiting.items() if not prereqs]
    heapq.heapify(ready)
    order = []
    while ready:
        _, cid = heapq.heappop(ready)
        order.append(cid)
        for nxt in unlocks[cid]:
            waiting[nxt].discard(cid)
            if not waiting[nxt]:
                heapq.heappush(ready, (rank[nxt], nxt))
    return order


def _schedule(catalog: Catalog, goal: Goal, order: list[str], gap: set[str]) -> Iterable[Step]:
    """One course at a time at the learner's weekly hours, each step with why it is there."""
    names = goal.skill_names
    sourced: set[str] = set()
    day = goal.start
    in_path = set(order)
    for cid in order:
        course = catalog.courses[cid]
        covers = sorted(course.skills & gap - sourced)
        sourced |= set(covers)
        after = tuple(catalog.courses[p].title for p in catalog.prerequisites[cid] if p in in_path)
        needed_by = [catalog.courses[c].title for c in order if cid in catalog.prerequisites[c]]
        hours = max(course.hours, MIN_HOURS)
        days = math.ceil(hours / goal.hours_per_week * 7)
        shown = [names.get(s, s) for s in covers]
        reason = (
            f"covers {_and(shown)} for {goal.role}" if shown else f"needed before {_and(needed_by)}"
        )
        if after:
            reason += f"; after {_and(list(after))}"
        yield Step(
            course_id=cid,
            title=course.title,
            covers=tuple(shown),
            after=after,
            hours=hours,
            start=day,
            end=day + timedelta(days=days),
            reason=reason[0].upper() + reason[1:],
        )
        day += timedelta(days=days)


def _and(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def replan(
    catalog: Catalog,
    previous: Path,
    today: date,
    known: Iterable[str] = (),
    done: Iterable[str] = (),
    stalled: Iterable[str] = (),
) -> tuple[Path, list[str]]:
    """Plan again from `today` on the learner's progress, and say why the path changed: finished
    steps leave it, a stalled course gives way to another, skills shown elsewhere shorten it, and
    missed weeks move the dates."""
    done, stalled = set(done), set(stalled)
    goal = previous.goal
    new = plan(catalog, replace(goal, start=today), known=known, done=done, avoid=stalled)
    before = {s.course_id: s for s in previous.steps}
    after = {s.course_id: s for s in new.steps}
    changes = []
    for cid, step in before.items():
        if cid in done:
            early = " early" if today < step.end else ""
            changes.append(f"You finished {step.title}{early}.")
        elif cid in stalled:
            changes.append(f"{step.title} stalled, so the path goes another way.")
        elif cid not in after:
            changes.append(f"{step.title} is no longer needed: you have shown its skills.")
    for cid, step in after.items():
        if cid not in before:
            changes.append(
                f"{step.title} joins the path: {step.reason[0].lower()}{step.reason[1:]}."
            )
    if previous.steps and new.steps and new.finish != previous.finish:
        changes.append(f"You now finish on {new.finish:%d %b %Y}, not {previous.finish:%d %b %Y}.")
    return new, changes
