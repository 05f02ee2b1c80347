"""Control Tower · Interventions: boost or suppress a course, tune the blend weights (each previewed
on a sample of learners before saving), revoke active controls, and pause or resume every agent
(the kill switch, agents/guardrails.py). Admins only.

Saved controls go to the controls store (SQLite): the read API applies them to its next response, and
the next nightly run ranks with them. Every change is written to the audit log with its reason.
A change to more than a quarter of the sampled lists (`preview.CONFIRM_ABOVE`) saves only once the
admin has ticked that they understand its reach. After a save the page runs again, so every count
on it (the active controls' tab, the weights in force) is the store's new state."""

import altair as alt
import pandas as pd
import streamlit as st

from apps import auth, preview, ui
from apps.queries import interventions as queries
from apps.queries import snapshot
from pathwise.controls import MAX_BOOST, ControlError, ControlStore

user = auth.require_role("admin")
st.title("Interventions")
snap = ui.require_snapshot()
version = snap.version
ui.snapshot_caption(snap, "saved controls apply to the read API at once")
SAVED = "interventions_saved"  # what the last save did, shown once after the rerun
if saved := st.session_state.pop(SAVED, None):
    st.success(saved, icon=":material/check_circle:")

store = ControlStore()
now = store.in_force()
active = list(now.controls)
catalog = snapshot.courses(version)
titles = dict(zip(catalog["course_id"], catalog["course_title"], strict=True))
has_recs = snapshot.has_table(version, "recommendations")
sample = queries.sample_candidates(version) if has_recs else pd.DataFrame()
profiles = queries.sample_profiles(version) if has_recs else {}

EXPIRY = {"1 day": 1, "7 days": 7, "14 days": 14, "30 days": 30, "90 days": 90, "No expiry": None}


def course_label(course_id: str) -> str:
    return f"{titles.get(course_id, 'unknown course')} · {course_id}"


def saved_and_rerun(message: str) -> None:
    """Run the page again on the store's new state, and say what was saved there."""
    st.session_state[SAVED] = message
    st.rerun()


def confirmed(p: preview.Preview, key: str) -> bool:
    """True unless the change reaches more than CONFIRM_ABOVE of the sampled lists and the admin
    has not ticked that they understand it (a new share asks again: the key carries it)."""
    if not p.needs_confirmation:
        return True
    share = f"{p.changed_share:.0%}"
    return st.checkbox(
        f"I understand this changes {share} of lists",
        key=f"{key}_{share}",
        help=f"Changes to more than {preview.CONFIRM_ABOVE:.0%} of the sampled learners' top 10 "
        "need this confirmation.",
    )


def ranked(courses: list[str], changed: list[str], course_id: str | None) -> str:
    """A top list as numbered Markdown lines, what moved in bold."""
    lines = []
    for i, c in enumerate(courses, 1):
        name = titles.get(c, c)
        lines.append(f"{i}. **{name}**" if c in changed or c == course_id else f"{i}. {name}")
    return "\n".join(lines) or "_nothing_"


def what_moved(ex: preview.Example) -> str:
    enters = [f"{titles.get(c, c)} (#{ex.after.index(c) + 1})" for c in ex.entered]
    leaves = [f"{titles.get(c, c)} (was #{ex.before.index(c) + 1})" for c in ex.left]
    parts = ([f"Enters: {', '.join(enters)}"] if enters else []) + (
        [f"Leaves: {', '.join(leaves)}"] if leaves else []
    )
    return ". ".join(parts) or "Same courses in a new order"


def show_examples(p: preview.Preview, course_id: str | None = None) -> None:
    """A few sampled learners as an admin can tell them apart: their segment and goal, their
    top 10 now and after the change (never the learner_key, which means nothing to anyone)."""
    for ex in p.examples:
        segment, goal = profiles.get(ex.learner_key, ("unknown segment", "no goal set"))
        with st.container(border=True):
            st.markdown(f"**{segment}** · goal: {goal}")
            st.caption(what_moved(ex))
            now, after = st.columns(2)
            now.markdown("###### Top 10 now\n" + ranked(ex.before, ex.left, course_id))
            after.markdown("###### Top 10 after\n" + ranked(ex.after, ex.entered, course_id))


def no_recommendations_note() -> None:
    st.info(
        "No recommendations in this snapshot yet, so there is nothing to preview on. "
        "Controls can still be saved; they apply once the recommender has run.",
        icon=":material/info:",
    )


boost_tab, weights_tab, active_tab = st.tabs(
    ["Boost or suppress", "Blend weights", f"Active controls ({len(active)})"]
)

# -- boost / suppress ---------------------------------------------------------------------------
with boost_tab:
    left, right = st.columns([1, 1.2], gap="large")
    with left:
        course_id = st.selectbox(
            "Course",
            list(titles),
            format_func=course_label,
            index=None,
            placeholder="Choose a course…",
            key="control_course",
        )
        action = st.segmented_control(
            "Action",
            ["boost", "suppress"],
            format_func=str.capitalize,
            default="boost",
            required=True,
            key="control_action",
        )
        amount = 0.0
        if action == "boost":
            amount = st.slider(
                "Boost amount",
                0.05,
                MAX_BOOST,
                0.3,
                0.05,
                help="Added to the course's score (scores are blends in [0, 1]; 1.0 pins it on top).",
                key="control_amount",
            )
        expiry = st.selectbox("Expires after", list(EXPIRY), index=2, key="control_expiry")
        reason = st.text_input(
            "Reason (shown in the audit log)",
            placeholder="e.g. spring campaign for data skills",
            key="control_reason",
        )
    with right:
        st.markdown("##### Preview")
        p = None
        if course_id is None:
            st.caption("Choose a course to see how the change would affect learners' top 10.")
        elif sample.empty:
            no_recommendations_note()
        else:
            p = preview.course_control(
                sample, active, course_id=course_id, action=action, amount=amount
            )
            m = st.columns(3)
            m[0].metric("Learners in sample", p.learners)
            m[1].metric("Top 10 changes", f"{p.changed / p.learners:.0%}")
            m[2].metric(
                "Would now see it" if action == "boost" else "Would no longer see it",
                f"{p.gained / p.learners:.0%}",
                help=f"{p.gained} of the {p.learners} sampled learners",
            )
            if p.gained == 0:
                st.caption(
                    "No sampled learner's top 10 changes: the course is not among their "
                    "candidates, or already shown."
                    if action == "boost"
                    else "No sampled learner sees this course in their top 10 now."
                )
            else:
                st.caption(f"{p.gained} of {p.learners} sampled learners; a few of them:")
                show_examples(p, course_id)
    ok = p is None or confirmed(p, "confirm_control")
    label = "Save boost" if action == "boost" else "Save suppression"
    if st.button(
        label,
        type="primary",
        icon=":material/save:",
        disabled=course_id is None or not reason.strip() or not ok,
        key="save_control",
    ):
        try:
            if action == "boost":
                cid = store.boost(
                    course_id,
                    amount=amount,
                    reason=reason,
                    actor=user.username,
                    days=EXPIRY[expiry],
                )
            else:
                cid = store.suppress(
                    course_id, reason=reason, actor=user.username, days=EXPIRY[expiry]
                )
        except ControlError as exc:
            st.error(str(exc))
        else:
            saved_and_rerun(
                f"Saved control #{cid}: {action} {course_label(course_id)}. "
                "The read API applies it to its next response."
            )

# -- blend weights ------------------------------------------------------------------------------
with weights_tab:
    if not has_recs:
        no_recommendations_note()
    else:
        signal_info = queries.signals(version)
        names = signal_info["signal"].tolist()
        defaults = dict(zip(names, signal_info["default_weight"], strict=True))
        labels = dict(zip(names, signal_info["label"], strict=True))
        helps = dict(zip(names, signal_info["description"], strict=True))
        in_force = now.weights(defaults)
        # The snapshot's scores were blended with the weights in force when it was generated.
        generated = store.in_force(sample["generated_at"].max()).weights(defaults)
        left, right = st.columns([1, 1.2], gap="large")
        with left:
            overridden = any(k in defaults for k in now.saved_weights)
            st.caption(
                "Weights in force now: "
                + (
                    "**admins' saved weights**, over the tuned ones"
                    if overridden
                    else "the ones tuned on this platform's data"
                )
                + ". Move a slider to preview a change."
            )
            new = {
                s: st.slider(
                    labels[s],
                    0.0,
                    max(2.0, float(in_force[s])),
                    float(in_force[s]),
                    0.05,
                    help=helps[s] or None,
                    key=f"w_{s}",
                )
                for s in names
            }
            w_reason = st.text_input("Reason (shown in the audit log)", key="weights_reason")
            if overridden and st.button(
                "Back to the tuned weights",
                icon=":material/restart_alt:",
                disabled=not w_reason.strip(),
                help="End the override: the next nightly run blends with the tuned weights.",
                key="clear_weights",
            ):
                store.clear_weights(reason=w_reason, actor=user.username)
                saved_and_rerun(
                    "Override ended. The next nightly run blends with the tuned weights."
                )
        with right:
            st.markdown("##### Preview")
            p = preview.weights(sample, active, generated, new)
            m = st.columns(3)
            m[0].metric("Learners in sample", p.learners)
            m[1].metric("Top 10 changes", f"{p.changed / p.learners:.0%}")
            m[2].metric("Top 10 kept", f"{p.mean_overlap:.0%}")
            zero = [labels[s] for s in names if generated[s] == 0 and new[s] > 0]
            if zero:
                st.caption(
                    f"{', '.join(zero)}: weight 0 in force, so its effect shows after the next run."
                )
            shares = pd.concat(
                [
                    preview.signal_shares(sample, names).assign(lists="now"),
                    preview.signal_shares(preview.reblend(sample, generated, new), names).assign(
                        lists="with new weights"
                    ),
                ]
            )
            shares["label"] = shares["signal"].map(labels)
            st.altair_chart(
                alt.Chart(shares)
                .mark_bar()
                .encode(
                    y=alt.Y("label:N", title=None),
                    x=alt.X("share:Q", title="Share of top-10 scores", axis=alt.Axis(format="%")),
                    color=alt.Color("lists:N", title=None, legend=alt.Legend(orient="bottom")),
                    yOffset="lists:N",
                    tooltip=["label", "lists", alt.Tooltip("share:Q", format=".1%")],
                )
                .properties(height=alt.Step(14)),
                width="stretch",
            )
            if p.examples:
                st.caption("A few of the learners whose top 10 changes:")
                show_examples(p)
            ok = confirmed(p, "confirm_weights")
        if st.button(
            "Save weights",
            type="primary",
            icon=":material/save:",
            disabled=new == in_force or not w_reason.strip() or not ok,
            key="save_weights",
        ):
            try:
                store.set_weights(new, reason=w_reason, actor=user.username, known=names)
            except ControlError as exc:
                st.error(str(exc))
            else:
                saved_and_rerun("Saved. The next nightly run ranks with these weights.")

# -- active controls ----------------------------------------------------------------------------
with active_tab:
    if not active:
        st.info("No boosts or suppressions in force.", icon=":material/info:")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "id": c.control_id,
                        "course": course_label(c.course_id),
                        "action": c.action,
                        "amount": c.amount if c.action == "boost" else None,
                        "reason": c.reason,
                        "by": c.created_by,
                        "since": c.created_at,
                        "expires": c.expires_at,
                    }
                    for c in active
                ]
            ),
            hide_index=True,
            placeholder="–",
            column_config={
                "since": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
                "expires": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
            },
        )
        with st.form("revoke", border=True):
            st.markdown("##### Revoke a control")
            ids = {c.control_id: c for c in active}
            to_revoke = st.selectbox(
                "Control",
                list(ids),
                format_func=lambda i: f"#{i} {ids[i].action} {course_label(ids[i].course_id)}",
                key="revoke_id",
            )
            r_reason = st.text_input("Reason", key="revoke_reason")
            if st.form_submit_button("Revoke", icon=":material/block:", key="revoke"):
                try:
                    store.revoke(to_revoke, reason=r_reason, actor=user.username)
                except ControlError as exc:
                    st.error(str(exc))
                else:
                    saved_and_rerun(f"Revoked control #{to_revoke}.")

# -- the agents' kill switch --------------------------------------------------------------------
st.subheader("Agents")
agents_paused = store.agents_paused()
st.caption(
    "While paused, no agent decides anything and no message is sent (in-app, e-mail, webhook); "
    "messages waiting go out after resuming. Every switch is in the audit log."
    if not agents_paused
    else ":red[Agents are paused]: nothing is decided or sent until they are resumed."
)
with st.form("agents_switch", border=True):
    a_reason = st.text_input("Reason", key="agents_reason")
    label = "Resume agents" if agents_paused else "Pause all agents"
    if st.form_submit_button(label, icon=":material/power_settings_new:", key="agents_switch"):
        try:
            store.pause_agents(not agents_paused, reason=a_reason, actor=user.username)
        except ControlError as exc:
            st.error(str(exc))
        else:
            saved_and_rerun("Agents resumed." if agents_paused else "Agents paused.")
