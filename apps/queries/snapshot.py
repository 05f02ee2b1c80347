"""The published snapshot as the pages see it: one DuckDB connection per version, cached results."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import streamlit as st

from pathwise import snapshots
from pathwise.settings import get_settings

TTL = 3600  # results are immutable per version; the TTL only bounds memory


def snapshot() -> snapshots.Snapshot | None:
    """The published snapshot (a small file read, so every page run sees a new publish at once)."""
    return snapshots.current()


def has_table(version: str, name: str) -> bool:
    return name in _snap(version).tables


def _snap(version: str) -> snapshots.Snapshot:
    return snapshots.Snapshot(version, get_settings().snapshots_dir / version)


@st.cache_resource(max_entries=2, show_spinner=False)
def _connection(version: str) -> duckdb.DuckDBPyConnection:
    return _snap(version).connect()


def frame(version: str, sql: str, params: list | None = None) -> pd.DataFrame:
    """Run `sql` on the snapshot `version` (a cursor per query: DuckDB connections are not shared
    between Streamlit's script threads)."""
    cur = _connection(version).cursor()
    try:
        return cur.execute(sql, params or []).df()
    finally:
        cur.close()


@st.cache_data(ttl=TTL, show_spinner=False)
def courses(version: str) -> pd.DataFrame:
    """The catalog: course_id, course_title, instructor_id, primary_format, category, level."""
    return frame(
        version,
        "select course_id, course_title, instructor_id, primary_format, category, "
        "difficulty_label from courses order by course_id",
    )


def as_of(version: str) -> date | None:
    """The snapshot's publish time, for captions."""
    created = _snap(version).manifest.get("created_at")
    return None if created is None else pd.Timestamp(created).to_pydatetime()
