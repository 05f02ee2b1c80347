"""Every reason is true: what a recommendation's sentence says of the learner, the learner's data says
too. Checked over every row of the published snapshot of the shared test platform (a real nightly
run, tests/_app_platform.py), against its marts: an explanation a learner can check and find wrong
costs the trust the product is built on.

- a course the reason names is in the learner's history as the sentence says: "you completed X"
  only where the progress mart says completed, "you took X" / "the level you reached in X" only for
  a course the learner enrolled in;
- a skill it names is taught by the recommended course and needed by the role the sentence names,
  which is the learner's target role.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from _app_platform import build

from pathwise import snapshots
from pathwise.settings import get_settings
from pathwise.warehouse import connect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def con(tmp_path_factory, prefect_harness) -> Iterator[duckdb.DuckDBPyConnection]:
    """The published snapshot, with the warehouse's role skills beside it (a reference seed)."""
    home = build(tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        with connect(read_only=True) as wh:
            role_skills = wh.execute(
                "select distinct rs.role_title as role, s.skill_name as skill "
                "from warehouse.reference.role_skills rs "
                "join warehouse.reference.skills s using (skill_id)"
            ).pl()
        snap_con = snapshots.require_current().connect()
        snap_con.register("role_skills", role_skills)
        yield snap_con
        snap_con.close()
    get_settings.cache_clear()


def test_the_platform_has_reasons_of_every_kind(con):
    said = con.execute(
        "select count(*) filter (where reason like '%you completed %'), "
        "count(*) filter (where reason like '%you took %'), "
        "count(*) filter (where len(reason_skills) > 0), count(*) from recommendations"
    ).fetchall()[0]
    assert all(n > 0 for n in said), f"completed, took, skills, rows: {said}"


def test_every_course_a_reason_names_is_in_the_learners_history_as_it_says(con):
    wrong = con.execute(
        """
        with named as (
            select r.learner_key, r.course_id as recommended, r.reason, unnest(r.reason_courses) as c
            from recommendations r
        )
        select n.learner_key, n.reason, c.course_title, p.status
        from named n
        join courses c on c.course_id = n.c
        left join learner_course_progress p on p.learner_key = n.learner_key and p.course_id = n.c
        where p.learner_key is null  -- never enrolled, whatever the sentence says
           or (n.reason like '%you completed ' || c.course_title || '%' and p.status <> 'completed')
        """
    ).fetchall()
    total = con.execute("select sum(len(reason_courses)) from recommendations").fetchone()[0]
    assert total > 0
    assert wrong == [], f"{len(wrong)} of {total} named courses are untrue, e.g. {wrong[:3]}"


def test_every_skill_a_reason_names_is_taught_and_needed_by_the_learners_role(con):
    wrong = con.execute(
        """
        with named as (
            select r.learner_key, r.course_id, r.reason_role, unnest(r.reason_skills) as skill
            from recommendations r
        )
        select n.*, l.target_role
        from named n
        join learners l using (learner_key)
        where n.reason_role is distinct from l.target_role
           or not exists (select 1 from course_skills s
                          where s.course_id = n.course_id and s.skill_name = n.skill)
           or not exists (select 1 from role_skills rs
                          where rs.role = n.reason_role and rs.skill = n.skill)
        """
    ).fetchall()
    total = con.execute("select sum(len(reason_skills)) from recommendations").fetchone()[0]
    assert total > 0
    assert wrong == [], f"{len(wrong)} of {total} named skills are untrue, e.g. {wrong[:3]}"
