"""Learner view · How Pathwise uses your data: what the snapshot holds and infers about one learner
(by their `learner_key` only), and how recommendations are made. Small per-learner lookups, cached
per snapshot version like the other pages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.queries.snapshot import TTL, frame, has_table


@st.cache_data(ttl=TTL, show_spinner=False)
def consent_state(version: str, learner_key: str) -> dict:
    """The learner's consents as the last nightly run took them in (defaults for an unknown
    learner: essential only, personalization on)."""
    df = frame(
        version,
        "select has_fine_consent, personalization_opted_out from learners where learner_key = ?",
        [learner_key],
    )
    if df.empty:
        return {"known": False, "fine": False, "opted_out": False}
    row = df.iloc[0]
    return {
        "known": True,
        "fine": bool(row["has_fine_consent"]),
        "opted_out": bool(row["personalization_opted_out"]),
    }


@st.cache_data(ttl=TTL, show_spinner=False)
def learning_style(version: str, learner_key: str) -> dict | None:
    """The learner's detected style with its confidence and evidence, or None (no row)."""
    if not has_table(version, "learning_styles"):
        return None
    df = frame(
        version,
        "select style, confidence, evidence from learning_styles where learner_key = ?",
        [learner_key],
    )
    return None if df.empty else df.iloc[0].to_dict()


@st.cache_data(ttl=TTL, show_spinner=False)
def risk_scores(version: str, learner_key: str) -> pd.DataFrame:
    """One row per open enrolment with a dropout-risk score: course and whether the score passed
    the model's gate (only those count in what instructors see). The score itself is not read."""
    if not has_table(version, "dropout_risk"):
        return pd.DataFrame(columns=["course_title", "used_for_decisions"])
    return frame(
        version,
        "select coalesce(c.course_title, r.course_id) as course_title, r.used_for_decisions "
        "from dropout_risk r left join courses c using (course_id) "
        "where r.learner_key = ? order by 1",
        [learner_key],
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def recommendation_signals(version: str) -> pd.DataFrame:
    """The signals the recommender blends, with the weight in force (the same for everyone)."""
    if not has_table(version, "recommendation_signals"):
        return pd.DataFrame(columns=["label", "description", "weight"])
    return frame(
        version, "select label, description, weight from recommendation_signals order by position"
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def has_own_list(version: str, learner_key: str) -> bool:
    """Whether the nightly run wrote a list for this learner (else they get the cold-start one)."""
    if not has_table(version, "recommendations"):
        return False
    df = frame(
        version, "select 1 from recommendations where learner_key = ? limit 1", [learner_key]
    )
    return not df.empty
