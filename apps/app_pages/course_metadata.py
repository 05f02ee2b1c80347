"""Creator dashboard · Review metadata: accept, edit or reject the skill tags, difficulty,
prerequisites and durations the metadata agent suggests (agents/metadata/).

Instructors review their own courses' suggestions, admins every course's, and admins set the
confidence at or above which suggestions are accepted on arrival. Each decision is audited
(pathwise/metadata_queue.py, in the controls store's audit log) and reaches the catalog marts at
the next nightly build; nothing changes in the catalog until it is accepted."""

import streamlit as st

from apps import auth, ui
from apps.queries import snapshot
from pathwise.controls import ControlError
from pathwise.metadata_queue import MetadataQueue

KIND_LABEL = {
    "skill": "Skill tag",
    "difficulty": "Difficulty (1-5)",
    "prerequisite": "Prerequisite course",
    "duration": "Duration (minutes)",
}
DONE = "metadata_review_done"

user = auth.require_role("instructor", "admin")
st.title("Review metadata")
snap = ui.require_snapshot("instructor")
catalog = snapshot.courses(snap.version)
if user.role == "instructor":
    catalog = catalog[catalog["instructor_id"] == user.instructor_id]
titles = dict(zip(catalog["course_id"], catalog["course_title"], strict=True))
st.caption(
    "Suggested by the metadata agent from each course's title, description and modules. "
    "Accepted ones reach the catalog (and so recommendations) at the next nightly build; every "
    "decision is in the audit log."
)
if done := st.session_state.pop(DONE, None):
    st.success(done, icon=":material/check_circle:")

queue = MetadataQueue()
if user.role == "admin":
    with st.expander("Auto-accept", icon=":material/bolt:"):
        current = queue.auto_accept_threshold()
        st.write(
            "Suggestions at or above this confidence are accepted on arrival (audited as the "
            f"agent's). Now: **{'off' if current is None else f'{current:.2f}'}**."
        )
        on = st.toggle("Accept confident suggestions automatically", value=current is not None)
        level = st.slider("Confidence", 0.5, 1.0, current or 0.9, 0.05, disabled=not on)
        why = st.text_input("Reason", key="auto_reason", placeholder="Why this threshold")
        if st.button("Save auto-accept", disabled=not why.strip()):
            queue.set_auto_accept(level if on else None, actor=user.username, reason=why)
            st.session_state[DONE] = "Auto-accept saved."
            st.rerun()

pending = queue.suggestions(course_ids=list(titles), status="pending")
if not pending:
    st.info("No suggestions waiting for review.", icon=":material/task_alt:")
    st.stop()

waiting: dict[str, int] = {}
for s in pending:
    waiting[s["course_id"]] = waiting.get(s["course_id"], 0) + 1
course_id = st.selectbox(
    f"Course ({len(waiting)} with suggestions)",
    list(waiting),
    format_func=lambda c: f"{titles.get(c, c)} · {waiting[c]} waiting",
    key="metadata_course",
)
reason = st.text_input(
    "Reason for your decisions (shown in the audit log)", value="Checked against the course page"
)


def evidence(s: dict) -> str:
    d = s["detail"]
    if s["kind"] == "skill":
        how = "named in the text" if d.get("how") == "named" else "taught by similar courses"
        return f"{how}: “{d.get('sentence', '')}”"
    if s["kind"] == "difficulty":
        was = d.get("catalog_difficulty")
        return f"{d.get('level')} level" + ("" if was is None else f" (catalog says {was} of 3)")
    if s["kind"] == "prerequisite":
        course = titles.get(s["value"], s["value"])
        return f"{d.get('why')}: {d.get('skill')} (taught by {course}) · “{d.get('sentence')}”"
    return d.get("basis", "")


def decide(s: dict, accept: bool, value: str) -> None:
    try:
        if accept:
            queue.accept(s["suggestion_id"], actor=user.username, reason=reason, value=value)
        else:
            queue.reject(s["suggestion_id"], actor=user.username, reason=reason)
    except ControlError as refused:
        st.error(str(refused), icon=":material/error:")
        return
    verb = "Accepted" if accept else "Rejected"
    st.session_state[DONE] = f"{verb}: {KIND_LABEL[s['kind']].lower()} {value}."
    st.rerun()


for s in (s for s in pending if s["course_id"] == course_id):
    sid = s["suggestion_id"]
    with st.container(border=True, key=f"suggestion_{sid}"):
        left, mid, right = st.columns([5, 2, 2], vertical_alignment="center")
        left.markdown(f"**{KIND_LABEL[s['kind']]}** · confidence {s['confidence']:.2f}")
        left.caption(evidence(s))
        value = mid.text_input("Value", value=s["value"], key=f"value_{sid}")
        a, r = right.columns(2)
        if a.button("Accept", key=f"accept_{sid}", type="primary", disabled=not reason.strip()):
            decide(s, True, value)
        if r.button("Reject", key=f"reject_{sid}", disabled=not reason.strip()):
            decide(s, False, value)
