"""The marts consumers read instead of staging: the catalog and the recommender's interactions.

On the simulated ML warehouse (tests/_ml_warehouse.py), built up to those marts by the real
`dbt build`. `ml_course_interactions` must hold, kind by kind, exactly the staging rows it stands
for, and the recommender's `load_data` must read them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from _ml_warehouse import build_once

from pathwise.settings import get_settings
from pathwise.warehouse import connect


@pytest.fixture(scope="module")
def warehouse(prefect_harness, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = build_once(tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(root / "home"))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        yield root / "home"
    get_settings.cache_clear()


def query(home: Path, sql: str) -> list[tuple]:
    assert get_settings().home == home  # the module's warehouse (set by the fixture)
    with connect(read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.mark.slow
def test_interactions_reconcile_with_staging_and_reach_the_recommender(warehouse):
    from_staging = query(warehouse, """
        with firsts as (  -- first completion of each module, in courses with catalog modules
            select learner_key, course_id, module_id, min(completed_at) as first_at
            from staging.stg_pathwise__module_completions group by all
        ),
        modules as (select course_id, count(*) as n from staging.stg_pathwise__modules group by 1)
        select learner_key, course_id, 'enroll', enrolled_at, 1.0
        from staging.stg_pathwise__enrolments
        union all
        select learner_key, course_id, 'progress', first_at, 1.0 / n from firsts join modules using (course_id)
        union all
        select learner_key, course_id,
               case when is_passed then 'passed' when is_completed then 'failed' else 'dropped' end,
               ended_at, 1.0
        from staging.stg_pathwise__course_ends
        union all
        select learner_key, course_id, 'rating', rated_at, stars from staging.stg_pathwise__ratings
        union all
        select learner_key, course_id, 'click', clicked_at, 1.0 from staging.stg_pathwise__rec_clicks
        union all
        select learner_key, course_id, 'quiz', submitted_at, score
        from staging.stg_pathwise__quiz_submissions where score is not null
        order by all
    """)  # fmt: skip
    mart = query(
        warehouse,
        "select learner_key, course_id, interaction_kind, interacted_at, interaction_value "
        "from marts.ml_course_interactions order by all",
    )
    assert len(mart) > 1000
    assert [r[:4] for r in mart] == [r[:4] for r in from_staging]
    assert [r[4] for r in mart] == pytest.approx([float(r[4]) for r in from_staging])
    kinds = Counter(kind for _, _, kind, _, _ in mart)
    assert {"enroll", "progress", "passed", "dropped", "rating", "click", "quiz"} <= set(kinds)

    from ml.recommender import load_data

    with connect(read_only=True) as con:
        data = load_data(con)
    assert data.events.height == len(mart) - kinds["quiz"]
    assert data.quiz_scores is not None and data.quiz_scores.height == kinds["quiz"]
    assert Counter(data.events["kind"].to_list()) == kinds - Counter({"quiz": kinds["quiz"]})


@pytest.mark.slow
def test_courses_carry_the_catalog_with_module_counts_and_formats(warehouse):
    catalog = query(warehouse, "select * from staging.stg_pathwise__courses order by all")
    courses = query(
        warehouse,
        "select * exclude (module_count, module_format, difficulty_source, catalog_difficulty, "
        "duration_minutes, duration_source) from marts.courses order by all",
    )
    assert courses == catalog
    # Nothing accepted on this platform: every value is the catalog's, and a course lasts as
    # long as its modules.
    provenance = query(
        warehouse,
        """
        select c.difficulty_source = 'catalog' or (c.difficulty_source is null
                                                   and c.difficulty is null),
               c.catalog_difficulty is not distinct from c.difficulty, c.duration_source,
               c.duration_minutes = (select sum(m.duration_minutes)
                                     from staging.stg_pathwise__modules m
                                     where m.course_id = c.course_id)
        from marts.courses c
        where c.module_count > 0
        """,
    )
    assert provenance and set(provenance) == {(True, True, "catalog", True)}

    formats: dict[str, Counter[str]] = {}
    for course_id, module_format in query(
        warehouse, "select course_id, module_format from staging.stg_pathwise__modules"
    ):
        formats.setdefault(course_id, Counter())[module_format] += 1
    summaries = query(warehouse, "select course_id, module_count, module_format from marts.courses")
    for course_id, module_count, module_format in summaries:
        counts = formats.get(course_id, Counter())
        assert module_count == sum(counts.values()), course_id
        most = max(counts.values(), default=0)
        expected = min((f for f, n in counts.items() if n == most), default=None)
        assert module_format == expected, course_id


@pytest.mark.slow
def test_modules_skills_and_prerequisites_mirror_the_catalog(warehouse):
    assert query(warehouse, "select * from marts.course_modules order by all") == query(
        warehouse, "select * from staging.stg_pathwise__modules order by all"
    )
    for mart, staging, columns in [
        ("course_skills", "stg_pathwise__course_skills", "course_id, skill_name"),
        ("course_prerequisites", "stg_pathwise__course_prerequisites",
         "course_id, prerequisite_course_id"),
    ]:  # fmt: skip
        in_mart = query(warehouse, f"select {columns} from marts.{mart} order by all")
        assert in_mart
        assert in_mart == query(
            warehouse, f"select distinct {columns} from staging.{staging} order by all"
        )
