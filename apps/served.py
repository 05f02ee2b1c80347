"""What the app shows a learner, logged through the one recommendation writer
(`pathwise/served_log.py`), like every list the read API answers.

A Streamlit page runs again on every click in it and redraws the same list, so a list is logged
once per browser session and list (snapshot, courses and scores, controls applied): the log
counts showings, not reruns. Logging is one small append to the hour's file (no warehouse write on
a page with a 1.5 s first-render target); the nightly flow loads it like the API's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from pathwise import served_log
from pathwise.accounts import User
from pathwise.snapshots import Snapshot

SESSION_KEY = "pathwise_rec_logged"  # the last list logged in this browser session


def log_shown(
    user: User,
    snap: Snapshot,
    rows: Sequence[Mapping],
    *,
    weights: Mapping[str, float],
    cold_start: bool,
    controls_applied: Sequence[int],
) -> dict | None:
    """Log the list the learner page shows `user` (rows in rank order, with contrib_<signal>
    columns); returns the record, or None when this session logged the same list already."""
    record = served_log.served_list(
        learner_key=user.learner_key,
        served_via="learner_app",
        caller=served_log.Caller.of_account(user),
        snapshot_version=snap.version,
        model_version=snap.manifest.get("model_versions", {}).get("recommendations"),
        weights=weights,
        items=[{**row, "contributions": served_log.contributions(row)} for row in rows],
        surface="home",  # the learner's own start page
        cold_start=cold_start,
        controls_applied=controls_applied,
    )
    shown = (
        snap.version,
        tuple((i["course_id"], i["score"]) for i in record["items"]),
        tuple(record["controls_applied"]),
    )
    if st.session_state.get(SESSION_KEY) == shown:
        return None
    served_log.write([record])
    st.session_state[SESSION_KEY] = shown
    return record
