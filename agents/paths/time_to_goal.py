"""Time to goal for simulated learners who follow their learning path vs those who do not: one
randomized run of the platform simulator, long enough for learners to get there.

Why a run of its own: the evaluation warehouse's days after the cut (53 on the README's run)
are far too few to reach a role (about 20 gap skills, a course every few weeks), so every
learner is censored there. Here a smaller platform is simulated in memory over a long horizon
(by default 400 learners, 60 courses, 730 days: 48-91 s at load 10-13 on 2 cores), nothing
written.

- Who: learners whose target role (its O*NET skills, as the served path plans them) has skills
  the catalog teaches that they do not state they have: their coverable gap at sign-up.
- Assignment: half of them at random (seeded, its own stream: the simulated world draws the
  same) follow their path; the others behave as the simulator makes them.
- Following: a follower is shown their path as the learner app shows it: every step on a
  timeline, each saying what it comes after, re-planned on their progress (completed courses
  done, dropped ones avoided: what the nightly agent does). Whenever they are about to decide on
  a course (one they clicked among recommendations, or one they looked up themselves; the
  simulator's `offer`), they first consider the steps open to them now (prerequisites
  completed: the path's frontier, which always holds its first step, the one the recommender
  pins) and pick the one they like best today by the simulator's usual appeal and noise. They
  start it with that appeal's usual chance; a follower who wants none of them today does what
  they would have done anyway (the course they clicked or looked up, its usual chance), on the
  same draw: their chance of starting something is the larger of the two, never a second try.
  Assumed, not measured: that learners read what is open off the timeline ("after X") and care
  for no step more than their appeal says, and that the path never puts them off a course.
  `path_share` (completed courses on the path planned at sign-up) shows how far the arms'
  courses differ. A step a follower keeps passing over stays on their path, as the nightly
  agent keeps it: re-planning around it was tried and did not help (README).
- Time to goal: days from sign-up until the courses completed (passed or failed, as the marts
  count a completion) teach every skill of the coverable gap. Not there by the last day:
  censored at their days on the platform; the median is a Kaplan-Meier median, its 95% interval
  a bootstrap over learners (None: not reached within the horizon).

Arms are compared as assigned (intention to treat), so the difference is the effect, in this
simulated world, of being asked to follow the path: its learners react to difficulty, format
and prerequisites as planted in `pathwise/sources/simulator/platform.py`, not as people do.
"""

from __future__ import annotations

import datetime as dt
import math
import time

import numpy as np
import polars as pl

from agents.paths.catalog import NEUTRAL_QUALITY, build_catalog
from agents.paths.evaluate import km_median
from agents.paths.planner import Catalog, Goal, Path, plan, skill_key
from agents.paths.serving import Knowledge
from pathwise.contract import FORMATS
from pathwise.sources.simulator.platform import Platform
from pathwise.sources.simulator.run import build_platform

START = dt.date(2026, 1, 5)
HOURS_PER_WEEK = 5.0  # the calendar does not change which courses a path holds
BOOTSTRAP = 1000
ARMS = ("follow", "own")
# Share of the coverable gap covered: the goal, and half-way (defined where few reach the goal).
MILESTONES = {"goal": 1.0, "half": 0.5}


def planner_catalog(platform: Platform) -> Catalog:
    """The simulated catalog as the planner reads it from the marts (agents/paths/catalog.py),
    quality neutral."""
    cat = platform.cat
    hours = cat.modules.group_by("course_id").agg(
        (pl.col("duration_minutes").sum() / 60).alias("hours")
    )
    courses = (
        cat.courses.select(
            "course_id",
            "title",
            pl.col("difficulty").alias("level"),
            pl.col("primary_format").alias("format"),
        )
        .join(hours, on="course_id", how="left")
        .with_columns(quality=pl.lit(NEUTRAL_QUALITY))
    )
    return build_catalog(courses, cat.course_skills, cat.prerequisites)


def run(
    learners: int = 400,
    days: int = 730,
    courses: int = 60,
    seed: int = 7,
    knowledge: Knowledge | None = None,
) -> dict:
    """Simulate, with half the learners who have a coverable gap following their path; returns
    per arm the learners, reached and censored shares, the KM median days and its interval."""
    began = time.perf_counter()
    knowledge = knowledge or Knowledge.from_seeds()
    platform = build_platform(
        seed=seed,
        catalog_seed=seed,
        courses=courses,
        learners=learners,
        days=days,
        first_day=START,
        completion_factor=1.0,
        shift_from_day=0,
    )
    catalog = planner_catalog(platform)
    ids = platform.cat.courses["course_id"].to_list()
    index = {c: i for i, c in enumerate(ids)}
    taught = {s for s, teaching in catalog.teaching.items() if teaching}
    roles, lrn = platform.roles, platform.lrn
    goals, known, gaps = [], [], []
    stated = lrn.current_skills.to_list()
    for i in range(learners):
        names = knowledge.role_skills.get(roles.codes[lrn.role[i]], ())
        goals.append(
            Goal(
                role=roles.titles[lrn.role[i]],
                skills=frozenset(skill_key(n) for n in names),
                hours_per_week=HOURS_PER_WEEK,
                start=START,
                preferred_format=FORMATS[lrn.style[i]],  # onboarding pre-fills it from the style
                skill_names={skill_key(n): n for n in names},
            )
        )
        known.append(frozenset(skill_key(s) for s in stated[i] or ()))
        gaps.append((goals[i].skills - known[i]) & taught)
    eligible = np.array([i for i in range(learners) if gaps[i]], dtype=np.int64)
    assign = np.random.default_rng([seed, 15]).permutation(eligible)
    follow = np.zeros(learners, dtype=bool)
    follow[assign[: len(assign) // 2]] = True

    cached: dict[int, tuple[bytes, np.ndarray]] = {}

    def open_steps(p: Platform, u: int) -> np.ndarray:
        """The steps of learner u's path, re-planned on their progress today, whose
        prerequisites they have completed (course indices)."""
        done = np.flatnonzero(p.completed[u])
        dropped = np.flatnonzero(p.tried[u] & ~p.completed[u])
        key = done.tobytes() + b"|" + dropped.tobytes()
        if u not in cached or cached[u][0] != key:
            finished = {ids[c] for c in done}
            path = plan(
                catalog, goals[u], known=known[u], done=finished, avoid=[ids[c] for c in dropped]
            )
            steps = [index[c] for c in frontier(catalog, path, finished)]
            cached[u] = (key, np.array(steps, dtype=np.int64))
        return cached[u][1]

    def offer(p: Platform, us: np.ndarray) -> np.ndarray:
        offered = np.zeros((len(us), len(ids)), dtype=bool)
        for j, u in enumerate(us):
            if follow[u]:
                offered[j, open_steps(p, int(u))] = True
        return offered

    platform.offer = offer
    first_done = np.full((learners, len(ids)), -1, dtype=np.int64)
    for d in range(days):
        platform.day(d)
        new = platform.completed & (first_done < 0)
        first_done[new] = d

    signup_paths = {
        int(i): {index[s.course_id] for s in plan(catalog, goals[i], known=known[i]).steps}
        for i in eligible
    }
    rows = {(m, arm): [] for m in MILESTONES for arm in ARMS}
    path_share: dict[str, list[float]] = {arm: [] for arm in ARMS}
    completions: dict[str, list[int]] = {arm: [] for arm in ARMS}
    for i in eligible:
        arm = "follow" if follow[i] else "own"
        signup = int(lrn.signup_day[i])
        for m, share in MILESTONES.items():
            reach = reached_day(catalog, index, gaps[i], first_done[i], share)
            seen = reach is not None
            rows[m, arm].append((float((reach if seen else days) - signup), seen))
        completed = set(np.flatnonzero(first_done[i] >= 0).tolist())
        completions[arm].append(len(completed))
        if completed:
            path_share[arm].append(len(completed & signup_paths[int(i)]) / len(completed))
    rng = np.random.default_rng([seed, 16])
    report = {
        "learners": learners,
        "days": days,
        "courses": courses,
        "seed": seed,
        "eligible": len(eligible),
        "gap_skills": {arm: gap_mean(gaps, follow, arm) for arm in ARMS},
        "path_share": {arm: sum(v) / max(len(v), 1) for arm, v in path_share.items()},
        "completed": {arm: sum(v) / max(len(v), 1) for arm, v in completions.items()},
        "tried": {
            arm: float(
                platform.tried[eligible[follow[eligible] == (arm == "follow")]].sum(1).mean()
            )
            for arm in ARMS
        },
        "milestones": {
            m: {arm: summary(rows[m, arm], rng) for arm in ARMS}
            | {"difference": difference(rows[m, "follow"], rows[m, "own"], rng)}
            for m in MILESTONES
        },
    }
    report["seconds"] = round(time.perf_counter() - began, 1)
    return report


def frontier(catalog: Catalog, path: Path, done: set[str]) -> list[str]:
    """The steps of `path` open now: their prerequisites all `done` (its first step always is:
    the planner puts every prerequisite not done before the step that needs it)."""
    return [s.course_id for s in path.steps if done.issuperset(catalog.prerequisites[s.course_id])]


def reached_day(
    catalog: Catalog,
    index: dict[str, int],
    gap: frozenset[str],
    first_done: np.ndarray,
    share: float = 1.0,
) -> int | None:
    """The day the courses completed (first_done[course]: day, -1 never) teach `share` of the
    gap: each skill is covered on the day its first teaching course was completed; None when
    fewer skills than that are ever covered."""
    covered = []
    for skill in gap:
        days = [first_done[index[c]] for c in catalog.teaching[skill] if first_done[index[c]] >= 0]
        if days:
            covered.append(min(days))
    need = math.ceil(share * len(gap))
    return int(sorted(covered)[need - 1]) if len(covered) >= need else None


def gap_mean(gaps: list[frozenset[str]], follow: np.ndarray, arm: str) -> float:
    sizes = [len(g) for i, g in enumerate(gaps) if g and bool(follow[i]) == (arm == "follow")]
    return sum(sizes) / max(len(sizes), 1)


def bootstrap_medians(rows: list[tuple[float, bool]], rng: np.random.Generator) -> np.ndarray:
    """KM medians of BOOTSTRAP resamples of the learners (inf: not reached in a resample)."""
    days = np.array([r[0] for r in rows])
    seen = np.array([r[1] for r in rows])
    out = np.empty(BOOTSTRAP)
    for b in range(BOOTSTRAP):
        pick = rng.integers(0, len(rows), len(rows))
        m = km_median(zip(days[pick].tolist(), seen[pick].tolist(), strict=True))
        out[b] = np.inf if m is None else m
    return out


def interval(values: np.ndarray) -> list[float | None]:
    with np.errstate(invalid="ignore"):  # inf among the values: "not reached"
        low, high = np.percentile(values, [2.5, 97.5], method="lower")
    return [None if not np.isfinite(v) else float(v) for v in (low, high)]


def summary(rows: list[tuple[float, bool]], rng: np.random.Generator) -> dict:
    if not rows:
        return {"learners": 0}
    n = len(rows)
    reached = sum(r[1] for r in rows)
    return {
        "learners": n,
        "reached": reached,
        "censored_share": 1 - reached / n,
        "median_days": km_median(rows),
        "median_days_ci": interval(bootstrap_medians(rows, rng)),
    }


def difference(
    follow: list[tuple[float, bool]], own: list[tuple[float, bool]], rng: np.random.Generator
) -> dict:
    """KM median of followers minus the others', with a bootstrap 95% interval (None where a
    resample's median is not reached)."""
    a, b = km_median(follow), km_median(own)
    if not follow or not own:
        return {"median_days": None, "ci": [None, None]}
    with np.errstate(invalid="ignore"):
        diffs = bootstrap_medians(follow, rng) - bootstrap_medians(own, rng)
    diffs[np.isnan(diffs)] = np.inf  # inf - inf: neither reached
    return {
        "median_days": None if a is None or b is None else a - b,
        "ci": interval(diffs),
    }


def render(report: dict) -> str:
    r = report
    lines = [
        f"Time to goal, simulated: {r['learners']} learners, {r['courses']} courses, {r['days']} "
        f"days (seed {r['seed']}); {r['eligible']} with a coverable gap, half of them at random "
        f"asked to follow their path; {r['seconds']} s",
        "",
        "| milestone | arm | learners | gap skills (mean) | reached | censored "
        "| KM median days [95% CI] |",
        "|---|---|---|---|---|---|---|",
    ]

    def days(v: float | None) -> str:
        return "not reached" if v is None else f"{v:.0f}"

    for m, arms in r["milestones"].items():
        for arm in ARMS:
            s = arms[arm]
            low, high = s["median_days_ci"]
            lines.append(
                f"| {m} | {arm} | {s['learners']} | {r['gap_skills'][arm]:.1f} "
                f"| {s['reached']} | {s['censored_share']:.0%} "
                f"| {days(s['median_days'])} [{days(low)}, {days(high)}] |"
            )
        d = arms["difference"]
        low, high = d["ci"]
        lines.append(
            f"| {m} | follow - own | | | | | {days(d['median_days'])} [{days(low)}, {days(high)}] |"
        )
    lines.append("")
    for arm in ARMS:
        lines.append(
            f"{arm}: {r['tried'][arm]:.1f} courses enrolled in, {r['completed'][arm]:.1f} completed "
            f"per learner; {r['path_share'][arm]:.0%} of completed courses on the sign-up path"
        )
    return "\n".join(lines)
