"""Learner view · My learning path: the learning-path agent and the path store, for one learner.

Unlike the other pages' data this is not the snapshot's: a path is made during the onboarding
conversation, at any hour, and re-planned at night, so it is read from the path store
(`pathwise/learning_paths.py`, SQLite in WAL mode) on every run, by the learner's key only. The
agent (its O*NET knowledge takes ~5 s to load) is one per app process, warmed by `apps.warm`.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from agents.paths.serving import Served
from pathwise import snapshots


@st.cache_resource(show_spinner=False)
def served() -> Served:
    return Served()


def warm(snap: snapshots.Snapshot) -> None:
    """Load the agent's knowledge and this snapshot's catalog (apps.warm, in the background)."""
    served().source(snap)
    served().agent  # noqa: B018 - loads the role matcher


def view(learner_key: str) -> dict:
    return served().store.view(learner_key)


def turns(learner_key: str) -> list[dict]:
    return served().store.turns(learner_key)


def say(snap: snapshots.Snapshot, learner_key: str, text: str | None) -> dict:
    return served().turn(snap, learner_key, text)


def timeline(path: dict) -> pd.DataFrame:
    """One row per step: its order, title, dates, hours, why it is there and what it covers."""
    rows = [
        {
            "step": i,
            "course": f"{i}. {s['title']}",
            "start": pd.Timestamp(s["start"]),
            "end": pd.Timestamp(s["end"]),
            "hours": s["hours"],
            "why": s["reason"],
            "status": "now" if date.fromisoformat(s["start"]) <= date.today() else "next",
        }
        for i, s in enumerate(path["steps"], 1)
    ]
    return pd.DataFrame(rows)
