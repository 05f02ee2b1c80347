"""Course Q&A outcomes (pathwise/qa_outcomes.py) into the course benchmark: a known set of logged
outcomes moves into the warehouse, a real `dbt build` counts them per course and module
(`marts.course_module_questions`), and `ml.course_benchmarks` places each course's refusal share
and each module's among its similar courses. (That the real Q&A path logs these rows, and nothing
about the learner, is tested in tests/test_rag.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from pathwise.qa_outcomes import QaOutcomes, load_outcomes
from pathwise.warehouse import connect

# (course, module of the best passage) -> (questions, refused); k = 10 questions make a share.
KNOWN = {
    ("c-py", "Module 1"): (10, 6),
    ("c-py", "Module 2"): (10, 1),
    ("c-sql", "Module 1"): (10, 2),
    ("c-ml", None): (10, 0),  # nothing retrieved
    ("c-a", "Overview"): (12, 6),
    ("c-b", "Intro"): (4, 4),  # fewer than k questions: no share
}


@pytest.fixture
def logged(pathwise_home) -> QaOutcomes:
    from tests.test_dbt_build import T0, write_raw

    write_raw()  # c-py (modules "Module 1", "Module 2"), c-sql ("Module 1"), c-ml
    with connect() as con:
        con.executemany(
            "insert into raw.catalog_courses values (?, ?, 'About it.', 'data', 1, 'i2', 'en', "
            "'video', ?)",
            [(c, t, T0 + timedelta(days=1)) for c, t in (("c-a", "Data viz"), ("c-b", "Excel"))],
        )
    store = QaOutcomes()
    for (course, module), (asked, refused) in KNOWN.items():
        for i in range(asked):
            grade = "refused" if i < refused else ("closest", "confident")[i % 2]
            store.record(course_id=course, scope="course", module=module, grade=grade)
    for _ in range(5):  # over the whole catalog: not a question about c-sql
        store.record(course_id="c-sql", scope="catalog", module="Module 1", grade="refused")
    return store


def test_refusals_per_module_reach_the_course_benchmark(logged, prefect_harness):
    from agents.metadata.benchmark import compute_and_write
    from flows.build import build_flow

    with connect() as con:
        assert load_outcomes(con, logged) == {"loaded": 61}
    assert logged.rows() == []  # moved, not copied: the warehouse holds them now
    build_flow(
        select="+exposure:creator_dashboard +courses +course_modules +course_skills "
        "+course_kpis +learner_course_progress"
    )
    with connect() as con:
        per_module = con.execute(
            "select course_id, module_title, module_position, question_count, refused_count "
            "from marts.course_module_questions order by 1, 2"
        ).fetchall()
        compute_and_write(con)
        rows = con.execute(
            "select course_id, qa_questions, qa_refusal_rate, peer_median_qa_refusal_rate, "
            "qa_refusal_rate_percentile, qa_refusal_rate_band, qa_refusals_per_module "
            "from ml.course_benchmarks"
        ).fetchall()
    assert per_module == [
        ("c-a", "Overview", None, 12, 6),
        ("c-b", "Intro", None, 4, 4),
        ("c-ml", "", None, 10, 0),
        ("c-py", "Module 1", 1, 10, 6),
        ("c-py", "Module 2", 2, 10, 1),
        ("c-sql", "Module 1", 1, 10, 2),  # the catalog-wide questions are not counted
    ]
    bench = {r[0]: r[1:] for r in rows}
    assert {c: b[:2] for c, b in bench.items()} == {
        "c-py": (20, 0.35), "c-sql": (10, 0.2), "c-ml": (10, 0.0), "c-a": (12, 0.5),
        "c-b": (4, None),
    }  # fmt: skip
    # c-py among its 4 similar courses' shares (0.2, 0.0, 0.5; c-b has none): fewer refusals
    # than one of three.
    assert bench["c-py"][2:5] == (0.2, 33.3, "below the median")
    assert bench["c-ml"][4] == "top quartile"
    modules = bench["c-py"][5]
    assert [(m["module_position"], m["questions"], m["refused"], m["refusal_rate"]) for m in modules
            ] == [(1, 10, 6, 0.6), (2, 10, 1, 0.1)]  # fmt: skip
    # Among the similar courses' modules (0.2, 0.0, 0.5): the worst, then better than two.
    assert [(m["percentile"], m["band"]) for m in modules] == [
        (0.0, "bottom quartile"),
        (66.7, "above the median"),
    ]
    assert bench["c-b"][5] == []  # 4 questions make no module share either
