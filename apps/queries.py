"""Data access for the app's pages: SQL over the published serving snapshot, cached per version.

The app never opens the warehouse (the nightly flow writes it); it reads the snapshot's Parquet files
through an in-memory DuckDB (`Snapshot.connect()`), one connection per snapshot version, a cursor
per query. Query results are cached with `st.cache_data` keyed on the snapshot version, so a new
publish is picked up on the next page load and old results are never mixed with new ones.

Scoping is done here, in SQL: instructor queries take the instructor's id and read only their
courses, with every group under `k` learners left out; learner queries take one `learner_key`.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import date

import duckdb
import pandas as pd
import streamlit as st

from pathwise import snapshots
from pathwise.controls import ControlStore
from pathwise.settings import get_settings

TTL = 3600  # results are immutable per version; the TTL only bounds memory
KPI_DIMENSIONS = ("model_version", "surface", "segment")


def snapshot() -> snapshots.Snapshot | None:
    """The published snapshot (a small file read, so every page run sees a new publish at once)."""
    return snapshots.current()


def has_table(version: str, name: str) -> bool:
    return name in _snap(version).tables


def _snap(version: str) -> snapshots.Snapshot:
    return snapshots.Snapshot(version, get_settings().snapshots_dir / version)


@st.cache_resource(max_entries=2, show_spinner=False)
def _connection(version: str) -> duckdb.DuckDBPyConnection:
    return _snap(version).connect()


def _df(version: str, sql: str, params: list | None = None) -> pd.DataFrame:
    # A cursor per query: DuckDB connections are not shared between Streamlit's script threads.
    cur = _connection(version).cursor()
    try:
        return cur.execute(sql, params or []).df()
    finally:
        cur.close()


# -- recommendation KPIs (Control Tower) --------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def kpi_options(version: str) -> dict:
    """Values to filter the KPIs by, and the date range."""
    df = _df(
        version,
        "select list(distinct model_version order by model_version) models, "
        "list(distinct surface order by surface) surfaces, "
        "list(distinct segment order by segment) segments, "
        "min(activity_date) first_day, max(activity_date) last_day from recommendation_kpis",
    )
    row = df.iloc[0]
    return {
        "model_version": list(row["models"] if row["models"] is not None else []),
        "surface": list(row["surfaces"] if row["surfaces"] is not None else []),
        "segment": list(row["segments"] if row["segments"] is not None else []),
        "first_day": None if pd.isna(row["first_day"]) else row["first_day"],
        "last_day": None if pd.isna(row["last_day"]) else row["last_day"],
    }


# Rates are ratios of sums (not averages of daily rates), so small groups do not weigh as much as big.
_KPI_MEASURES = """
    sum(impression_count)::bigint as impressions,
    sum(click_count)::bigint as clicks,
    sum(enrolment_count)::bigint as enrolments,
    sum(completion_count)::bigint as completions,
    sum(click_count) / nullif(sum(impression_count), 0) as ctr,
    sum(enrolment_count) / nullif(sum(click_count), 0) as enrolment_rate,
    sum(completion_count) / nullif(sum(enrolment_count), 0) as completion_rate,
    sum(avg_rating * rating_count) / nullif(sum(rating_count), 0) as satisfaction
"""


def _kpi_where(filters: dict[str, tuple[str, ...]]) -> tuple[str, list]:
    clauses, params = ["true"], []
    for dim in KPI_DIMENSIONS:
        if filters.get(dim):
            clauses.append(f"{dim} in (select unnest(?))")
            params.append(list(filters[dim]))
    return " and ".join(clauses), params


@st.cache_data(ttl=TTL, show_spinner=False)
def kpi_daily(
    version: str, by: str | None, filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
) -> pd.DataFrame:
    """One row per day (and per value of `by`): impressions ... satisfaction."""
    if by is not None and by not in KPI_DIMENSIONS:
        raise ValueError(f"by must be one of {KPI_DIMENSIONS}")
    where, params = _kpi_where(dict(filters))
    group = by or "'all learners'"
    return _df(
        version,
        f"select activity_date as day, {group} as grp, {_KPI_MEASURES} "
        f"from recommendation_kpis where {where} group by all order by 1, 2",
        params,
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def kpi_windows(
    version: str, days: int = 7, filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
) -> pd.DataFrame:
    """Totals of the last `days` days of data and of the `days` before (rows 'current', 'previous')."""
    where, params = _kpi_where(dict(filters))
    return _df(
        version,
        f"""
        with bounds as (select max(activity_date) as last_day from recommendation_kpis)
        select case when activity_date > last_day - ?::int then 'current' else 'previous' end
                   as window, {_KPI_MEASURES}
        from recommendation_kpis, bounds
        where activity_date > last_day - 2 * ?::int and {where}
        group by 1
        """,
        [days, days, *params],
    ).set_index("window")


@st.cache_data(ttl=TTL, show_spinner=False)
def kpi_by(version: str, by: str, filters: tuple = ()) -> pd.DataFrame:
    """All-time totals per value of `by`."""
    if by not in KPI_DIMENSIONS:
        raise ValueError(f"by must be one of {KPI_DIMENSIONS}")
    where, params = _kpi_where(dict(filters))
    return _df(
        version,
        f"select {by} as grp, {_KPI_MEASURES} from recommendation_kpis where {where} "
        "group by 1 order by impressions desc",
        params,
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def drift_alerts(version: str) -> pd.DataFrame:
    if not has_table(version, "drift_alerts"):
        return pd.DataFrame()
    df = _df(version, "select * from drift_alerts")
    for col in ("detected_at", "created_at", "generated_at", "at"):
        if col in df.columns:
            return df.sort_values(col, ascending=False)
    return df


@st.cache_data(ttl=TTL, show_spinner=False)
def evaluations(version: str) -> pd.DataFrame:
    """Offline evaluation metrics (newest first), when the nightly job has written any."""
    if not has_table(version, "evaluations"):
        return pd.DataFrame()
    return _df(version, "select * from evaluations")


# -- controls preview (Control Tower) -----------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def courses(version: str) -> pd.DataFrame:
    return _df(
        version,
        "select course_id, course_title, instructor_id, primary_format, category, "
        "difficulty_label from courses order by course_id",
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def sample_candidates(version: str, learners: int = 200) -> pd.DataFrame:
    """All candidates of a fixed sample of learners (the same sample for every preview)."""
    if not has_table(version, "recommendations"):
        return pd.DataFrame()
    return _df(
        version,
        """
        with sample as (
            select distinct learner_key from recommendations order by hash(learner_key) limit ?
        )
        select r.* from recommendations r join sample using (learner_key)
        order by learner_key, rank
        """,
        [learners],
    )


def signals(version: str) -> tuple[list[str], dict[str, float]]:
    """The blend's signals and their default weights (the recommender's, else from the snapshot)."""
    try:
        from ml.recommender import DEFAULT_WEIGHTS, SIGNALS

        return list(SIGNALS), {s: float(DEFAULT_WEIGHTS[s]) for s in SIGNALS}
    except ImportError:
        # The recommender is not installed here: the snapshot's contrib_ columns still name them.
        cols = _df(version, "select * from recommendations limit 0").columns
        names = [c.removeprefix("contrib_") for c in cols if c.startswith("contrib_")]
        return names, dict.fromkeys(names, 1.0)


def weights_at(store: ControlStore, defaults: dict[str, float], when: object) -> dict[str, float]:
    """The blend weights that were in force at `when` (the newest saved before it, else defaults)."""
    at = pd.Timestamp(when)
    at = (at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")).isoformat(
        timespec="seconds"
    )
    # Reads ControlStore's own table: its weights() answers only "now".
    with closing(sqlite3.connect(store.path)) as db:
        rows = db.execute(
            "select weights from blend_weights where created_at <= ? "
            "order by weights_id desc limit 1",
            (at,),
        ).fetchall()
    saved = json.loads(rows[0][0]) if rows else {}
    return {k: float(saved.get(k, v)) for k, v in defaults.items()}


# -- creator dashboard (instructor) -------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def instructor_courses(version: str, instructor_id: str) -> pd.DataFrame:
    return _df(
        version,
        "select course_id, course_title, primary_format, difficulty_label from courses "
        "where instructor_id = ? order by course_title",
        [instructor_id],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def course_summary(version: str, instructor_id: str, k: int) -> pd.DataFrame:
    """One row per own course: enrolments, completion, drops, rating, quiz difficulty.

    Courses with fewer than `k` enrolments show only their title (`enough_learners` false)."""
    return _df(
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
    return _df(
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
    return _df(
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
            from modules m join own using (course_id), progress p
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
    return _df(
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


@st.cache_data(ttl=TTL, show_spinner=False)
def content_gaps(version: str, limit: int = 25) -> pd.DataFrame:
    """The skills with the widest gap between demand (search, forum, jobs) and catalog supply."""
    return _df(
        version,
        """
        select skill_name, skill_category, is_in_catalog, gap_score, gap_score_trend,
               demand_score, supply_score, search_count, search_count_7d, search_count_prev_7d,
               forum_post_count, forum_post_count_7d, forum_post_count_prev_7d,
               job_occupation_count, job_in_demand_count, course_count, zero_result_share
        from content_gaps order by gap_score desc, skill_name limit ?
        """,
        [limit],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def unmatched_topics(version: str) -> pd.DataFrame:
    return _df(
        version,
        "select topic, search_count, learner_count, search_count_7d, search_count_prev_7d, "
        "zero_result_share, matches_taxonomy_skill, last_searched_at "
        "from unmatched_search_topics order by search_count desc, topic",
    )


# -- learner view --------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def learner_profile(version: str, learner_key: str) -> dict | None:
    df = _df(
        version,
        "select target_role, preferred_format, weekly_minutes, enrolments, completions, "
        "active_days_last_30d from learners where learner_key = ?",
        [learner_key],
    )
    profile = None if df.empty else df.iloc[0].to_dict()
    if profile is not None and has_table(version, "learning_styles"):
        style = _df(version, "select * from learning_styles where learner_key = ?", [learner_key])
        if not style.empty:
            found = style.iloc[0].get("style")
            # "unknown" (too few consented signals) is not worth telling the learner.
            profile["learning_style"] = None if found in (None, "unknown") else found
    return profile


@st.cache_data(ttl=TTL, show_spinner=False)
def learner_progress(version: str, learner_key: str) -> pd.DataFrame:
    return _df(
        version,
        """
        select c.course_title, p.course_id, p.status, p.percent_complete, p.modules_done,
               p.modules_total, p.minutes_remaining, p.next_module_title,
               p.next_module_duration_minutes, p.last_activity_at
        from learner_course_progress p left join courses c using (course_id)
        where p.learner_key = ?
        order by p.status = 'completed', p.last_activity_at desc
        """,
        [learner_key],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def learner_candidates(version: str, learner_key: str) -> tuple[pd.DataFrame, bool]:
    """The learner's ranked candidates with course details; the cold-start list (True) if none."""
    details = "c.course_title, c.primary_format, c.difficulty_label, c.category"
    if has_table(version, "recommendations"):
        df = _df(
            version,
            f"select r.*, {details} from recommendations r left join courses c using (course_id) "
            "where r.learner_key = ? order by r.rank",
            [learner_key],
        )
        if not df.empty:
            return df, False
    if has_table(version, "recommendations_cold_start"):
        df = _df(
            version,
            f"select r.*, {details} from recommendations_cold_start r "
            "left join courses c using (course_id) order by r.rank",
        )
        return df, True
    return pd.DataFrame(), False


def as_of(version: str) -> date | None:
    """The snapshot's publish time, for captions."""
    created = _snap(version).manifest.get("created_at")
    return None if created is None else pd.Timestamp(created).to_pydatetime()
