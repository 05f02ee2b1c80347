"""Control Tower · Audit log: every change to the controls, who made it, when and why. Admins only."""

import json

import pandas as pd
import streamlit as st

from apps import auth
from apps.queries import snapshot
from pathwise.controls import ControlStore

auth.require_role("admin")
st.title("Audit log")
st.caption(
    "Every boost, suppression, revocation, weight change, agents' pause and campaign action, "
    "newest first."
)

entries = ControlStore().audit(limit=500)
if not entries:
    st.info("No changes yet. Controls saved in Interventions appear here.", icon=":material/info:")
    st.stop()


def describe(action: str, details: dict) -> str:
    """The change in words: '+0.30 until 9 Dec 2026', 'control #4', 'popularity 0.25 → ...'."""
    until = details.get("expires_at")
    until = f" until {pd.Timestamp(until):%d %b %Y}" if until else " (no expiry)"
    if action == "boost":
        return f"+{details.get('amount', 0):.2f}{until}"
    if action == "suppress":
        return f"hidden{until}"
    if action == "revoke":
        return f"ended control #{details.get('control_id')}"
    if action == "set_weights":
        return ", ".join(f"{k} {v:g}" for k, v in sorted(details.get("weights", {}).items()))
    if action == "clear_weights":
        return "back to the tuned weights"
    if action.startswith("campaign_") and "to" in details:  # approve, schedule, pause, stop
        when = details.get("scheduled_for")
        start = f" from {pd.Timestamp(when):%d %b %Y, %H:%M} UTC" if when else ""
        return f"{details['from']} → {details['to']}{start}"
    if action == "campaign_edit":
        return f"message now: {details.get('new', '')}"
    if action == "campaign_propose":
        return f"proposed a {str(details.get('type', '')).replace('_', ' ')}"
    return json.dumps(details, sort_keys=True)


snap = snapshot.snapshot()
titles = {}
if snap is not None:
    catalog = snapshot.courses(snap.version)
    titles = dict(zip(catalog["course_id"], catalog["course_title"], strict=True))

log = pd.DataFrame(entries)
log["at"] = pd.to_datetime(log["at"])
log["details"] = [describe(a, d) for a, d in zip(log["action"], log["details"], strict=True)]
log["target"] = log["target"].map(lambda t: f"{titles[t]} · {t}" if t in titles else t)
c1, c2, c3 = st.columns(3)
c1.metric("Changes", len(log), border=True)
c2.metric("People", log["actor"].nunique(), border=True)
c3.metric("Last change", log["at"].max().strftime("%d %b, %H:%M UTC"), border=True)

f1, f2 = st.columns(2)
actions = f1.multiselect("Action", sorted(log["action"].unique()), placeholder="All")
actors = f2.multiselect("Who", sorted(log["actor"].unique()), placeholder="Everyone")
if actions:
    log = log[log["action"].isin(actions)]
if actors:
    log = log[log["actor"].isin(actors)]
st.dataframe(
    log[["at", "actor", "action", "target", "reason", "details"]],
    hide_index=True,
    placeholder="–",
    column_config={
        "at": st.column_config.DatetimeColumn("When", format="D MMM YYYY, HH:mm:ss"),
        "actor": "Who",
        "action": "What",
        "target": "Course / target",
        "reason": st.column_config.TextColumn("Why", width="large"),
        "details": "Details",
    },
)
