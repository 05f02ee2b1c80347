"""Content briefs: the gaps worth a course, and a brief for one (agents/briefs), per snapshot."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from agents import briefs
from apps.queries.snapshot import TTL, frame
from pathwise import snapshots
from pathwise.settings import get_settings


@st.cache_data(ttl=TTL, show_spinner=False)
def gaps(version: str, limit: int = 20) -> pd.DataFrame:
    """The skills with the widest unmet demand, widest first."""
    return frame(
        version,
        "select skill_key, skill_name, gap_score, search_count, course_count from content_gaps "
        "where gap_score > 0 order by gap_score desc, skill_name limit ?",
        [limit],
    )


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=64)
def brief(version: str, skill_key: str, polished: bool) -> briefs.Brief:
    """The brief for `skill_key` from snapshot `version` (the same for every user: no learner
    data, only groups of at least k)."""
    snap = snapshots.Snapshot(version, get_settings().snapshots_dir / version)
    con = snap.connect()
    try:
        return briefs.generate(con, skill_key, version, polished=polished)
    finally:
        con.close()


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=64)
def exports(version: str, skill_key: str, polished: bool) -> tuple[str, bytes]:
    """The brief as Markdown and as PDF."""
    b = brief(version, skill_key, polished)
    return briefs.markdown(b), briefs.pdf(b)
