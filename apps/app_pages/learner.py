"""Learner view · My learning: my recommendations with their reason and format, and my progress.
Learners only, and only their own `learner_key`. The list shown is logged like the read API's
(apps/served.py)."""

import pandas as pd
import streamlit as st

from apps import auth, clicks, served, ui
from apps.queries import learner as queries
from pathwise.controls import ControlStore, apply_controls, without_nightly_boost

user = auth.require_role("learner")
snap = ui.require_snapshot("learner")
version = snap.version
st.title("My learning")

profile = queries.learner_profile(version, user.learner_key) or {}
facts = [
    f"Goal: **{profile['target_role']}**" if profile.get("target_role") else None,
    f"Prefers **{profile['preferred_format']}**" if profile.get("preferred_format") else None,
    f"Learning style: **{profile['learning_style']}**" if profile.get("learning_style") else None,
    f"**{int(profile['weekly_minutes'])} min** a week" if profile.get("weekly_minutes") else None,
]
if any(facts):
    st.markdown(" · ".join(f for f in facts if f))

FORMAT_ICON = {
    "video": ":material/play_circle:",
    "reading": ":material/menu_book:",
    "hands-on": ":material/build:",
}


def duration(minutes: float | None) -> str | None:
    """A course's length as people say it: "45 min", "3 h", "2 h 30 min"."""
    if minutes is None or pd.isna(minutes) or minutes <= 0:
        return None
    h, m = divmod(round(float(minutes)), 60)
    return f"{m} min" if not h else f"{h} h" + (f" {m} min" if m else "")


def recommendation_card(rank: int, rec: dict) -> None:
    """One recommendation: its place in the list, what it is, why, and a button to open it, which
    records a `rec_click` the way the platform's own clicks arrive (apps/clicks.py)."""
    with st.container(border=True):
        title = rec.get("course_title") or rec["course_id"]
        fmt = rec.get("format_first") or rec.get("primary_format") or ""
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.markdown(f"**{rank}. {title}**")
        badges = [
            f"{FORMAT_ICON.get(fmt, ':material/school:')} {fmt}" if fmt else None,
            rec.get("difficulty_label"),
            f":material/schedule: {d}" if (d := duration(rec.get("duration_minutes"))) else None,
        ]
        left.caption(" · ".join(b for b in badges if b))
        if rec.get("reason"):
            st.markdown(f":material/lightbulb: {rec['reason']}")
        if right.button(
            "Open course", key=f"open_{rec['course_id']}", icon=":material/open_in_new:"
        ):
            clicks.record_click(
                user.learner_key,
                rec["course_id"],
                rank,
                str(rec.get("model_version") or "unknown"),
                version,
            )
            st.toast(f"Noted: you opened {title}.", icon=":material/open_in_new:")


# -- recommendations ------------------------------------------------------------------------------
st.subheader("Recommended for you")
candidates, cold = queries.learner_candidates(version, user.learner_key)
if candidates.empty:
    st.info(
        "Your recommendations are being prepared. They appear after the next nightly update.",
        icon=":material/hourglass_empty:",
    )
else:
    # The same admin controls as the read API, applied at read time.
    rows = without_nightly_boost(candidates.to_dict("records"))
    top, applied = apply_controls(rows, ControlStore().in_force().controls, 10)
    # What is shown is logged, like the read API's lists (apps/served.py).
    served.log_shown(
        user,
        snap,
        top,
        weights=queries.blend_weights(version),
        cold_start=cold,
        controls_applied=applied,
    )
    if cold:
        st.caption("Popular with learners like you — these get more personal as you learn.")
    # One card per row, numbered, so the list reads in rank order (two columns read 1, 3, 5
    # down the left and 2, 4, 6 down the right).
    for rank, rec in enumerate(top, 1):
        recommendation_card(rank, rec)

# -- progress -------------------------------------------------------------------------------------
st.subheader("My progress")
progress = queries.learner_progress(version, user.learner_key)
if progress.empty:
    st.info("You have not enrolled in a course yet.", icon=":material/info:")
else:
    done = int((progress["status"] == "completed").sum())
    going = progress[progress["status"] != "completed"]
    m = st.columns(3)
    m[0].metric("Enrolled", len(progress), border=True)
    m[1].metric("Completed", done, border=True)
    remaining = going.loc[going["status"] != "dropped", "minutes_remaining"].fillna(0).sum()
    m[2].metric("Time left in courses in progress", f"{remaining / 60:.1f} h", border=True)
    for row in going.itertuples():
        with st.container(border=True):
            left, right = st.columns([3, 1])
            left.markdown(f"**{row.course_title or row.course_id}**")
            status = {"active": "In progress", "stalled": "Paused", "dropped": "Stopped"}
            right.caption(status.get(row.status, row.status))
            share = 0.0 if pd.isna(row.percent_complete) else float(row.percent_complete) / 100
            st.progress(
                min(max(share, 0.0), 1.0),
                text=f"{share:.0%} complete · {int(row.modules_done)} of {int(row.modules_total)} modules",
            )
            if isinstance(row.next_module_title, str):
                minutes = row.next_module_duration_minutes
                mins = "" if pd.isna(minutes) else f" ({int(minutes)} min)"
                st.caption(f"Next up: {row.next_module_title}{mins}")
    finished = progress[progress["status"] == "completed"]
    if not finished.empty:
        with st.expander(f"Completed courses ({len(finished)})"):
            for title in finished["course_title"].fillna(finished["course_id"]):
                st.markdown(f":material/check_circle: {title}")
