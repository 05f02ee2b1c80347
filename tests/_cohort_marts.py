"""Hand-made inputs of the cohort finder for tests/test_cohorts.py and tests/test_campaigns.py:
open enrolments with known risks, and the marts and ML tables they stand for."""

from __future__ import annotations

from datetime import date

import polars as pl


def enrolments(rows: list[tuple]) -> pl.DataFrame:
    """(learner, course, week, segment, module, band, risk) -> the finder's input."""
    df = pl.DataFrame(
        rows,
        schema=[
            "learner_key", "course_id", "enrolment_week", "segment", "stall_module_id",
            "risk_band", "risk",
        ],
        orient="row",
    )  # fmt: skip
    return df.with_columns(
        course_title=pl.lit("Course ") + pl.col("course_id"),
        stall_module_title=pl.lit("Module ") + pl.col("stall_module_id"),
        used_for_decisions=pl.lit(True),
    )


W1, W2 = date(2026, 3, 2), date(2026, 3, 9)


def course_a(stalled: int, course: str = "a") -> list[tuple]:
    """`stalled` learners of the data segment stuck before module m3 at high risk; 18 others at
    low risk, over other modules, all enrolled in the first week."""
    rows = [
        (f"s{i}{course}", course, W1 if i % 2 else W2, "data", "m3", "high", 0.8)
        for i in range(stalled)
    ]
    for i in range(18):
        rows.append((f"o{i}{course}", course, W1, "web", f"m{i % 3}", "low", 0.1))
    return rows


def write_marts(con, df: pl.DataFrame) -> None:
    """The finder's sources, as the dbt build and the dropout step leave them (only the columns
    it reads plus status)."""
    con.register("_df", df.to_arrow())
    con.execute(
        "create schema if not exists warehouse.marts; create schema if not exists warehouse.ml"
    )
    con.execute(
        """
        create table warehouse.ml.dropout_risk as
            select learner_key, course_id, risk, risk_band, used_for_decisions from _df;
        create table warehouse.marts.learner_course_progress as
            select learner_key, course_id, cast(enrolment_week as timestamp) as enrolled_at,
                   stall_module_id as next_module_id, stall_module_title as next_module_title,
                   'active' as status from _df
            union all  -- a completed enrolment is not open: never in a cohort
            select 'done', 'a', timestamp '2026-03-02', null, null, 'completed';
        create table warehouse.marts.learners as
            select distinct learner_key, segment from _df;
        create table warehouse.marts.courses as
            select distinct course_id, course_title from _df;
        """
    )
    con.unregister("_df")


def write_catalog(con) -> None:
    """What proposals are built from, for the three courses of tests/test_campaigns.py: course b
    has a prerequisite the recommender suggests to 7 of its stalled learners (p, which wins over
    q's shared skill), module m3 takes 18 minutes."""
    con.execute(
        """
        insert into warehouse.marts.courses values ('p', 'Python basics'), ('q', 'Other basics');
        create table warehouse.marts.course_prerequisites as
            select * from (values ('b', 'p'), ('b', 'q')) t(course_id, prerequisite_course_id);
        create table warehouse.marts.course_skills as
            select * from (values ('b', 'loops'), ('q', 'loops')) t(course_id, skill_name);
        create table warehouse.marts.course_modules as
            select 'm3' as module_id, 'Module m3' as module_title, 18.0 as duration_minutes;
        create table warehouse.ml.recommendations as
            select 's' || i || 'b' as learner_key, 'p' as course_id, 1 as rank
            from range(7) t(i);
        """
    )


def add_proposal(course_id: str, course_title: str, tag: str, size: int = 24) -> int:
    """A nudge campaign proposed for a cohort of `size` in a real course, stored as the agent
    stores one (the app tests' platform is too short for the dropout model, so it finds none)."""
    from pathwise.campaigns import CampaignStore, Proposal

    cohort = {
        "cohort_id": f"{tag}-1",
        "run_id": tag,
        "course_id": course_id,
        "size": size,
        "mean_risk": 0.6,
        "expected_lift": 0.05,
        "stall_module_id": None,
        "explanation": f"{size} learners in {course_title}, with high dropout risk: predicted "
        "dropout 60% against 30% for the course.",
    }
    proposal = Proposal(
        "nudge_sequence",
        f"Nudges: {course_title}",
        f"You are part-way through {course_title}. Pick it up where you left off.",
    )
    campaign_id = CampaignStore().add(cohort, proposal)
    assert campaign_id is not None, f"a proposal for {tag} exists already"
    return campaign_id
