"""Control Tower · Performance: recommendation KPIs over time, by model version, surface and segment,
the drift and fairness alerts of the last nightly run, and the model cards of the models in
service. Admins only.

KPIs count under the model version that produced the list the learner saw (the read API's served
list an impression is matched to, dbt's `int_rec_impressions_joined_to_served_lists`), so the page
first says how much of what learners saw came from the model in service, and how it was matched."""

import altair as alt
import streamlit as st

from apps import auth, ui
from apps.queries import control_tower as queries
from apps.queries import snapshot

auth.require_role("admin")
st.title("Control Tower")
snap = ui.require_snapshot()
version = snap.version
ui.snapshot_caption(snap, "segments under k learners are not in the KPIs")
served = queries.served_model(version)
if served:
    ui.model_card(served)

if not snap.tables.get("recommendation_kpis"):
    st.info(
        "No recommendation impressions yet: KPIs appear once learners have been shown "
        "recommendations and the nightly run has published them.",
        icon=":material/hourglass_empty:",
    )
    st.stop()

METRICS = {
    "ctr": ("CTR", "Clicks per impression"),
    "enrolment_rate": ("Enrolment", "Enrolments per click"),
    "completion_rate": ("Completion", "Completions per enrolment"),
    "satisfaction": ("Satisfaction", "Average rating (1-5) of recommended courses taken"),
}
DIMENSION_LABEL = {"model_version": "Model version", "surface": "Surface", "segment": "Segment"}


def attribution_note(sources, in_service: str | None) -> None:
    """Whose lists the last 7 days' impressions showed: the read API's (which versions) or the
    platform's own, in one sentence; a warning when none came from the read API."""
    total = int(sources["impressions"].sum())
    served = sources[sources["served"]]
    own = sources[~sources["served"]]
    from_api = int(served["by_id"].sum() + served["by_recency"].sum())
    labels = ", ".join(f"`{v}`" for v in own["grp"]) or "none"
    if from_api == 0:
        st.warning(
            f"**None of the last 7 days' {total:,} impressions showed a list the read API "
            f"served**: they are the platform's own recommender's ({labels}), so these KPIs do "
            f"not measure the model in service{f' (`{in_service}`)' if in_service else ''}. "
            "Have the platform fetch its lists from the read API and echo each item's `rec_id` "
            "in its `rec_impression` events.",
            icon=":material/link_off:",
        )
        return
    versions = ", ".join(
        f"`{r.grp}` {r.impressions / total:.0%} (CTR {ui.pct(r.ctr)})" for r in served.itertuples()
    )
    by_recency = int(served["by_recency"].sum())
    st.markdown(
        f"**{from_api / total:.0%} of the last 7 days' impressions showed lists the read API "
        f"served**: {versions}"
        + (f"; the rest the platform's own lists ({labels})." if len(own) else ".")
        + (
            f" {by_recency:,} of them echoed no served id and count under the learner's latest "
            "list with that course the read API served in the 24 hours before."
            if by_recency
            else ""
        )
    )


def model_versions_table(sources, totals):
    """The model-version breakdown with where each version's lists came from and its weights."""
    if sources.empty:  # a snapshot built before the attribution
        return totals
    weights = queries.model_weights(version)
    return sources.assign(
        lists_from=sources["served"].map({True: "read API", False: "platform's own"}),
        weights=sources["grp"].map(
            lambda v: (
                " · ".join(f"{k.replace('_', ' ')} {w:.2f}" for k, w in weights[v].items())
                if v in weights
                else None
            )
        ),
    )[["grp", "lists_from", "labelled", "weights", "by_id", "by_recency", *totals.columns[1:]]]


# -- filters -----------------------------------------------------------------------------------
options = queries.kpi_options(version)
with st.container(border=True):
    cols = st.columns(4)
    chosen = {
        dim: cols[i].multiselect(
            DIMENSION_LABEL[dim], options[dim], placeholder="All", key=f"filter_{dim}"
        )
        for i, dim in enumerate(queries.KPI_DIMENSIONS)
    }
    split = cols[3].selectbox(
        "Split charts by",
        [None, *queries.KPI_DIMENSIONS],
        format_func=lambda d: "Nothing (all together)" if d is None else DIMENSION_LABEL[d],
        key="split",
    )
filters = tuple((d, tuple(v)) for d, v in chosen.items() if v)

# -- headline numbers: the last 7 days of data against the 7 before ------------------------------
windows = queries.kpi_windows(version, 7, filters)
if "current" not in windows.index:
    st.warning("No impressions match these filters.", icon=":material/filter_alt_off:")
    st.stop()
cur = windows.loc["current"]
prev = windows.loc["previous"] if "previous" in windows.index else None
daily_all = queries.kpi_daily(version, None, filters)
st.subheader("Last 7 days")
tiles = st.columns(5)
tiles[0].metric(
    "Impressions",
    f"{int(cur['impressions']):,}",
    None if prev is None else f"{(cur['impressions'] / prev['impressions'] - 1):+.0%}",
    border=True,
    chart_data=daily_all["impressions"].tail(14).tolist(),
    chart_type="bar",
)
for tile, (key, (label, help_text)) in zip(tiles[1:], METRICS.items(), strict=True):
    spark = daily_all[key].tail(14).fillna(0).tolist()
    if key == "satisfaction":
        delta = None if prev is None else ui.num(cur[key] - prev[key], 2)
        tile.metric(
            label, f"{ui.num(cur[key], 2)} ★", delta, help=help_text, border=True, chart_data=spark
        )
    else:
        delta = None if prev is None else ui.delta_pp(cur[key], prev[key])
        if key == "completion_rate":  # it lags: recent enrolments have had little time
            help_text += " so far; judge its trend by the completion-within-a-horizon chart below"
        tile.metric(label, ui.pct(cur[key]), delta, help=help_text, border=True, chart_data=spark)

# -- whose lists learners saw -------------------------------------------------------------------
sources = queries.kpi_sources(version, 7, filters)
if not sources.empty:
    attribution_note(sources, served and served["model_version"])

# -- trend chart --------------------------------------------------------------------------------
st.subheader("Over time")
metric = (
    st.segmented_control(
        "Metric", list(METRICS), format_func=lambda m: METRICS[m][0], default="ctr", key="metric"
    )
    or "ctr"
)
daily = queries.kpi_daily(version, split, filters)
label, help_text = METRICS[metric]
y_format = ".2f" if metric == "satisfaction" else ".0%"
legend_title = DIMENSION_LABEL.get(split, "")
chart = (
    alt.Chart(daily)
    .mark_line(point=alt.OverlayMarkDef(size=30), strokeWidth=2)
    .encode(
        x=alt.X("day:T", title=None),
        y=alt.Y(
            f"{metric}:Q", title=f"{label} · {help_text.lower()}", axis=alt.Axis(format=y_format)
        ),
        color=alt.Color("grp:N", title=legend_title, legend=alt.Legend(orient="bottom"))
        if split
        else alt.value("#4C78A8"),
        tooltip=[
            alt.Tooltip("day:T", title="Day"),
            alt.Tooltip("grp:N", title=legend_title or "Group"),
            alt.Tooltip(f"{metric}:Q", title=label, format=".3f"),
            alt.Tooltip("impressions:Q", title="Impressions", format=","),
        ],
    )
    .properties(height=320)
)
st.altair_chart(chart, width="stretch")

# -- breakdown ----------------------------------------------------------------------------------
# One table at a time: tabs would draw all three grids on every render (~0.3 s in the browser).
st.subheader("Breakdown")
dim = (
    st.segmented_control(
        "By",
        queries.KPI_DIMENSIONS,
        format_func=DIMENSION_LABEL.get,
        default="model_version",
        key="breakdown",
        label_visibility="collapsed",
    )
    or "model_version"
)
table = queries.kpi_by(version, dim, filters)
if dim == "model_version":
    table = model_versions_table(queries.kpi_sources(version, None, filters), table)
st.dataframe(
    table,
    hide_index=True,
    placeholder="–",
    column_config={
        "grp": st.column_config.TextColumn(DIMENSION_LABEL[dim]),
        "lists_from": st.column_config.TextColumn(
            "Lists from", help="Who produced the lists learners saw"
        ),
        "labelled": st.column_config.TextColumn(
            "Platform's label", help="The model version the platform's events named"
        ),
        "by_id": st.column_config.NumberColumn(
            "Matched by id",
            help="Impressions echoing the id of a list the read API served",
            format="localized",
        ),
        "by_recency": st.column_config.NumberColumn(
            "Matched by recency",
            help="Impressions without a served id, matched to the learner's latest list "
            "with that course served in the 24 hours before",
            format="localized",
        ),
        "weights": st.column_config.TextColumn("Blend weights"),
        "impressions": st.column_config.NumberColumn("Impressions", format="localized"),
        "clicks": st.column_config.NumberColumn("Clicks", format="localized"),
        "enrolments": st.column_config.NumberColumn("Enrolments", format="localized"),
        "completions": st.column_config.NumberColumn("Completions", format="localized"),
        "ctr": st.column_config.NumberColumn("CTR", format="percent"),
        "enrolment_rate": st.column_config.NumberColumn("Enrolment", format="percent"),
        "completion_rate": st.column_config.NumberColumn("Completion", format="percent"),
        "satisfaction": st.column_config.NumberColumn("Satisfaction", format="%.2f ★"),
    },
)

# -- drift ---------------------------------------------------------------------------------------
st.subheader("Drift alerts")
if not snapshot.has_table(version, "drift_alerts"):
    st.info(
        "Drift checks run with the nightly job; this snapshot has none yet.",
        icon=":material/info:",
    )
else:
    alerts = queries.drift_alerts(version)
    if alerts.empty:
        st.success("No drift detected in the last nightly run.", icon=":material/check_circle:")
    else:
        st.warning(
            f"{len(alerts)} drift alert{'s' if len(alerts) != 1 else ''} in the last nightly run.",
            icon=":material/warning:",
        )
        for alert in alerts.to_dict("records"):
            st.markdown(f"- {ui.drift_sentence(alert)}")
        with st.expander("The checks' figures"):
            st.dataframe(alerts, hide_index=True)

horizon = queries.completion_within_horizon(version)
if not horizon.empty:
    days = int(horizon["horizon_days"].iloc[0])
    st.altair_chart(
        alt.Chart(horizon)
        .mark_line(point=alt.OverlayMarkDef(size=30), strokeWidth=2)
        .encode(
            x=alt.X("day:T", title="Enrolment day"),
            y=alt.Y("rate:Q", title=f"Completed within {days} days", axis=alt.Axis(format="%")),
            tooltip=[
                alt.Tooltip("day:T", title="Enrolment day"),
                alt.Tooltip("rate:Q", title="Completed in time", format=".1%"),
                alt.Tooltip("enrolment_count:Q", title="Enrolments", format=","),
            ],
        ),
        width="stretch",
    )
    st.caption(
        f"Completion is judged {days} days after enrolling, so the latest {days} days are not "
        "shown yet; the drift check compares the last 7 days here with the 28 before them."
    )

# -- model cards ---------------------------------------------------------------------------------
st.subheader("Model cards")
cards = queries.model_cards(version)
if cards.empty:
    st.info(
        "Model cards are written at each publish; this snapshot has none yet.",
        icon=":material/info:",
    )
for card in cards.to_dict("records"):
    with st.expander(f"{card['title']} · `{card['model_version']}`"):
        st.markdown(card["card"])
