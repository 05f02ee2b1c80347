"""Creator dashboard: an instructor's own courses, their enrolment weeks, module funnel and risk
bands, from the k-anonymous `instructor_*` marts (dbt/models/marts/instructors/).

The marts do the k-anonymity, complementary suppression and banding included, with the k they
were built with (`published_k`); only the risk bands (an ML result, not a mart) are suppressed
here, by the same rule (docs/privacy.md, "k-anonymity")."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.queries.snapshot import TTL, frame, has_table


@st.cache_data(ttl=TTL, show_spinner=False)
def published_k(version: str) -> int | None:
    """The k the snapshot's instructor figures were built with (None: a snapshot without them)."""
    if not has_table(version, "instructor_course_summaries"):
        return None
    k = frame(version, "select max(k_anonymity) as k from instructor_course_summaries")["k"][0]
    return None if pd.isna(k) else int(k)


@st.cache_data(ttl=TTL, show_spinner=False)
def course_summary(version: str, instructor_id: str) -> pd.DataFrame:
    """One row per own course: enrolments, completion, drops, rating, quiz difficulty.

    Courses with fewer than k enrolments show only their title (`enough_learners` false)."""
    return frame(
        version,
        """
        select course_id, course_title, has_enough_learners as enough_learners,
               enrolment_count as enrolments, completion_count as completions,
               drop_count as drops, completion_rate, drop_rate, avg_rating, quiz_fail_share
        from instructor_course_summaries
        where instructor_id = ?
        order by enrolment_count desc nulls last, course_title
        """,
        [instructor_id],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def course_weekly(version: str, instructor_id: str) -> pd.DataFrame:
    """Own courses per enrolment week (a cohort); withheld weeks have null figures."""
    return frame(
        version,
        """
        select course_id, course_title, period_week, is_withheld,
               enrolment_count, completion_count, completion_rate
        from instructor_course_weeks
        where instructor_id = ?
        order by course_id, period_week
        """,
        [instructor_id],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def module_funnel(version: str, instructor_id: str, course_id: str) -> pd.DataFrame:
    """For one own course: the funnel in steps of at least k learners (consecutive modules
    merged), each with the learners whose last completed module is in it, of whom dropped, and
    those who completed its first module (share of enrolled)."""
    return frame(
        version,
        """
        select step_number, first_module_position, last_module_position, first_module_title,
               learner_count, dropped_count, reached_count, reached_share
        from instructor_funnel_steps
        where instructor_id = ? and course_id = ?
        order by step_number
        """,
        [instructor_id, course_id],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def course_risk(version: str, instructor_id: str, k: int) -> pd.DataFrame:
    """Open enrolments of own courses per drop-out risk band, only where the model passed its
    gate at the enrolment's checkpoint (a risk it failed to predict is not shown to people).

    A band under `k` is left out, and with it the course's next smallest bands until the
    left-out ones hold k learners together: a course's open enrolments follow from its summary
    (enrolled - completed - dropped), so a single missing band would be a subtraction away."""
    if not has_table(version, "dropout_risk"):
        return pd.DataFrame()
    return frame(
        version,
        """
        with bands as (
            select c.course_id, c.course_title, r.risk_band, count(*)::bigint as learners
            from dropout_risk r join instructor_course_summaries c using (course_id)
            where c.instructor_id = ? and c.has_enough_learners and r.used_for_decisions
            group by all
        ),
        ranked as (
            select *,
                   coalesce(sum(learners) over (
                       partition by course_id order by learners, risk_band
                       rows between unbounded preceding and 1 preceding), 0) as smaller_bands,
                   sum(case when learners < ? then learners else 0 end)
                       over (partition by course_id) as under_k
            from bands
        )
        select course_title, risk_band, learners from ranked
        where learners >= ? and not (under_k > 0 and smaller_bands < ?)
        order by 1, 2
        """,
        [instructor_id, k, k, k],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def course_benchmarks(version: str, instructor_id: str) -> pd.DataFrame:
    """One row per own course: where it stands among its 10 most similar courses (nightly,
    agents/metadata/benchmark.py; k-anonymous there). Empty for a snapshot without them."""
    if not has_table(version, "course_benchmarks"):
        return pd.DataFrame()
    return frame(
        version,
        """
        select b.*, c.course_title
        from course_benchmarks b join courses c using (course_id)
        where b.instructor_id = ?
        order by c.course_title
        """,
        [instructor_id],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def course_peers(version: str, course_id: str) -> pd.DataFrame:
    """The course's similar courses, most similar first: title and similarity only (no other
    instructor's figures)."""
    return frame(
        version,
        """
        select n.rank, c.course_title, n.similarity
        from course_neighbours n join courses c on c.course_id = n.neighbour_course_id
        where n.course_id = ?
        order by n.rank
        """,
        [course_id],
    )
