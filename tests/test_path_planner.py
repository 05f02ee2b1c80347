"""The learning-path planner (agents/paths/planner.py): properties that hold on any generated
catalog (hypothesis), and the words a learner reads on a small one."""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.paths.planner import Catalog, Course, Goal, plan, replan, skill_key

SKILLS = [f"skill {i}" for i in range(12)]
START = date(2026, 3, 2)


@st.composite
def catalogs(draw):
    n = draw(st.integers(1, 25))
    ids = [f"C{i:02d}" for i in range(n)]
    courses = [
        Course(
            course_id=cid,
            title=f"Course {cid}",
            skills=frozenset(draw(st.sets(st.sampled_from(SKILLS), max_size=4))),
            hours=draw(st.floats(0, 60, allow_nan=False)),
            # any course may name any other, cycles included: the planner must cope
            prerequisites=tuple(draw(st.lists(st.sampled_from(ids), max_size=3, unique=True))),
            level=draw(st.none() | st.integers(1, 3)),
            format=draw(st.none() | st.sampled_from(["video", "reading", "hands-on"])),
            quality=draw(st.floats(0, 1)),
        )
        for cid in ids
    ]
    return Catalog(courses)


@st.composite
def goals(draw):
    return Goal(
        role="Data Analyst",
        # a few skills no course may teach
        skills=frozenset(draw(st.sets(st.sampled_from([*SKILLS, "cobol", "fortran"]), min_size=1))),
        hours_per_week=draw(st.floats(0.5, 40)),
        start=START,
        level=draw(st.none() | st.integers(1, 3)),
        preferred_format=draw(st.none() | st.sampled_from(["video", "reading"])),
    )


def check(catalog: Catalog, path, known: set[str], done: set[str], avoid: set[str] = frozenset()):
    ids = [s.course_id for s in path.steps]
    assert len(ids) == len(set(ids)), "a course twice"
    assert not set(ids) & (done | avoid), "a done or avoided course planned"
    # Every prerequisite comes first, or was done already.
    for i, cid in enumerate(ids):
        for p in catalog.prerequisites[cid]:
            assert p in done or p in ids[:i], f"{p} must come before {cid}"
    # One course at a time, never faster than the weekly hours allow.
    for step, nxt in zip(path.steps, path.steps[1:], strict=False):
        assert nxt.start == step.end
    for step in path.steps:
        assert step.hours / ((step.end - step.start).days / 7) <= path.goal.hours_per_week + 1e-9
    # Every gap skill is taught by a planned course, or listed as uncovered.
    known_all = known | {s for c in done for s in catalog.courses[c].skills}
    taught = {s for cid in ids for s in catalog.courses[cid].skills}
    for skill in path.goal.skills - known_all:
        assert skill in taught or skill in path.uncovered, skill
    # Nothing planned for nothing: each step teaches a gap skill or opens the way to one that does.
    for step in path.steps:
        assert step.covers or any(step.course_id in catalog.prerequisites[c] for c in ids), (
            step.course_id
        )


@settings(max_examples=150, deadline=None)
@given(catalogs(), goals(), st.data())
def test_any_path_is_ordered_within_budget_and_covers_or_lists_every_gap(catalog, goal, data):
    known = data.draw(st.sets(st.sampled_from(SKILLS), max_size=4))
    done = data.draw(st.sets(st.sampled_from(sorted(catalog.courses)), max_size=3))
    avoid = data.draw(st.sets(st.sampled_from(sorted(catalog.courses)), max_size=2)) - done
    check(catalog, plan(catalog, goal, known, done, avoid), known, done, avoid)


@settings(max_examples=100, deadline=None)
@given(catalogs(), goals(), st.data())
def test_replanning_after_a_finished_step_never_adds_it_again(catalog, goal, data):
    first = plan(catalog, goal)
    if not first.steps:
        return
    finished = {first.steps[0].course_id}
    stalled = set(
        data.draw(st.sets(st.sampled_from([s.course_id for s in first.steps[1:]] or ["-"])))
    )
    today = first.steps[0].end
    new, changes = replan(catalog, first, today, done=finished, stalled=stalled - {"-"})
    assert first.steps[0].course_id not in {s.course_id for s in new.steps}
    assert f"You finished {first.steps[0].title}." in changes
    assert new.goal.start == today
    check(catalog, new, set(), finished, stalled - {"-"})


def test_a_cycle_in_the_catalog_is_broken_and_reported():
    a = Course("A", "A", frozenset({"x"}), 5, prerequisites=("B",))
    b = Course("B", "B", frozenset({"y"}), 5, prerequisites=("A",))
    catalog = Catalog([a, b])
    assert len(catalog.ignored_prerequisites) == 1
    path = plan(catalog, Goal("R", frozenset({"x", "y"}), 5, START))
    assert {s.course_id for s in path.steps} == {"A", "B"}


def analyst_catalog() -> Catalog:
    def course(cid, title, skills, hours, prereqs=(), quality=0.6, level=1):
        return Course(
            cid, title, frozenset(map(skill_key, skills)), hours, prereqs, level, "video", quality
        )

    return Catalog(
        [
            course("STAT", "Intro to Statistics", ["Statistics"], 10),
            course("SQL1", "SQL Basics", ["SQL"], 8),
            course("SQLJ", "SQL Joins and Tableau", ["SQL joins", "Tableau"], 12, ("SQL1", "STAT")),
            course("BIG", "Everything Data, Slowly", ["SQL", "SQL joins", "Tableau"], 120),
            course("XL", "Excel for Analysts", ["Excel"], 6),
            course("PY", "Python for Data", ["Python"], 20, level=2),
        ]
    )


def analyst_goal(**kw) -> Goal:
    names = ["SQL", "SQL joins", "Tableau", "Excel", "Power BI"]
    return Goal(
        role="Data Analyst",
        skills=frozenset(map(skill_key, names)),
        hours_per_week=5,
        start=START,
        target=START + timedelta(weeks=8),
        skill_names={skill_key(n): n for n in names},
        **kw,
    )


def test_a_path_says_why_each_course_is_there_and_what_the_catalog_lacks():
    path = plan(analyst_catalog(), analyst_goal(), known=["excel"])
    assert [s.course_id for s in path.steps] == ["SQL1", "STAT", "SQLJ"]
    assert [s.reason for s in path.steps] == [
        "Covers SQL for Data Analyst",
        "Needed before SQL Joins and Tableau",
        "Covers SQL joins and Tableau for Data Analyst; after SQL Basics and Intro to Statistics",
    ]
    assert path.uncovered == ("Power BI",)
    # 30 hours at 5 a week: 6 weeks (the steps round up to whole days), within the 8-week target.
    assert path.total_hours == 30 and path.on_time
    assert path.finish - START <= timedelta(weeks=6, days=3)


def test_replanning_says_what_changed_and_why():
    catalog = analyst_catalog()
    first = plan(catalog, analyst_goal())
    assert "XL" in {s.course_id for s in first.steps}
    # Finished SQL Basics early; Excel was shown elsewhere (a passed assessment).
    new, changes = replan(catalog, first, START + timedelta(days=3), known=["Excel"], done={"SQL1"})
    assert "You finished SQL Basics early." in changes
    assert "Excel for Analysts is no longer needed: you have shown its skills." in changes
    assert "XL" not in {s.course_id for s in new.steps} and new.finish < first.finish
    # Stalled on the joins course: the path goes through the long course instead.
    new, changes = replan(catalog, first, START, stalled={"SQLJ"})
    assert "SQL Joins and Tableau stalled, so the path goes another way." in changes
    assert "BIG" in {s.course_id for s in new.steps}
