"""Small pieces every page shares: the snapshot guard, headings, number formats."""

from __future__ import annotations

import math

import streamlit as st

from apps.queries import snapshot
from pathwise import snapshots


def require_snapshot(audience: str = "admin") -> snapshots.Snapshot:
    """The published snapshot, or a friendly empty state and stop."""
    snap = snapshot.snapshot()
    if snap is None:
        if audience == "learner":
            st.info(
                "Your learning space is being prepared. Please come back a little later.",
                icon=":material/hourglass_empty:",
            )
        else:
            st.info(
                "**No data published yet.** Pages fill in after the first nightly run: "
                "run `pathwise nightly` (or `make demo`) and reload.",
                icon=":material/hourglass_empty:",
            )
        st.stop()
    return snap


def snapshot_caption(snap: snapshots.Snapshot, extra: str = "") -> None:
    published = snapshot.as_of(snap.version)
    when = published.strftime("%d %b %Y, %H:%M UTC") if published else snap.version
    st.caption(f"Data as of {when} · snapshot `{snap.version}`" + (f" · {extra}" if extra else ""))


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}%}"


def num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def delta_pp(current: float | None, previous: float | None) -> str | None:
    """A change in percentage points, for st.metric's delta."""
    if current is None or previous is None or math.isnan(current) or math.isnan(previous):
        return None
    return f"{(current - previous) * 100:+.1f} pp"


# What an admin should look at first when a drift check alerts, by what drifted.
DRIFT_ACTIONS = {
    "kpi": "Look for what changed that week: catalog or content releases, controls put in force "
    "(Interventions), or a tracking gap in the platform's events.",
    "distribution": "Compare tonight's inputs with the last published run (`pathwise status`, the "
    "ingest summary) before trusting the new lists; a real shift in learners may call for "
    "retraining.",
    "fairness": "Risk for this group is less reliable than for others: read its risk bands with "
    "care, check the model card's figures for the group, and consider features or data that "
    "serve it better before the next release.",
}


def drift_sentence(alert: dict) -> str:
    """One alert as an admin reads it: what moved, by how much, against what, and what to do."""
    name = str(alert["check_name"])
    base, now, value = alert["baseline"], alert["current"], alert["value"]
    if alert["kind"] == "kpi":
        direction = "fell" if now < base else "rose"
        shown = pct if "rate" in name or name == "ctr" else num
        what = (
            f"**{name.capitalize()}** {direction} {value:.0%} in the last 7 days "
            f"({shown(base)} → {shown(now)} against 28 earlier days; alert at "
            f"{alert['threshold']:.0%})."
        )
    elif alert["kind"] == "fairness":
        what = (
            f"**{name}**: ROC-AUC {num(now, 3)} against {num(base, 3)} for all learners "
            f"({value:.3f} lower; alert at {alert['threshold']:.2f})."
        )
    else:
        what = (
            f"**{name.capitalize()}** shifted from the published run: PSI {value:.2f} "
            f"(alert at {alert['threshold']:.2f}; mean {num(base)} → {num(now)})."
        )
    return f"{what} {DRIFT_ACTIONS.get(str(alert['kind']), '')}".strip()


RULE_LABELS = {
    "prerequisites": "prerequisites met",
    "difficulty_ceiling": "at most one level above the learner's",
    "diversity_cap": "at most 3 courses of a category per tier of the list",
}


def model_card(model: dict) -> None:
    """What serves the recommendations: the model, how it was chosen, the rules, the weights."""
    v = model["validation"]
    ndcg = v.get("ndcg", {})
    params = ", ".join(f"{k} {val:g}" for k, val in sorted(model["params"].items()))
    algorithm = {"ease": "EASE", "als": "ALS", "bpr": "BPR"}.get(model["algorithm"], "?")
    with st.container(border=True):
        st.markdown(f"**Model in service** `{model['model_version']}`")
        if model["config_source"] == "tuned":
            st.markdown(
                f"Collaborative model **{algorithm}** ({params}), chosen with the blend weights "
                f"and the rules on this platform's later enrolments "
                f"({v.get('validation_learners', 0):,} learners after {v.get('validation_cut', '?')[:10]}): "
                f"NDCG@10 **{ndcg.get('served', 0):.3f}** against plain ALS "
                f"{ndcg.get('als_untuned', 0):.3f} (tuned {ndcg.get('als_tuned', 0):.3f}) and "
                f"popularity {ndcg.get('popularity', 0):.3f}."
            )
        else:
            st.markdown(
                f"Collaborative model **{algorithm}** ({params}) with the versioned default "
                "weights: too little data yet to tune on this platform."
            )
        costs = v.get("rule_costs", {})
        rules = [
            f"{'✓' if on else '✗'} {RULE_LABELS[name]}"
            + (f" (costs {costs[name]:.1%} of NDCG)" if name in costs else "")
            for name, on in (
                ("prerequisites", model["rules"].get("prerequisites")),
                ("difficulty_ceiling", model["rules"].get("difficulty_ceiling")),
                ("diversity_cap", model["rules"].get("diversity_cap")),
            )
        ]
        st.caption("Rules: " + " · ".join(rules))
        if model["weights_overridden"]:
            st.warning(
                "Admins' saved blend weights override the tuned ones "
                "(Interventions → Blend weights).",
                icon=":material/tune:",
            )
