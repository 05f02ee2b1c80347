"""The planner's catalog as read from the marts of the shared app platform (one real nightly run,
tests/_app_platform.py), and a path planned over it for a seeded occupation."""

from datetime import date

import duckdb
import pytest
from _app_platform import build

from agents.paths.catalog import NEUTRAL_QUALITY, load_catalog
from agents.paths.planner import Goal, plan, skill_key


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    con = duckdb.connect(str(build(tmp_path_factory) / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


def test_the_catalog_holds_every_course_with_its_hours_skills_and_prerequisites(warehouse):
    catalog = load_catalog(warehouse, k=5)
    courses, minutes, skills, prereqs = warehouse.execute(
        """select (select count(*) from marts.courses),
                  (select sum(duration_minutes) from marts.course_modules),
                  (select count(*) from marts.course_skills),
                  (select count(*) from marts.course_prerequisites)"""
    ).fetchone()
    assert len(catalog.courses) == courses
    assert sum(c.hours for c in catalog.courses.values()) == pytest.approx(minutes / 60)
    assert sum(len(c.skills) for c in catalog.courses.values()) == skills
    assert sum(len(c.prerequisites) for c in catalog.courses.values()) == prereqs
    # Quality is the completion rate where k learners enrolled: some courses have one.
    rated = [c.quality for c in catalog.courses.values() if c.quality != NEUTRAL_QUALITY]
    assert rated and all(0 <= q <= 1 for q in rated)


def test_a_path_over_the_real_catalog_covers_a_roles_taught_skills(warehouse):
    catalog = load_catalog(warehouse, k=5)
    role, names = warehouse.execute(
        """select learners.target_role, list(distinct s.skill_name)
           from marts.learners join reference.role_skills rs on rs.role_title = learners.target_role
           join reference.skills s using (skill_id)
           where learners.target_role is not null group by 1 order by count(*) desc limit 1"""
    ).fetchone()
    goal = Goal(role, frozenset(map(skill_key, names)), 5, date(2026, 3, 2))
    path = plan(catalog, goal)
    taught = {s for c in catalog.courses.values() for s in c.skills}
    covered = {s for step in path.steps for s in catalog.courses[step.course_id].skills}
    assert path.steps
    assert goal.skills & taught <= covered
    assert len(path.uncovered) == len(goal.skills - taught)
    assert all(step.reason for step in path.steps)
