"""Learner view · My learning path: a conversation that asks for the learner's goal, what they
know, their hours a week, a date and a format (the learning-path agent, agents/paths/); then
their path as a timeline (each course on the calendar, with why it is there), the skills no
course teaches yet, and why the path changed. Learners only, and only their own `learner_key`."""

import altair as alt
import streamlit as st

from apps import auth, ui
from apps.queries import learning_path as queries

user = auth.require_role("learner")
snap = ui.require_snapshot("learner")
st.title("My learning path")

view = queries.view(user.learner_key)
path, step = view["path"], view["onboarding_step"]
talking = path is None or step not in (None, "done")


def timeline_chart(path: dict) -> alt.Chart:
    """The steps on a calendar, one bar each, in order; the target date as a rule."""
    data = queries.timeline(path)
    bars = (
        alt.Chart(data)
        .mark_bar(cornerRadius=3)
        .encode(
            x=alt.X("start:T", title=None, axis=alt.Axis(format="%d %b %Y")),
            x2="end:T",
            y=alt.Y("course:N", sort=alt.SortField("step"), title=None),
            color=alt.Color("status:N", legend=None, scale=alt.Scale(range=["#1f77b4", "#9ecae1"])),
            tooltip=[
                "course:N",
                alt.Tooltip("start:T", format="%d %b %Y"),
                alt.Tooltip("end:T", format="%d %b %Y"),
                alt.Tooltip("hours:Q", format=".1f"),
                "why:N",
            ],
        )
    )
    target = path["goal"].get("target")
    if not target:
        return bars.properties(height=max(120, 32 * len(data)))
    rule = (
        alt.Chart(alt.Data(values=[{"target": target}]))
        .mark_rule(color="#d62728", strokeDash=[4, 4])
        .encode(
            x="target:T", tooltip=alt.Tooltip("target:T", title="your target", format="%d %b %Y")
        )
    )
    return (bars + rule).properties(height=max(120, 32 * len(data)))


# -- the path ------------------------------------------------------------------------------------
if path is not None:
    goal = path["goal"]
    st.subheader(f"Your path to {goal['role']}")
    when = f"by {goal['target']}" if goal.get("target") else "no deadline"
    st.caption(
        f"{len(path['steps'])} courses · {path['total_hours']:.0f} hours at "
        f"{goal['hours_per_week']:g} h a week · finishing on {path['finish']} ({when}"
        + ("" if path["on_time"] else ", later than you wanted")
        + ")"
    )
    if path["steps"]:
        st.altair_chart(timeline_chart(path), width="stretch")
        for i, s in enumerate(path["steps"], 1):
            st.markdown(
                f"**{i}. {s['title']}** · {s['start']} → {s['end']} · {s['hours']:.1f} h  \n"
                f":material/lightbulb: {s['reason']}"
            )
    if path["uncovered"]:
        st.info(
            "Not taught in our catalog yet: " + ", ".join(path["uncovered"]) + ".",
            icon=":material/travel_explore:",
        )
    st.subheader("Why your path changed")
    for change in view["changes"]:
        st.markdown(f"- {change['changed_at'][:10]}: {change['reason']}")
    if not talking and st.button("Change my goal", icon=":material/restart_alt:"):
        queries.say(snap, user.learner_key, "start over")  # the agent asks for the goal again
        st.rerun()

# -- the conversation ------------------------------------------------------------------------------
if talking:
    st.subheader("Plan my path" if path is None else "Change my goal")
    if step is None:
        queries.say(snap, user.learner_key, None)  # the agent opens the conversation
    for turn in queries.turns(user.learner_key):
        role = "user" if turn["speaker"] == "learner" else "assistant"
        with st.chat_message(role):
            st.markdown(turn["text"])
    # Inline, under the conversation: pinned to the bottom of the window, a chat input gives
    # the page another layout (no main area: what the browser tests and benchmarks wait for).
    if text := st.container().chat_input("Your answer"):
        with st.spinner("Thinking…"):
            queries.say(snap, user.learner_key, text)
        st.rerun()
