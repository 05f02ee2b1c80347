"""Creator dashboard: an instructor's own courses, their cohorts, module funnel and risk bands;
every group under `k` learners left out."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.queries.snapshot import TTL, frame, has_table


@st.cache_data(ttl=TTL, show_spinner=False)
def instructor_courses(version: str, instructor_id: str) -> pd.DataFrame:
    return frame(
        version,
        "select course_id, course_title, primary_format, difficulty_label from courses "
        "where instructor_id = ? order by course_title",
        [instructor_id],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def course_summary(version: str, instructor_id: str, k: int) -> pd.DataFrame:
    """One row per own course: enrolments, completion, drops, rating, quiz difficulty.

    Courses with fewer than `k` enrolments show only their title (`enough_learners` false)."""
    return frame(
        version,
        """
        with own as (select course_id, course_title from courses where instructor_id = ?),
        agg as (
            select course_id,
                   sum(enrolment_count)::bigint as enrolments,
                   sum(completion_count)::bigint as completions,
                   sum(drop_count)::bigint as drops,
                   sum(avg_rating * rating_count) / nullif(sum(rating_count), 0) as avg_rating,
                   sum(rating_count)::bigint as ratings,
                   sum(quiz_fail_share * quiz_attempt_count) / nullif(sum(quiz_attempt_count), 0)
                       as quiz_fail_share
            from course_kpis join own using (course_id) group by 1
        )
        select own.course_id, own.course_title,
               coalesce(agg.enrolments, 0) >= ? as enough_learners,
               case when agg.enrolments >= ? then agg.enrolments end as enrolments,
               case when agg.enrolments >= ? then agg.completions end as completions,
               case when agg.enrolments >= ? then agg.completions / agg.enrolments end
                   as completion_rate,
               case when agg.enrolments >= ? then agg.drops / agg.enrolments end as drop_rate,
               case when agg.ratings >= ? then agg.avg_rating end as avg_rating,
               case when agg.enrolments >= ? then agg.quiz_fail_share end as quiz_fail_share
        from own left join agg using (course_id)
        order by agg.enrolments desc nulls last, own.course_title
        """,
        [instructor_id, k, k, k, k, k, k, k],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def course_weekly(version: str, instructor_id: str, k: int) -> pd.DataFrame:
    """Own courses per enrolment week (a cohort); weeks with fewer than `k` enrolments left out."""
    return frame(
        version,
        """
        select k.course_id, k.course_title, k.period_week, k.enrolment_count, k.completion_rate,
               case when k.rating_count >= ? then k.avg_rating end as avg_rating
        from course_kpis k join courses c using (course_id)
        where c.instructor_id = ? and k.enrolment_count >= ?
        order by k.course_id, k.period_week
        """,
        [k, instructor_id, k],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def module_funnel(version: str, instructor_id: str, course_id: str, k: int) -> pd.DataFrame:
    """For one own course: per module, learners who completed it (share of enrolled) and learners
    who dropped the course right after it. Counts under `k` are withheld (null)."""
    return frame(
        version,
        """
        with own as (
            select course_id from courses where instructor_id = ? and course_id = ?
        ),
        progress as (
            select p.modules_done, p.status from learner_course_progress p join own using (course_id)
        ),
        enrolled as (select count(*) as n from progress),
        per_module as (
            select m.module_position, m.module_id, m.module_title,
                   count(*) filter (where p.modules_done >= m.module_position) as reached,
                   count(*) filter (where p.status = 'dropped'
                                    and p.modules_done = m.module_position) as dropped_after
            from course_modules m join own using (course_id), progress p
            group by all
        )
        select module_position, module_id, module_title,
               case when reached >= ? and n >= ? then reached end as reached,
               case when reached >= ? and n >= ? then reached / n end as reached_share,
               case when dropped_after >= ? then dropped_after end as dropped_after
        from per_module, enrolled
        order by module_position
        """,
        [instructor_id, course_id, k, k, k, k, k],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def course_risk(version: str, instructor_id: str, k: int) -> pd.DataFrame:
    """Open enrolments of own courses per drop-out risk band (bands under `k` left out)."""
    if not has_table(version, "dropout_risk"):
        return pd.DataFrame()
    return frame(
        version,
        """
        select c.course_title, r.risk_band, count(*)::bigint as learners
        from dropout_risk r join courses c using (course_id)
        where c.instructor_id = ?
        group by all having count(*) >= ?
        order by 1, 2
        """,
        [instructor_id, k],
    )
