"""The learner marts end to end: hand-made raw rows, the real `dbt build` through the flow.

Day 0 is Monday 2026-03-02; the latest event of the first load is on day 15, so day counts are
relative to 2026-03-17. The values asserted here are worked out by hand from the rows below.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from flows.build import build_flow
from pathwise.warehouse import connect

DAY0 = datetime(2026, 3, 2)
# The learner marts and what they are built from (partial builds run only their own tests).
SELECT = "+learners +cohorts"
TABLES = [
    "intermediate.int_learner_course_activity_daily",
    "intermediate.int_enrolments_deduplicated",
    "intermediate.int_module_completions_deduplicated",
    "intermediate.int_enrolments_joined_to_modules",
    "marts.learner_course_progress",
    "marts.cohorts",
    "marts.learners",
]

# course_id, module_id, position, duration_minutes
MODULES = [
    *[("c-a", f"a{p}", p, 10.0 * p) for p in range(1, 6)],  # 10, 20, 30, 40, 50 minutes
    ("c-b", "b1", 1, 15.0),
    ("c-b", "b2", 2, 25.0),
]


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return DAY0 + timedelta(days=day, hours=hour, minutes=minute)


def first_load() -> list[tuple]:
    """(occurred_at, event_type, learner_key, course_id, module_id, properties) of days 0-15."""
    quiz = {"quiz_id": "q1", "attempt": 1}
    events = [
        # lk-main: 3 of the 5 modules of c-a, last active on day 5 -> 10 days inactive, active.
        (at(0), "enroll", "lk-main", "c-a", None, {}),
        *[(at(d), "module_start", "lk-main", "c-a", f"a{d}", {}) for d in (1, 2, 3)],
        *[(at(d, 10), "module_complete", "lk-main", "c-a", f"a{d}", {}) for d in (1, 2, 3)],
        (at(5), "module_complete", "lk-main", "c-a", "a2", {}),  # a repeat counts once
        (at(5, 11), "quiz_submit", "lk-main", "c-a", None, {**quiz, "score": 0.8}),
        # Enrolled and gone quiet for 15 days: stalled. Dropped. Passed.
        (at(0), "enroll", "lk-stall", "c-a", None, {}),
        (at(0), "enroll", "lk-drop", "c-a", None, {}),
        (at(2), "course_drop", "lk-drop", "c-a", None, {"reason": "no time"}),
        (at(0), "enroll", "lk-done", "c-b", None, {}),
        (at(3), "course_complete", "lk-done", "c-b", None, {"result": "pass"}),
        # lk-late: half of c-b (module b1 on day 7), with quizzes before and after.
        (at(1), "enroll", "lk-late", "c-b", None, {}),
        (at(2), "module_start", "lk-late", "c-b", "b1", {}),
        (at(3), "quiz_submit", "lk-late", "c-b", None, {**quiz, "score": 0.5}),
        (at(7, 0), "module_complete", "lk-late", "c-b", "b1", {}),
        (at(7, 0), "quiz_submit", "lk-late", "c-b", None, {**quiz, "score": 1.0}),
        (at(8), "quiz_submit", "lk-late", "c-b", None, {**quiz, "score": 0.9}),
        # Ten learners enrol in c-b on day 14 (cohort c-b / 0-25 / active: kept) ...
        *[(at(14), "enroll", f"lk-k{i:02}", "c-b", None, {}) for i in range(10)],
        (at(15), "module_start", "lk-k00", "c-b", "b1", {}),
        # ... and three more do half of it (cohort c-b / 50-75 / active with lk-late: 4, left out).
        *[(at(14), "enroll", f"lk-h{i}", "c-b", None, {}) for i in range(3)],
        *[(at(14, 10), "module_complete", f"lk-h{i}", "c-b", "b1", {}) for i in range(3)],
    ]
    return events


def second_load() -> list[tuple]:
    """A new day (16), plus a late event of day 15, the latest day already loaded."""
    return [
        (at(15, 23), "module_start", "lk-k01", "c-b", "b1", {}),
        (at(15, 23, 30), "video_progress", "lk-k01", "c-b", "b1",
         {"position_s": 360, "duration_s": 900}),
        (at(16), "module_start", "lk-main", "c-a", "a4", {}),
        (at(16, 10), "module_complete", "lk-main", "c-a", "a4", {}),
        (at(16, 11), "module_complete", "lk-h0", "c-b", "b2", {}),
    ]  # fmt: skip


def write_raw(events: list[tuple], first_id: int = 0, catalog: bool = True) -> None:
    """Write catalog and event rows the way ingestion does: each call is a new batch, loaded
    after the one before."""
    loaded_at = at(20 + first_id // 1000)
    batch = f"{first_id // 1000:x}" * 64
    with connect() as con:
        if catalog:
            con.executemany(
                "insert into raw.catalog_courses values (?, ?, null, 'data', 1, 'i1', 'en', "
                "'video', ?)",
                [(c, f"Course {c}", loaded_at) for c in ("c-a", "c-b")],
            )
            con.executemany(
                "insert into raw.catalog_modules values (?, ?, ?, ?, ?, 'video', ?, null)",
                [(c, m, p, f"Module {m}", minutes, loaded_at) for c, m, p, minutes in MODULES],
            )
        rows = [
            (f"e{first_id + i:04}", event_type, occurred_at, learner, f"s-{learner}", course,
             module, json.dumps(props), batch, loaded_at)
            for i, (occurred_at, event_type, learner, course, module, props) in enumerate(events)
        ]  # fmt: skip
        con.executemany(
            "insert into raw.events values ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10)", rows
        )


def query(sql: str) -> list[tuple]:
    with connect(read_only=True) as con:
        return con.execute(sql).fetchall()


def snapshot() -> dict[str, list[tuple]]:
    return {table: query(f"select * from {table} order by all") for table in TABLES}


@pytest.mark.slow
def test_progress_and_cohorts_from_hand_made_events(prefect_harness, pathwise_home):
    write_raw(first_load())

    result = build_flow(select=SELECT)

    assert result["failures"] == []
    assert set(result["counts"]["unit_test"]) == {"pass"}
    progress = query(
        "select learner_key, modules_done, modules_total, percent_complete, minutes_remaining, "
        "next_module_id, next_module_position, next_module_duration_minutes, days_inactive, "
        "status, quiz_average from marts.learner_course_progress "
        "where learner_key in ('lk-main', 'lk-stall', 'lk-drop', 'lk-done') order by learner_key"
    )
    assert progress == [
        ("lk-done", 0, 2, 0.0, 40.0, "b1", 1, 15.0, 15, "completed", None),
        ("lk-drop", 0, 5, 0.0, 150.0, "a1", 1, 10.0, 15, "dropped", None),
        ("lk-main", 3, 5, 60.0, 90.0, "a4", 4, 40.0, 10, "active", 0.8),
        ("lk-stall", 0, 5, 0.0, 150.0, "a1", 1, 10.0, 15, "stalled", None),
    ]

    # Only the cohort of ten learners reaches k = 10; the one of four is left out entirely.
    assert query(
        "select course_id, enrolment_month, progress_band, activity_band, learner_count, "
        "active_share, completion_share, avg_percent_complete from marts.cohorts"
    ) == [("c-b", date(2026, 3, 1), "0-25", "active", 10, 1.0, 0.0, 0.0)]
    assert query(
        "select count(*) from marts.learner_course_progress "
        "where course_id = 'c-b' and progress_band = '50-75' and activity_band = 'active'"
    ) == [(4,)]

    learner = query(
        "select tenure_days, active_days, active_days_last_7d, enrolments, completions, "
        "completion_rate, consent_tier from marts.learners where learner_key = 'lk-main'"
    )
    assert learner == [(15, 5, 0, 1, 0, 0.0, "essential")]


@pytest.mark.slow
def test_an_incremental_run_equals_a_full_refresh(prefect_harness, pathwise_home):
    write_raw(first_load())
    build_flow(select=SELECT)
    write_raw(second_load(), first_id=1000, catalog=False)

    incremental = build_flow(select=SELECT)
    after_increment = snapshot()
    build_flow(select=SELECT, full_refresh=True)

    assert incremental["failures"] == []
    assert after_increment == snapshot()
    # The late event of day 15 was counted, and the new day moved lk-main on to module 5.
    assert query(
        "select modules_started, video_minutes from intermediate.int_learner_course_activity_daily "
        "where learner_key = 'lk-k01'"
    ) == [(1, 6.0)]
    assert query(
        "select percent_complete, next_module_position, days_inactive, status "
        "from marts.learner_course_progress where learner_key = 'lk-main'"
    ) == [(80.0, 5, 0, "active")]
