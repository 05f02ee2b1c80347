"""The insights marts (content gaps, search topics, course and recommendation KPIs), end to end.

A small hand-made platform is written to the raw tables the way ingestion writes them, the real
`dbt build` of the insights marts and their parents runs through the build flow, and the marts
are compared with numbers worked out by hand below, with k-anonymity at k = 3 (the setting,
passed to dbt as its var).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from flows.build import build_flow
from pathwise.settings import get_settings
from pathwise.warehouse import connect

T0 = datetime(2026, 1, 5, 9, 0, 0)  # a Monday
BATCH = "c" * 64
SELECT = "+marts.insights"  # the insights marts and everything they are built from

DATA = [f"ds{i}" for i in range(10)]  # 10 learners aiming at Data Scientists (Computer and Math.)
MANAGERS = ["gm0", "gm1"]  # 2 learners aiming at General and Operations Managers (Management)


def ev(event_type: str, learner: str, course: str | None = None, module: str | None = None,
       **props) -> tuple:  # fmt: skip
    return (event_type, learner, course, module, props)


def platform() -> list[tuple]:
    """The hand-made events, in time order (one minute apart)."""
    events = [ev("profile_updated", lk, target_role="Data Scientists") for lk in DATA]
    events += [ev("profile_updated", lk, target_role="General and Operations Managers")
               for lk in MANAGERS]  # fmt: skip

    # Day 1: every data learner is shown c-py and c-sql in one list (20 impressions); 5 click
    # c-py (CTR 0.25); ds0 and ds1 enrol from the list; ds8 enrols in c-sql with its list's id
    # without clicking (not an enrolment after a click).
    for lk in DATA:
        for position, course in enumerate(["c-py", "c-sql"], start=1):
            events.append(ev("rec_impression", lk, course, rec_id=f"r-{lk}", position=position,
                             surface="home", model_version="v1"))  # fmt: skip
    # Managers: 2 learners, 3 impressions: fewer than k = 3 learners, so no row.
    for lk in MANAGERS:
        events.append(ev("rec_impression", lk, "c-py", rec_id=f"r-{lk}", position=1,
                         surface="home", model_version="v1"))  # fmt: skip
    events.append(ev("rec_impression", "gm0", "c-sql", rec_id="r-gm0", position=2,
                     surface="home", model_version="v1"))  # fmt: skip
    for lk in ["ds0", "ds1", "ds5", "ds6", "ds7"]:
        events.append(ev("rec_click", lk, "c-py", rec_id=f"r-{lk}"))
    events.append(ev("rec_click", "gm0", "c-py", rec_id="r-gm0"))

    # c-py (modules m1, m2, m3), enrolment week of T0: 5 enrolments; ds0 completes (rating 4,
    # quiz 0.8); ds1 drops after m2 (quiz 0.3); ds2 drops after m2; ds3 after m1; ds4 goes on.
    events += [
        ev("enroll", "ds0", "c-py", rec_id="r-ds0"),
        ev("enroll", "ds1", "c-py", rec_id="r-ds1"),
        ev("enroll", "ds2", "c-py"),
        ev("enroll", "ds3", "c-py"),
        ev("enroll", "ds4", "c-py"),
        ev("enroll", "ds8", "c-sql", rec_id="r-ds8"),
    ]
    for lk, last in [("ds0", 3), ("ds1", 2), ("ds2", 2), ("ds3", 1)]:
        events += [ev("module_complete", lk, "c-py", f"m{m}") for m in range(1, last + 1)]
    events += [
        ev("quiz_submit", "ds0", "c-py", quiz_id="q1", score=0.8, attempt=1),
        ev("quiz_submit", "ds1", "c-py", quiz_id="q1", score=0.3, attempt=1),
        ev("course_complete", "ds0", "c-py", result="pass"),
        ev("rating", "ds0", "c-py", stars=4),
        ev("course_drop", "ds1", "c-py"),
        ev("course_drop", "ds2", "c-py"),
        ev("course_drop", "ds3", "c-py"),
    ]

    # Searches: Kubernetes (a taxonomy skill no course teaches) 3 times with no result; Python
    # (taught by c-py) twice; Rust twice in different words; 'elm' by two learners; one query
    # typed by one learner.
    events += [
        ev("search", "ds0", query="kubernetes", results_count=0),
        ev("search", "ds1", query="Learn Kubernetes", results_count=0),
        ev("search", "ds2", query="kubernetes for beginners", results_count=0),
        ev("search", "ds3", query="python", results_count=5),
        ev("search", "ds4", query="Python course", results_count=5),
        ev("search", "ds5", query="learn rust", results_count=0),
        ev("search", "ds6", query="rust course", results_count=1),
        ev("search", "ds7", query="zyxw qvtp", results_count=0),
        ev("search", "ds8", query="elm", results_count=0),
        ev("search", "ds9", query="learn elm", results_count=0),
        ev("forum_post", "ds9", thread_id="t1", text="How do I start with Python?"),
    ]
    return events


def write_raw(events: list[tuple]) -> None:
    """Write the catalog and the events as ingestion would."""
    loaded_at = T0 + timedelta(days=2)
    with connect(vault=True) as con:
        con.executemany(
            "insert into raw.catalog_courses values (?, ?, null, 'data', 1, 'i1', 'en', 'video', ?)",
            [("c-py", "Python for data work", loaded_at), ("c-sql", "SQL basics", loaded_at)],
        )
        con.executemany(
            "insert into raw.catalog_modules values ('c-py', ?, ?, null, 10.0, 'video', ?, null)",
            [(f"m{p}", p, loaded_at) for p in (1, 2, 3)],
        )
        con.execute(
            "insert into raw.catalog_course_skills values ('c-py', 'Python', ?)", [loaded_at]
        )
        rows = [
            (f"e{i:03d}", event_type, T0 + timedelta(minutes=i), learner, f"s-{learner}", course,
             module, json.dumps(props), BATCH, loaded_at)
            for i, (event_type, learner, course, module, props) in enumerate(events)
        ]  # fmt: skip
        con.executemany(
            "insert into raw.events values ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10)", rows
        )


def query(sql: str) -> list[tuple]:
    with connect(read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.mark.slow
def test_insights_marts_from_a_hand_made_platform(prefect_harness, pathwise_home, monkeypatch):
    monkeypatch.setenv("PATHWISE_K_ANONYMITY", "3")
    get_settings.cache_clear()
    # build_flow runs partial builds with DBT_INDIRECT_SELECTION=cautious: only the tests of
    # the selected nodes, not those joining them to models outside the selection.
    write_raw(platform())

    result = build_flow(select=SELECT)

    assert result["failures"] == []
    assert set(result["counts"]["model"]) == {"success"}
    assert set(result["counts"]["unit_test"]) == {"pass"}

    # Recommendations: one row (day 1, home, v1, Computer and Mathematical); the managers'
    # 2-learner segment is below k = 3 and absent; no impressions on other days, no rows.
    assert query(
        "select activity_date, surface, model_version, segment, learner_count, impression_count,"
        " click_count, ctr, enrolment_count, completion_count, avg_rating, rating_count"
        " from marts.recommendation_kpis"
    ) == [(T0.date(), "home", "v1", "Computer and Mathematical", 10, 20, 5, 0.25, 2, 1, 4.0, 1)]

    # Courses: c-py's cohort of the week of T0; the drop-off is after module 2 (ds1, ds2).
    (c_py,) = query(
        "select period_week, enrolment_count, completion_count, drop_count, completion_rate,"
        " drop_off_module_position, drop_off_module_id, drop_off_learner_count, avg_rating,"
        " rating_count, quiz_attempt_count, avg_quiz_score, quiz_fail_share"
        " from marts.course_kpis where course_id = 'c-py'"
    )
    assert c_py[:11] == (date(2026, 1, 5), 5, 1, 3, 0.2, 2, "m2", 2, 4.0, 1, 2)
    assert c_py[11:] == (pytest.approx(0.55), 0.5)
    # c-sql: one enrolment, nobody dropped: no drop-off module.
    assert query(
        "select enrolment_count, drop_count, drop_off_module_position from marts.course_kpis"
        " where course_id = 'c-sql'"
    ) == [(1, 0, None)]

    # Content gaps: Kubernetes, searched 3 times with 0 results and taught by no course, has
    # the highest gap score; Python, taught by c-py, is matched by searches and the forum post.
    gaps = query(
        "select skill_name, search_count, zero_result_share, course_count, forum_post_count"
        " from marts.content_gaps order by gap_score desc, skill_key"
    )
    assert gaps[0] == ("Kubernetes", 3, 1.0, 0, 0)
    python = [g for g in gaps if g[0] == "Python"]
    assert python == [("Python", 2, 0.0, 1, 1)]

    # Search topics no course covers, from k = 3 distinct learners: 'kubernetes', in three
    # wordings, is one topic; Python is taught (absent); 'rust' ('learn rust', 'rust course')
    # and 'elm' were searched by two learners and a query by one: none shows.
    assert query(
        "select topic, search_count, learner_count, zero_result_share, matches_taxonomy_skill"
        " from marts.unmatched_search_topics order by topic"
    ) == [("kubernetes", 3, 3, 1.0, True)]

    # No learner identifiers in any insights mart.
    columns = query(
        "select table_name, column_name from information_schema.columns"
        " where table_schema = 'marts' and table_name in"
        " ('content_gaps', 'unmatched_search_topics', 'course_kpis', 'recommendation_kpis')"
    )
    assert {t for t, _ in columns} == {
        "content_gaps",
        "unmatched_search_topics",
        "course_kpis",
        "recommendation_kpis",
    }
    assert not [c for _, c in columns if "learner_key" in c or "session" in c]
