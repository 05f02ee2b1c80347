"""Interventions: the sample of learners every preview runs on, and the signals behind the weights."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.queries.snapshot import TTL, frame, has_table


@st.cache_data(ttl=TTL, show_spinner=False)
def sample_candidates(version: str, learners: int = 200) -> pd.DataFrame:
    """All candidates of a fixed sample of learners (the same sample for every preview)."""
    if not has_table(version, "recommendations"):
        return pd.DataFrame()
    return frame(
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


@st.cache_data(ttl=TTL, show_spinner=False)
def sample_profiles(version: str, learners: int = 200) -> dict[str, tuple[str, str]]:
    """learner_key -> (segment, goal) of the preview sample's learners, how an admin tells the
    examples apart (the learner_key itself means nothing to anyone)."""
    if not has_table(version, "recommendations") or not has_table(version, "learners"):
        return {}
    columns = frame(version, "select * from learners limit 0").columns
    segment = "segment" if "segment" in columns else "'unknown'"
    rows = frame(
        version,
        f"""
        with sample as (
            select distinct learner_key from recommendations order by hash(learner_key) limit ?
        )
        select learner_key, coalesce({segment}, 'unknown') as segment,
               coalesce(target_role, 'no goal set') as goal
        from learners join sample using (learner_key)
        """,
        [learners],
    )
    return {k: (s, g) for k, s, g in rows.itertuples(index=False)}


@st.cache_data(ttl=TTL, show_spinner=False)
def signals(version: str) -> pd.DataFrame:
    """The signals the published recommendations were blended from, in blend order: signal,
    label, description, default_weight (what `ml.recommendation_signals` says; the recommender's
    registry wrote it)."""
    if has_table(version, "recommendation_signals"):
        return frame(
            version,
            "select signal, label, description, default_weight from recommendation_signals "
            "order by position",
        )
    # A snapshot from before that table: its contrib_ columns still name the signals.
    cols = frame(version, "select * from recommendations limit 0").columns
    names = [c.removeprefix("contrib_") for c in cols if c.startswith("contrib_")]
    return pd.DataFrame(
        {
            "signal": names,
            "label": [n.replace("_", " ").capitalize() for n in names],
            "description": [""] * len(names),
            "default_weight": [1.0] * len(names),
        }
    )
