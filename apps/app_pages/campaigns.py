"""Control Tower · Campaigns: the cohort campaign agent's proposals (agents/campaigns.py), what
admins decide about them, and what they achieved against their holdout. Admins only.

Each proposal shows its cohort in a sentence, the audience, the message learners would receive,
the expected effect and the holdout share; an admin approves, edits the message, schedules, pauses
or stops it (pathwise/campaigns.py: each action one transaction with its audit row, so the Audit
log page shows it). Nothing is sent without approval; the next agent run sends what is approved
(agents/campaign_sends.py). Results per campaign: treated against holdout on return within 7 days,
module completion and course completion, with 95% intervals (agents/uplift.py), from the snapshot;
each with its verdict, "too few to tell" below 20 learners in an arm.
"""

from datetime import UTC, datetime, time, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from agents import uplift
from apps import auth, ui
from apps.queries import campaigns as queries
from pathwise.campaigns import EDITABLE, TRANSITIONS, CampaignError, CampaignStore

user = auth.require_role("admin")
st.title("Campaigns")
snap = ui.require_snapshot()
ui.snapshot_caption(snap, "campaigns and their status are live")
st.info(
    "**On the demo platform the uplift is simulated**: the simulated learners respond to "
    "campaigns with an effect planted in the simulator, which the results below should recover. "
    "On a real platform the same figures measure real learners against the holdout.",
    icon=":material/science:",
)
DONE = "campaigns_done"  # what the last action did, shown once after the rerun
if done := st.session_state.pop(DONE, None):
    st.success(done, icon=":material/check_circle:")


# Per uplift.VERDICTS (too few to tell, helps, hurts, no clear effect): grey for too few, a
# point that should not catch the eye (agents/uplift.py, MIN_ARM).
VERDICT_COLOURS = dict(
    zip(uplift.VERDICTS, ("#9e9e9e", "#2e7d32", "#c62828", "#1f77b4"), strict=True)
)
TOO_FEW = uplift.VERDICTS[0]


def show_results(mine: pd.DataFrame, waiting: str) -> None:
    """Treated against holdout per outcome: the difference with its 95% interval as a chart, and
    each arm's rate and size beside it."""
    mine = mine[mine["difference"].notna()] if not mine.empty else mine
    if mine.empty:
        st.caption(waiting)
        return
    long = pd.concat(
        [
            mine.assign(arm="treated", rate=mine["treated_rate"], n=mine["treated_n"]),
            mine.assign(arm="holdout", rate=mine["holdout_rate"], n=mine["holdout_n"]),
        ]
    )
    left, right = st.columns([1.3, 1], gap="large")
    base = alt.Chart(mine).encode(y=alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=220)))
    left.altair_chart(
        (
            base.mark_errorbar(ticks=True).encode(
                x=alt.X("ci_low:Q", title="Treated − holdout (95% CI)", axis=alt.Axis(format="+%")),
                x2="ci_high:Q",
            )
            + base.mark_point(filled=True, size=80).encode(
                x="difference:Q",
                color=alt.Color(
                    "verdict:N",
                    title="Verdict",
                    scale=alt.Scale(
                        domain=list(VERDICT_COLOURS), range=list(VERDICT_COLOURS.values())
                    ),
                ),
                tooltip=[
                    alt.Tooltip("label:N", title="Outcome"),
                    alt.Tooltip("verdict:N", title="Verdict"),
                    alt.Tooltip("difference:Q", format="+.1%", title="Difference"),
                    alt.Tooltip("ci_low:Q", format="+.1%", title="95% CI from"),
                    alt.Tooltip("ci_high:Q", format="+.1%", title="to"),
                ],
            )
            + alt.Chart(pd.DataFrame({"x": [0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
        ).properties(height=alt.Step(40)),
        width="stretch",
    )
    few = mine[mine["verdict"] == TOO_FEW]
    if not few.empty:
        left.caption(
            f"Too few to tell ({', '.join(few['label'])}): fewer than {uplift.MIN_ARM} learners "
            "in an arm. A difference this small a group shows, however large, is no finding yet."
        )
    right.dataframe(
        long[["label", "arm", "rate", "n"]],
        hide_index=True,
        column_config={
            "label": "Outcome",
            "arm": "Group",
            "rate": st.column_config.NumberColumn("Rate", format="percent"),
            "n": st.column_config.NumberColumn("Learners", format="%d"),
        },
    )


def reengagement_results() -> None:
    """The re-engagement agent's nudges against the agents' common holdout (agents/uplift.py)."""
    st.subheader("Re-engagement agent: nudged against holdout")
    results = queries.uplift(snap.version)
    show_results(
        results[results["campaign"] == "reengage"] if not results.empty else results,
        "No results yet: the re-engagement agent's uplift appears once its nudges' outcome "
        "horizons have passed, measured nightly.",
    )


store = CampaignStore()
rows = store.list()
if not rows:
    st.info(
        "No campaigns proposed yet: the cohort campaign agent proposes some after the nightly "
        "run (`pathwise agents run campaigns`) finds at-risk cohorts.",
        icon=":material/hourglass_empty:",
    )
    reengagement_results()
    st.stop()

TYPE_LABEL = {
    "nudge_sequence": "Nudges",
    "course_bundle": "Course bundle",
    "live_session": "Live session",
}
ORDER = {"proposed": 0, "scheduled": 1, "approved": 2, "paused": 3, "stopped": 4}
rows.sort(key=lambda c: (ORDER[c["status"]], -c["expected_prevented"]))
by_id = {c["campaign_id"]: c for c in rows}

table = pd.DataFrame(rows)
table["type"] = table["campaign_type"].map(TYPE_LABEL)
st.dataframe(
    table[["campaign_id", "title", "type", "status", "audience_size", "expected_prevented"]],
    hide_index=True,
    column_config={
        "campaign_id": st.column_config.NumberColumn("#", format="%d"),
        "title": st.column_config.TextColumn("Campaign", width="large"),
        "type": "Type",
        "status": "Status",
        "audience_size": st.column_config.NumberColumn("Audience", format="%d"),
        "expected_prevented": st.column_config.NumberColumn(
            "Expected dropouts prevented", format="%.1f"
        ),
    },
)

chosen = st.selectbox(
    "Campaign",
    list(by_id),
    format_func=lambda i: f"#{i} {by_id[i]['title']}",
    key="campaign_pick",
)
c = by_id[chosen]
cohort = queries.cohorts(snap.version)


def attempt(change, done: str) -> None:
    """Make an admin's change (audited by the store); say why it was refused, or run the page
    again on the store's new state and say what was done."""
    try:
        change()
    except CampaignError as exc:
        st.error(str(exc))
    else:
        st.session_state[DONE] = done
        st.rerun()


with st.container(border=True):
    st.subheader(c["title"])
    st.markdown(f"**{TYPE_LABEL[c['campaign_type']]}** · status **{c['status']}**")
    st.markdown(c["explanation"])
    m = st.columns(4)
    m[0].metric("Audience", f"{c['audience_size']:,}")
    m[1].metric("Holdout", f"{c['holdout_share']:.0%}", help="Kept out, never contacted: the "
                "comparison the results are measured against.")  # fmt: skip
    m[2].metric(
        "Expected effect",
        f"{c['expected_prevented']:.1f}",
        help="Dropouts prevented if the campaign lowers the cohort's predicted dropout by the "
        "assumed lift (treated members x mean risk x lift).",
    )
    if c["cohort_id"] in cohort.index:
        risk = cohort.loc[c["cohort_id"]]
        m[3].metric("Predicted dropout", ui.pct(risk["mean_risk"], 0),
                    f"{(risk['mean_risk'] - risk['base_rate']) * 100:+.0f} pp vs course",
                    delta_color="inverse")  # fmt: skip
    if c["scheduled_for"]:
        st.caption(f"Scheduled to start {pd.Timestamp(c['scheduled_for']):%d %b %Y, %H:%M UTC}")
    st.markdown("###### Message learners receive")
    st.text(c["message"])

    reason = st.text_input("Reason (shown in the audit log)", key="campaign_reason")
    allowed = {a for a, (starts, _) in TRANSITIONS.items() if c["status"] in starts}
    b = st.columns([1, 1, 1, 1, 2])
    action = None
    if b[0].button("Approve", type="primary", icon=":material/check:", key="campaign_approve",
                   disabled="approve" not in allowed or not reason.strip()):  # fmt: skip
        action = "approve"
    if b[1].button("Pause", icon=":material/pause:", key="campaign_pause",
                   disabled="pause" not in allowed or not reason.strip()):  # fmt: skip
        action = "pause"
    if b[2].button("Stop", icon=":material/stop:", key="campaign_stop",
                   disabled="stop" not in allowed or not reason.strip()):  # fmt: skip
        action = "stop"
    if action:
        attempt(
            lambda: store.act(chosen, action, actor=user.username, reason=reason),
            f"Campaign #{chosen}: {action} saved (in the audit log).",
        )

    with st.expander("Schedule"):
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        day = st.date_input("Start on", tomorrow, key="campaign_day")
        at = st.time_input("At (UTC)", time(9), key="campaign_time")
        if st.button("Schedule", icon=":material/schedule:", key="campaign_schedule",
                     disabled="schedule" not in allowed or not reason.strip()):  # fmt: skip
            start = datetime.combine(day, at, tzinfo=UTC)
            attempt(
                lambda: store.act(
                    chosen, "schedule", actor=user.username, reason=reason, scheduled_for=start
                ),
                f"Campaign #{chosen} scheduled for {start:%d %b %Y, %H:%M} UTC.",
            )

    with st.expander("Edit message"):
        text = st.text_area("Message", c["message"], key=f"campaign_message_{chosen}")
        if c["status"] not in EDITABLE:
            st.caption("Pause a scheduled campaign to edit its message; a stopped one is final.")
        if st.button("Save message", icon=":material/edit:", key="campaign_edit",
                     disabled=c["status"] not in EDITABLE or not reason.strip()
                     or text.strip() == c["message"]):  # fmt: skip
            attempt(
                lambda: store.edit_message(chosen, text, actor=user.username, reason=reason),
                f"Campaign #{chosen}: message saved (in the audit log).",
            )
    if not reason.strip():
        st.caption("Give a reason to enable the actions.")

# -- results ------------------------------------------------------------------------------------
st.subheader("Results: treated against holdout")
results = queries.uplift(snap.version)
show_results(
    results[results["campaign"] == str(chosen)] if not results.empty else results,
    "No results yet: they appear once the campaign has been sent and its outcomes' horizons "
    "have passed (7 days for returning, 14 for a module, 60 for the course), measured nightly.",
)
reengagement_results()
