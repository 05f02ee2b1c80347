"""Offline evaluation of learning paths, on a chronological split of what learners did.

    |------------ before the cut ------------|------ after ------|   cut: the (1 - test_share)
      what a learner took: what they know       what they took next   quantile of enrolment times

Next courses (`next_courses`): for each learner with courses on both sides of the cut, the path
is planned from the skills of their earlier courses to a goal, and compared with the courses
they enrolled in after the cut; beside it, in the same run, for the same learners and the same
list length (each learner's path length): the recommender's top-k as of the cut (injected by the
caller: this layer does not import the models) and a goal-aware baseline (the most popular
courses teaching a gap skill). Figures: hit rate (share of learners with at least one next course
in the list), recall (share of their next courses in it) and precision, averaged over learners.

The goal is either what the learner stated (a target role: its O*NET skills) or, where no one
states one (COCO), the skills of the courses they took after the cut. The second leaks: the
path is planned towards exactly those courses' skills, the recommender knows no goal. The
goal-aware baseline gets the same goal, so the path's margin over it is what planning adds
beyond knowing the goal; over the recommender it is mostly the goal itself.

Time to goal (`time_to_goal`, learners with a stated role): the goal is the role's skills that
the catalog teaches and the learner lacked at the cut; reached when the courses they completed
cover them all. Days are counted from the cut; learners who have not reached it by the end of the
data are censored there, so the median is a Kaplan-Meier median. Learners who enrolled in
nothing after the cut are left out; the others are split by what they enrolled in after it:
only courses of the path planned at the cut ("followed"), none of them ("did not follow"), or
both ("partly"). This is observational: no learner saw the path (the simulator's learners choose
by their own preferences), so followers are learners whose own choices matched it, and a
difference is an association, not the effect of showing a path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

import duckdb
import polars as pl

from agents.paths.catalog import NEUTRAL_QUALITY, load_catalog
from agents.paths.planner import Catalog, Goal, plan, skill_key

# (learners, n) -> each learner's top-n course ids as of the cut, taken courses excluded
Recommend = Callable[[list[str], int], dict[str, list[str]]]
HOURS_PER_WEEK = 5.0  # the calendar does not change which courses a path holds
DATASETS = {"simulator": "course_id not like '%:%'", "coco": "course_id like 'coco:%'"}


@dataclass(frozen=True)
class Case:
    learner: str
    known: frozenset[str]  # skill keys of the courses taken before the cut (and stated ones)
    done: frozenset[str]  # courses taken before the cut
    next: frozenset[str]  # courses first enrolled in after the cut
    goal: frozenset[str]  # skill keys


def cut_time(enrolments: pl.DataFrame, test_share: float) -> datetime:
    """The time after which the last `test_share` of enrolments happen."""
    at = enrolments["at"].sort()
    return at[int(at.len() * (1 - test_share))]


def cases(
    catalog: Catalog,
    enrolments: pl.DataFrame,
    cut: datetime,
    goals: dict[str, frozenset[str]] | None = None,
    stated: dict[str, frozenset[str]] | None = None,
) -> list[Case]:
    """Learners with a course of the catalog on both sides of the cut (`enrolments`:
    learner_key, course_id, at). The goal is `goals[learner]` (learners without one are left
    out), or with `goals` None the skills of their courses after the cut. `stated`: skills a
    learner said they had, known besides their courses'."""
    known_courses = enrolments.filter(pl.col("course_id").is_in(list(catalog.courses)))
    before = known_courses.filter(pl.col("at") < cut)
    done: dict[str, set[str]] = {}
    for learner, course in before.select("learner_key", "course_id").iter_rows():
        done.setdefault(learner, set()).add(course)
    later: dict[str, set[str]] = {}
    after = known_courses.filter(pl.col("at") >= cut).sort("at", "learner_key", "course_id")
    for learner, course in after.select("learner_key", "course_id").iter_rows():
        if learner in done and course not in done[learner]:
            later.setdefault(learner, set()).add(course)
    found = []
    for learner in sorted(later):
        nxt = frozenset(later[learner])
        if goals is None:
            goal = frozenset().union(*(catalog.courses[c].skills for c in nxt))
        elif learner in goals:
            goal = goals[learner]
        else:
            continue
        taught = (catalog.courses[c].skills for c in done[learner])
        known = frozenset().union(*taught, (stated or {}).get(learner, frozenset()))
        found.append(Case(learner, known, frozenset(done[learner]), nxt, goal))
    return found


def path_of(catalog: Catalog, case: Case, start: date) -> list[str]:
    goal = Goal("the goal", case.goal, HOURS_PER_WEEK, start)
    return [s.course_id for s in plan(catalog, goal, case.known, case.done).steps]


def goal_baseline(catalog: Catalog, case: Case, n: int, popularity: Counter) -> list[str]:
    """The n most popular courses (before the cut) that teach a gap skill, not taken yet: what
    knowing the goal gives without planning (most gap skills first, then popularity)."""
    gap = case.goal - case.known
    teaching = {c for s in gap for c in catalog.teaching.get(s, ())} - case.done
    ranked = sorted(
        teaching, key=lambda c: (-len(catalog.courses[c].skills & gap), -popularity[c], c)
    )
    return ranked[:n]


def scores(lists: dict[str, list[str]], truth: dict[str, frozenset[str]]) -> dict[str, float]:
    """Mean over learners of hit (>= 1 next course listed), recall and precision; each in 0..1."""
    hit = recall = precision = 0.0
    for learner, listed in lists.items():
        got = len(set(listed) & truth[learner])
        hit += got > 0
        recall += got / len(truth[learner])
        precision += got / len(listed) if listed else 0.0
    n = max(len(lists), 1)
    return {"hit_rate": hit / n, "recall": recall / n, "precision": precision / n}


def next_courses(
    catalog: Catalog,
    found: list[Case],
    recommend: Recommend,
    popularity: Counter,
    start: date,
) -> dict:
    """The path, the recommender's top-k and the goal-aware baseline against the next courses,
    k = each learner's path length (learners whose path is empty are counted, not scored)."""
    paths = {c.learner: path_of(catalog, c, start) for c in found}
    scored = [c for c in found if paths[c.learner]]
    length = {c.learner: len(paths[c.learner]) for c in scored}
    top = recommend([c.learner for c in scored], max(length.values(), default=1))
    lists = {
        "path": {c.learner: paths[c.learner] for c in scored},
        "recommender": {c.learner: top.get(c.learner, [])[: length[c.learner]] for c in scored},
        "goal_popular": {
            c.learner: goal_baseline(catalog, c, length[c.learner], popularity) for c in scored
        },
    }
    truth = {c.learner: c.next for c in scored}
    return {
        "learners": len(scored),
        "empty_paths": len(found) - len(scored),
        "mean_k": sum(length.values()) / max(len(scored), 1),
        "mean_next": sum(len(c.next) for c in scored) / max(len(scored), 1),
        "results": {method: scores(ls, truth) for method, ls in lists.items()},
    }


def time_to_goal(
    catalog: Catalog,
    found: list[Case],
    enrolments: pl.DataFrame,
    completions: pl.DataFrame,
    cut: datetime,
    end: datetime,
) -> dict:
    """Days from the cut until completed courses cover the learner's coverable gap, for
    learners who followed the path planned at the cut, partly did, or did not (module docs); and
    how far they got: the share of the gap covered by the end, gap skills covered per 30 days."""
    taught = {s for s, courses in catalog.teaching.items() if courses}  # planning adds empty keys
    after = enrolments.filter(pl.col("at") >= cut)
    took: dict[str, set[str]] = {}
    for learner, course in after.select("learner_key", "course_id").iter_rows():
        took.setdefault(learner, set()).add(course)
    finished: dict[str, list[tuple[datetime, str]]] = {}
    done_after = completions.filter(pl.col("at") >= cut).sort("at", "course_id")
    for learner, course, at in done_after.select("learner_key", "course_id", "at").iter_rows():
        finished.setdefault(learner, []).append((at, course))
    groups: dict[str, list[Progress]] = {"followed": [], "partly": [], "not": []}
    window = (end - cut).total_seconds() / 86400
    for case in found:
        gap = (case.goal - case.known) & taught
        enrolled = took.get(case.learner, set()) - case.done
        if not gap or not enrolled:
            continue
        path = set(path_of(catalog, case, cut.date()))
        group = "followed" if enrolled <= path else "not" if not enrolled & path else "partly"
        left, days, reached = set(gap), window, False
        completed = finished.get(case.learner, [])
        for at, course in completed:
            left -= catalog.courses[course].skills if course in catalog.courses else set()
            if not left and not reached:
                days, reached = (at - cut).total_seconds() / 86400, True
        covered = len(gap) - len(left)
        groups[group].append(Progress(days, reached, len(gap), covered, len(completed)))
    return {"window_days": window} | {g: summary(rows, window) for g, rows in groups.items()}


@dataclass(frozen=True)
class Progress:
    days: float  # to the goal, or the whole window when not reached (censored)
    reached: bool
    gap: int  # coverable gap skills at the cut
    covered: int  # of them, covered by courses completed in the window
    completed: int  # courses completed in the window


def summary(rows: list[Progress], window: float) -> dict:
    if not rows:
        return {"learners": 0}
    n = len(rows)
    return {
        "learners": n,
        "reached": sum(r.reached for r in rows) / n,
        "median_days": km_median([(r.days, r.reached) for r in rows]),
        "mean_gap_skills": sum(r.gap for r in rows) / n,
        "covered_share": sum(r.covered / r.gap for r in rows) / n,
        "skills_per_30_days": sum(r.covered for r in rows) / n / window * 30,
        "completed": sum(r.completed for r in rows) / n,
        "skills_per_completion": sum(r.covered for r in rows)
        / max(sum(r.completed for r in rows), 1),
    }


def km_median(rows: Iterable[tuple[float, bool]]) -> float | None:
    """Kaplan-Meier median of (days, reached) with the unreached censored at their days; None
    when fewer than half are seen to reach it."""
    rows = sorted(rows, key=lambda r: (r[0], not r[1]))  # events before censoring at a tie
    at_risk, survival = len(rows), 1.0
    for days, reached in rows:
        if reached:
            survival *= 1 - 1 / at_risk
            if survival <= 0.5:
                return days
        at_risk -= 1
    return None


# -- reading the warehouse (marts and reference seeds only) ----------------------------------


@dataclass
class History:
    catalog: Catalog
    enrolments: pl.DataFrame  # learner_key, course_id, at (first enrolment)
    completions: pl.DataFrame  # learner_key, course_id, at (first completion)
    goals: dict[str, frozenset[str]]  # learner -> the stated target role's skill keys
    stated: dict[str, frozenset[str]]  # learner -> skills they said they had


def load_history(con: duckdb.DuckDBPyConnection, dataset: str, k: int) -> History:
    """One dataset's catalog (course quality left neutral: the marts' completion rates include
    the time after any cut), enrolments, completions, stated roles and skills."""
    where = DATASETS[dataset]
    ours = (lambda c: c.startswith("coco:")) if dataset == "coco" else (lambda c: ":" not in c)
    catalog = Catalog(
        replace(c, quality=NEUTRAL_QUALITY)
        for c in load_catalog(con, k).courses.values()
        if ours(c.course_id)
    )

    def first(kinds: str) -> pl.DataFrame:
        return con.sql(
            f"""select learner_key, course_id, min(interacted_at) as "at"
            from marts.ml_course_interactions
            where interaction_kind in ({kinds}) and {where}
            group by all order by "at", learner_key, course_id"""
        ).pl()

    roles = con.sql(
        """select l.learner_key, list(distinct s.skill_name order by s.skill_name) as skills
        from marts.learners l
        join reference.role_skills r on r.role_title = l.target_role
        join reference.skills s using (skill_id)
        group by all"""
    ).pl()
    stated = con.sql(
        "select learner_key, current_skills from marts.learners where current_skills is not null"
    ).pl()
    return History(
        catalog=catalog,
        enrolments=first("'enroll'"),
        completions=first("'passed', 'failed'"),
        goals={r: frozenset(map(skill_key, s)) for r, s in roles.iter_rows()},
        stated={r: frozenset(map(skill_key, s)) for r, s in stated.iter_rows()},
    )


def evaluate(
    history: History, recommend_at: Callable[[datetime], Recommend], test_share: float
) -> dict:
    """Every figure for one dataset at one cut: next courses with the goal derived from the
    later courses, and, where learners stated a role, with that goal and the time to it."""
    h = history
    cut = cut_time(h.enrolments, test_share)
    end = max(h.enrolments["at"].max(), h.completions["at"].max() if h.completions.height else cut)
    before = h.enrolments.filter(pl.col("at") < cut)
    popularity = Counter(before["course_id"].to_list())
    recommend = recommend_at(cut)
    report = {
        "cut": str(cut),
        "end": str(end),
        "test_share": test_share,
        "courses": len(h.catalog.courses),
        "next_courses": {
            "later_skills": next_courses(
                h.catalog,
                cases(h.catalog, h.enrolments, cut, None, h.stated),
                recommend,
                popularity,
                cut.date(),
            )
        },
    }
    stated = cases(h.catalog, h.enrolments, cut, h.goals, h.stated) if h.goals else []
    if stated:  # learners of this dataset stated a target role
        report["next_courses"]["stated_role"] = next_courses(
            h.catalog, stated, recommend, popularity, cut.date()
        )
        report["time_to_goal"] = time_to_goal(
            h.catalog, stated, h.enrolments, h.completions, cut, end
        )
    return report


def render(dataset: str, report: dict) -> str:
    lines = [
        f"Learning paths on {dataset}: cut {report['cut']} (last {report['test_share']:.0%} of "
        f"enrolments after it), {report['courses']:,} courses",
        "",
        "| goal | method | learners | k (mean) | hit rate | recall | precision |",
        "|---|---|---|---|---|---|---|",
    ]
    for goal, r in report["next_courses"].items():
        for method, m in r["results"].items():
            lines.append(
                f"| {goal} | {method} | {r['learners']:,} | {r['mean_k']:.2f} | "
                f"{m['hit_rate']:.3f} | {m['recall']:.3f} | {m['precision']:.3f} |"
            )
    if "time_to_goal" in report:
        ttg = report["time_to_goal"]
        lines += [
            "",
            f"Progress towards the goal over the {ttg['window_days']:.0f} days after the cut:",
            "",
            "| after the cut | learners | gap skills (mean) | reached the goal | median days (KM) "
            "| gap covered by the end | gap skills covered per 30 days | courses completed "
            "| gap skills per completed course |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for group in ("followed", "partly", "not"):
            s = ttg[group]
            if not s["learners"]:
                lines.append(f"| {group} | 0 | | | | | | | |")
                continue
            days = "not reached" if s["median_days"] is None else f"{s['median_days']:.1f}"
            lines.append(
                f"| {group} | {s['learners']:,} | {s['mean_gap_skills']:.1f} | {s['reached']:.1%} "
                f"| {days} | {s['covered_share']:.1%} | {s['skills_per_30_days']:.2f} "
                f"| {s['completed']:.2f} | {s['skills_per_completion']:.2f} |"
            )
    return "\n".join(lines)
