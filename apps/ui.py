"""Small pieces every page shares: the snapshot guard, headings, number formats."""

from __future__ import annotations

import math

import streamlit as st

from apps.queries import snapshot
from pathwise import snapshots


def require_snapshot(audience: str = "admin") -> snapshots.Snapshot:
    """The published snapshot, or a friendly empty state and stop."""
    snap = snapshot.snapshot()
    if snap is None:
        if audience == "learner":
            st.info(
                "Your learning space is being prepared. Please come back a little later.",
                icon=":material/hourglass_empty:",
            )
        else:
            st.info(
                "**No data published yet.** Pages fill in after the first nightly run: "
                "run `pathwise nightly` (or `make demo`) and reload.",
                icon=":material/hourglass_empty:",
            )
        st.stop()
    return snap


def snapshot_caption(snap: snapshots.Snapshot, extra: str = "") -> None:
    published = snapshot.as_of(snap.version)
    when = published.strftime("%d %b %Y, %H:%M UTC") if published else snap.version
    st.caption(f"Data as of {when} · snapshot `{snap.version}`" + (f" · {extra}" if extra else ""))


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}%}"


def num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def delta_pp(current: float | None, previous: float | None) -> str | None:
    """A change in percentage points, for st.metric's delta."""
    if current is None or previous is None or math.isnan(current) or math.isnan(previous):
        return None
    return f"{(current - previous) * 100:+.1f} pp"
