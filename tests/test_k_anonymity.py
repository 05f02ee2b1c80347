"""k-anonymity that holds: nothing an instructor sees reveals a group of fewer than k learners,
not even by subtraction.

On the shared simulated platform (tests/_app_platform.py, after a real nightly run), for every
instructor in the catalog, the figures of the creator dashboard are read with the page's own
queries (apps/queries/creator.py, content_gaps.py) and attacked: every shown group, every course
total minus its shown parts (enrolment weeks, funnel steps, risk bands), every difference
between two funnel points. Each group so derived must be empty or hold at least k learners.

The same attack on the page's queries before this change (kept below, verbatim in substance)
finds groups under k on the same platform, and a hand-made course with a week of 3 is caught:
the test can fail.

Groups are sets of learners picked out by what a figure is about (a course, a week, a range of
modules, a risk band, a search topic). A share within a group of at least k (completed, dropped)
is an attribute of that group, as in every k-anonymous mart (docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import pandas as pd
import pytest
from _app_platform import served

from pathwise import snapshots
from pathwise.settings import get_settings

pytestmark = pytest.mark.slow


@dataclass
class CourseFigures:
    """What one instructor's page shows of one course, as learner counts (None: withheld)."""

    course_id: str
    enrolled: int | None
    completed: int | None = None
    dropped: int | None = None
    weeks: list[int | None] = field(default_factory=list)  # a partition of `enrolled`
    reached: list[int | None] = field(default_factory=list)  # funnel points (nested sets)
    steps: list[int | None] = field(default_factory=list)  # a partition of `enrolled`
    risk_bands: list[int] = field(default_factory=list)  # a partition of the open enrolments


def groups_under_k(figures: CourseFigures, k: int) -> list[tuple[str, int]]:
    """Every group of 1..k-1 learners that can be read or worked out from `figures`."""
    found: list[tuple[str, int]] = []

    def check(what: str, size: int | None) -> None:
        if size is not None and 0 < size < k:
            found.append((f"{figures.course_id}: {what}", size))

    if figures.enrolled is None:  # the course shows no figure at all
        for i, week in enumerate(figures.weeks):
            check(f"week {i + 1} of a withheld course", week)
        return found
    check("enrolled", figures.enrolled)
    # Shown groups, then each total minus its shown parts (what the withheld parts hold).
    partitions = {
        "weeks": (figures.enrolled, figures.weeks),
        "funnel steps": (figures.enrolled, figures.steps),
    }
    if None not in (figures.completed, figures.dropped):
        open_enrolments = figures.enrolled - figures.completed - figures.dropped
        partitions["risk bands"] = (open_enrolments, figures.risk_bands)
    for name, (total, parts) in partitions.items():
        shown = [p for p in parts if p is not None]
        for i, part in enumerate(shown):
            check(f"{name}[{i}]", part)
        if shown:
            check(f"{name}: total - shown", total - sum(shown))
    # Funnel points are nested sets: any two differ by the learners between them.
    points = sorted({figures.enrolled, *(r for r in figures.reached if r is not None)})
    for low, high in combinations(points, 2):
        check(f"funnel: {high} - {low}", high - low)
    for r in figures.reached:
        check("funnel point", r)
    return found


def count(value) -> int | None:
    return None if pd.isna(value) else int(value)


# -- the view of the page, read with its own queries ----------------------------------------


def page_view(version: str, instructor_id: str, k: int) -> list[CourseFigures]:
    """The creator page's figures for `instructor_id` (apps/queries/creator.py)."""
    from apps.queries import creator

    summary = creator.course_summary(version, instructor_id)
    weeks = creator.course_weekly(version, instructor_id)
    risk = creator.course_risk(version, instructor_id, k)
    view = []
    for row in summary.itertuples():
        funnel = creator.module_funnel(version, instructor_id, row.course_id)
        course_weeks = weeks[weeks["course_id"] == row.course_id]
        bands = risk[risk["course_title"] == row.course_title] if not risk.empty else risk
        view.append(
            CourseFigures(
                row.course_id,
                count(row.enrolments),
                count(row.completions),
                count(row.drops),
                weeks=[count(w) for w in course_weeks["enrolment_count"]],
                reached=[count(r) for r in funnel["reached_count"]],
                steps=[count(s) for s in funnel["learner_count"]],
                risk_bands=[int(b) for b in bands.get("learners", [])],
            )
        )
    return view


# -- the page's queries before this change (commit b7f511a), to show the attack finds leaks ----

OLD_SUMMARY = """
    select c.course_id, sum(enrolment_count) as enrolments, sum(completion_count) as completions,
           sum(drop_count) as drops
    from course_kpis join courses c using (course_id) where c.instructor_id = ? group by 1
"""
OLD_WEEKS = """
    select k.enrolment_count from course_kpis k join courses c using (course_id)
    where c.instructor_id = ? and k.course_id = ? and k.enrolment_count >= ?
"""
OLD_FUNNEL = """
    with progress as (
        select p.modules_done from learner_course_progress p where p.course_id = ?
    ),
    enrolled as (select count(*) as n from progress),
    per_module as (
        select m.module_position,
               count(*) filter (where p.modules_done >= m.module_position) as reached
        from course_modules m, progress p where m.course_id = ? group by all
    )
    select case when reached >= ? and n >= ? then reached end as reached
    from per_module, enrolled order by module_position
"""


def old_page_view(con, instructor_id: str, k: int) -> list[CourseFigures]:
    view = []
    for course_id, enrolled, completed, dropped in con.execute(
        OLD_SUMMARY, [instructor_id]
    ).fetchall():
        shown = enrolled >= k
        weeks = con.execute(OLD_WEEKS, [instructor_id, course_id, k]).fetchall()
        reached = con.execute(OLD_FUNNEL, [course_id, course_id, k, k]).fetchall() if shown else []
        view.append(
            CourseFigures(
                course_id,
                enrolled if shown else None,
                completed if shown else None,
                dropped if shown else None,
                weeks=[w for (w,) in weeks] + [None],  # the page left the others out
                reached=[r for (r,) in reached],
            )
        )
    return view


# -- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory, prefect_harness) -> Iterator[Path]:
    with served(tmp_path_factory) as path:
        yield path


@pytest.fixture(scope="module")
def snapshot(home) -> snapshots.Snapshot:
    return snapshots.require_current()


def instructors(snap: snapshots.Snapshot) -> list[str]:
    con = snap.connect()
    try:
        rows = con.execute("select distinct instructor_id from courses order by 1").fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def test_no_instructor_can_work_out_a_group_under_k(snapshot):
    from apps.queries import content_gaps, creator

    k = get_settings().k_anonymity
    assert creator.published_k(snapshot.version) == k  # the marts were built with the setting
    views = {i: page_view(snapshot.version, i, k) for i in instructors(snapshot)}
    leaks = [leak for view in views.values() for c in view for leak in groups_under_k(c, k)]
    assert leaks == []

    # Not vacuous: the platform has courses with weeks both shown and withheld, and funnels
    # of more than one step, so the subtractions were tried on real figures.
    courses = [c for view in views.values() for c in view if c.enrolled is not None]
    assert len(courses) >= 10
    assert any(None in c.weeks and any(w is not None for w in c.weeks) for c in courses)
    assert any(len(c.steps) >= 3 for c in courses)
    topics = content_gaps.unmatched_topics(snapshot.version)
    assert (topics["learner_count"] >= k).all()


def test_the_attack_finds_the_groups_the_old_page_revealed(snapshot):
    # The page's queries before this change, on the same snapshot: week totals and consecutive
    # funnel points gave groups under k away (the security review's finding 6).
    k = get_settings().k_anonymity
    con = snapshot.connect()
    try:
        leaks = [
            leak
            for instructor in instructors(snapshot)
            for c in old_page_view(con, instructor, k)
            for leak in groups_under_k(c, k)
        ]
    finally:
        con.close()
    kinds = {what.split(": ")[1] for what, _ in leaks}
    assert {"weeks", "funnel"} <= kinds, leaks
    assert all(0 < size < k for _, size in leaks)


def test_a_course_total_minus_its_weeks_reveals_a_week_of_three():
    # A hand-made course: weeks of 12, 15 and 3 learners, total 30. Leaving out only the week
    # of 3 (the old rule) gives it away; withholding the next smallest week with it does not.
    k = 10
    old = CourseFigures("c", 30, weeks=[12, 15, None])
    assert groups_under_k(old, k) == [("c: weeks: total - shown", 3)]
    assert groups_under_k(CourseFigures("c", 30, weeks=[None, 15, None]), k) == []
    # Funnel points 30 > 24 > 12: the first step is 6 learners; steps of 18 and 12 are fine.
    assert groups_under_k(CourseFigures("c", 30, reached=[30, 24, 12]), k) == [
        ("c: funnel: 30 - 24", 6)
    ]
    assert groups_under_k(CourseFigures("c", 30, reached=[30, 12], steps=[18, 12]), k) == []
