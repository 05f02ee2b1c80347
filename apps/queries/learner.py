"""Learner view: one learner's profile, progress and recommendations (by their `learner_key` only)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.queries.snapshot import TTL, frame, has_table
from pathwise.served_log import WEIGHTS_SQL


@st.cache_data(ttl=TTL, show_spinner=False)
def learner_profile(version: str, learner_key: str) -> dict | None:
    df = frame(
        version,
        "select target_role, preferred_format, weekly_minutes, enrolments, completions, "
        "active_days_last_30d from learners where learner_key = ?",
        [learner_key],
    )
    profile = None if df.empty else df.iloc[0].to_dict()
    if profile is not None and has_table(version, "learning_styles"):
        style = frame(version, "select * from learning_styles where learner_key = ?", [learner_key])
        if not style.empty:
            found = style.iloc[0].get("style")
            # "unknown" (too few consented signals) is not worth telling the learner.
            profile["learning_style"] = None if found in (None, "unknown") else found
    return profile


@st.cache_data(ttl=TTL, show_spinner=False)
def learner_progress(version: str, learner_key: str) -> pd.DataFrame:
    return frame(
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
    details = "c.course_title, c.primary_format, c.difficulty_label, c.category, d.duration_minutes"
    # Each course's length from the catalog: the sum of its modules' durations.
    durations = (
        "(select course_id, sum(duration_minutes) as duration_minutes from course_modules "
        "group by course_id)"
        if has_table(version, "course_modules")
        else "(select null::varchar as course_id, null::bigint as duration_minutes)"
    )
    joins = f"left join courses c using (course_id) left join {durations} d using (course_id)"
    if has_table(version, "recommendations"):
        df = frame(
            version,
            f"select r.*, {details} from recommendations r {joins} "
            "where r.learner_key = ? order by r.rank",
            [learner_key],
        )
        if not df.empty:
            return df, False
    if has_table(version, "recommendations_cold_start"):
        df = frame(
            version,
            f"select r.*, {details} from recommendations_cold_start r {joins} order by r.rank",
        )
        return df, True
    return pd.DataFrame(), False


@st.cache_data(ttl=TTL, show_spinner=False)
def blend_weights(version: str) -> dict[str, float]:
    """The weights the snapshot's scores were blended with, {signal: weight} (logged per list)."""
    if not has_table(version, "recommendation_signals"):
        return {}
    return {r.signal: float(r.weight) for r in frame(version, WEIGHTS_SQL).itertuples()}
