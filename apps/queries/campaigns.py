"""Campaigns: the cohorts behind them and their measured uplift, from the published snapshot
(`campaign_cohorts`, `campaign_uplift`: aggregates, no learner). The campaigns themselves and their
status are read live from the campaign store, like the controls (pathwise/campaigns.py)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.queries.snapshot import TTL, frame, has_table

OUTCOME_LABELS = {
    "returned_7d": "Returned within 7 days",
    "module_completed": "Completed a module",
    "course_completed": "Completed the course",
}


@st.cache_data(ttl=TTL, show_spinner=False)
def cohorts(version: str) -> pd.DataFrame:
    """cohort_id -> the cohort's risk against its course's (for the proposals' context)."""
    if not has_table(version, "campaign_cohorts"):
        return pd.DataFrame(columns=["cohort_id", "mean_risk", "base_rate", "trusted_share"])
    return frame(
        version,
        "select cohort_id, mean_risk, base_rate, trusted_share from campaign_cohorts",
    ).set_index("cohort_id")


@st.cache_data(ttl=TTL, show_spinner=False)
def uplift(version: str) -> pd.DataFrame:
    """Per campaign and outcome: treated and holdout rates, the difference and its interval.
    `campaign` is the campaign's number, whether uplift names it `3` or `campaign:3`."""
    if not has_table(version, "campaign_uplift"):
        return pd.DataFrame()
    df = frame(version, "select * from campaign_uplift")
    df["campaign"] = df["campaign_id"].astype(str).str.removeprefix("campaign:")
    df["label"] = df["outcome"].map(OUTCOME_LABELS).fillna(df["outcome"])
    return df
