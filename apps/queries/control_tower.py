"""Control Tower: recommendation KPIs by day, model version, surface and segment; drift alerts; evaluations."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from apps.queries.snapshot import TTL, frame, has_table

KPI_DIMENSIONS = ("model_version", "surface", "segment")


@st.cache_data(ttl=TTL, show_spinner=False)
def kpi_options(version: str) -> dict:
    """Values to filter the KPIs by, and the date range."""
    df = frame(
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
    return frame(
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
    return frame(
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
    return frame(
        version,
        f"select {by} as grp, {_KPI_MEASURES} from recommendation_kpis where {where} "
        "group by 1 order by impressions desc",
        params,
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def drift_alerts(version: str) -> pd.DataFrame:
    """The alerts of the latest drift check and of the latest fairness check in the snapshot
    (ml/fairness.py; they run apart: older runs' alerts are history)."""
    if not has_table(version, "drift_alerts") or not has_table(version, "drift_checks"):
        return pd.DataFrame()
    return frame(
        version,
        "select check_name, kind, statistic, baseline, current, value, threshold, checked_at "
        "from drift_alerts where run_id in (select arg_max(run_id, checked_at) from drift_checks "
        "group by kind = 'fairness') order by kind = 'fairness', value desc",
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def model_cards(version: str) -> pd.DataFrame:
    """The cards of the models whose results the snapshot holds (ml/model_cards.py)."""
    if not has_table(version, "model_cards"):
        return pd.DataFrame()
    return frame(
        version, "select model, model_version, title, card from model_cards order by model"
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def completion_within_horizon(version: str) -> pd.DataFrame:
    """Per enrolment day old enough to judge: the share completed within the fixed horizon."""
    if not has_table(version, "completion_horizon_kpis"):
        return pd.DataFrame()
    return frame(
        version,
        "select enrolment_date as day, horizon_days, enrolment_count, "
        "completion_rate_within_horizon as rate from completion_horizon_kpis order by 1",
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def evaluations(version: str) -> pd.DataFrame:
    """Offline evaluation metrics (newest first), when the nightly job has written any."""
    if not has_table(version, "evaluations"):
        return pd.DataFrame()
    return frame(version, "select * from evaluations")


@st.cache_data(ttl=TTL, show_spinner=False)
def served_model(version: str) -> dict | None:
    """The recommender configuration the snapshot's lists came from (`ml.recommendation_model`):
    model, parameters, rules, tuned and in-force weights, the validation figures behind it."""
    if not has_table(version, "recommendation_model"):
        return None
    row = frame(version, "select * from recommendation_model").iloc[0].to_dict()
    for key in ("params", "rules", "tuned_weights", "weights", "validation"):
        row[key] = json.loads(row[key])
    return row


def _has_attribution(version: str) -> bool:
    """Whether the snapshot's KPIs say which served list each impression showed (built since)."""
    columns = frame(version, "select * from recommendation_kpis limit 0").columns
    return "impression_model_version" in columns


@st.cache_data(ttl=TTL, show_spinner=False)
def kpi_sources(
    version: str, days: int | None = None, filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
) -> pd.DataFrame:
    """Per model version (of the lists learners saw), over the last `days` days of data (all when
    None): impressions, how many were matched to a list the read API served (by its id, or as
    the learner's latest served list), the label the platform's events gave them, the outcomes.
    Empty for a snapshot built before the attribution."""
    if not _has_attribution(version):
        return pd.DataFrame()
    where, params = _kpi_where(dict(filters))
    window = ""
    if days is not None:
        window = "and activity_date > (select max(activity_date) from recommendation_kpis) - ?::int"
        params = [*params, days]
    return frame(
        version,
        f"""
        select model_version as grp,
               string_agg(distinct impression_model_version, ', '
                          order by impression_model_version) as labelled,
               sum(attributed_by_id_count)::bigint as by_id,
               sum(attributed_by_recency_count)::bigint as by_recency,
               {_KPI_MEASURES}
        from recommendation_kpis
        where {where} {window}
        group by 1 order by impressions desc
        """,
        params,
    ).assign(served=lambda d: (d["by_id"] + d["by_recency"]) > 0)


@st.cache_data(ttl=TTL, show_spinner=False)
def model_weights(version: str) -> dict[str, dict[str, float]]:
    """Blend weights per model version, where the snapshot knows them: the version in service
    (`recommendation_model`) and every tuned configuration served with its own weights
    (`recommender_configs`: version `hybrid-<config_id>`). A version with admins' saved weights
    (`+w<digest>`) that no longer serves is not known here (its weights are in the audit log)."""
    known: dict[str, dict[str, float]] = {}
    if has_table(version, "recommender_configs"):
        for config_id, weights in frame(
            version, "select config_id, weights from recommender_configs"
        ).itertuples(index=False):
            known[f"hybrid-{config_id}"] = json.loads(weights)
    served = served_model(version)
    if served:
        known[served["model_version"]] = served["weights"]
    return known
