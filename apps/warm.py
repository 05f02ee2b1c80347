"""Warm the app's caches in the background, so that no visitor waits for what is the same for all.

A cold app process pays, on its first page views, for importing the pages' libraries (pandas,
Altair and its schema validator), opening the published snapshot, the queries every admin or
instructor shares, and for course Q&A: LanceDB, the embedding model and the index. One daemon
thread per app process pays for them instead, from the moment the server starts (`python -m
apps.serve`, which `pathwise app` runs). It then looks at the snapshot pointer every POLL_S
seconds and warms a newly published version the same way, before anyone asks for it. Results
are cached per snapshot version (apps.queries), so warming never serves an old version's
figures: it only fills the new one's.

Per-user results (a learner's list, an instructor's courses) are not warmed; their queries are
small once the snapshot's files are open.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from functools import cache
from pathlib import Path

log = logging.getLogger("pathwise.app")

POLL_S = 5.0
THREAD_NAME = "pathwise-warm"
# The elements whose code a browser fetches and compiles only when a page first shows one
# (Streamlit loads them lazily): charts and Vega itself, tables, metrics, pickers, buttons,
# sliders, progress bars. The names are Streamlit's file names, before the content hash.
LAZY_ELEMENTS = (
    "ArrowVegaLiteChart",
    "embed",
    "DataFrame",
    "Metric",
    "Multiselect",
    "Selectbox",
    "ButtonGroup",
    "Button",
    "Slider",
    "Progress",
)
# The log lines that say the warm-up is over (benchmarks.apps waits for one).
READY = "the app is warm"
FAILED = "warming the app's caches failed"
_lock = threading.Lock()
_started = False
warmed: set[str] = set()  # snapshot versions warmed (or tried) in this process


def browser() -> None:
    """While a visitor signs in, have their browser load the code of the elements the pages show
    (in a fresh tab that takes seconds, after the page's data has arrived). The same files at the
    same addresses, so the page's own imports after sign-in find them loaded."""
    import streamlit as st

    files = json.dumps(_lazy_code())
    st.html(
        "<script>(window.requestIdleCallback || setTimeout)(() => "
        f"{files}.forEach(f => import(new URL('static/js/' + f, document.baseURI))"
        ".catch(() => {})));</script>",
        unsafe_allow_javascript=True,
    )


@cache
def _lazy_code() -> list[str]:
    import streamlit

    js = Path(streamlit.__file__).parent / "static" / "static" / "js"
    return sorted(p.name for stem in LAZY_ELEMENTS for p in js.glob(f"{stem}.*.js"))


def start() -> None:
    """Start the warming thread once per process (later calls do nothing)."""
    global _started
    with _lock:
        if _started:
            return
        _started = True
    threading.Thread(target=_run, name=THREAD_NAME, daemon=True).start()


def _run() -> None:
    from streamlit import runtime

    # Cached results must land in the server's caches, which exist once its runtime does.
    while not runtime.exists():
        time.sleep(0.1)
    # Cached functions called outside a page run log a warning each time: not worth one here.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: record.threadName != THREAD_NAME
    )
    while True:
        try:
            _warm_new_snapshot()
        except Exception:  # the pages compute what is missing, and say what to do
            log.exception("%s; pages compute on first view instead", FAILED)
        time.sleep(POLL_S)


def _warm_new_snapshot() -> None:
    """Warm the published snapshot if it is new to this process; the libraries and course Q&A
    along with the first one."""
    from apps.queries import snapshot

    snap = snapshot.snapshot()
    if snap is None or snap.version in warmed:
        return
    first = not warmed
    warmed.add(snap.version)  # tried once: a failure is logged once, not every POLL_S
    took = {}
    if first:
        took["libraries"] = _timed(_libraries)
    took[f"snapshot {snap.version}"] = _timed(shared_queries, snap.version)
    took["learning paths"] = _timed(_learning_paths, snap)
    if first:  # course Q&A reads its own index, not the snapshot: once per process
        took["course Q&A"] = _timed(_course_qa)
    log.info("%s: %s", READY, ", ".join(f"{step} {s:.1f} s" for step, s in took.items()))


def _timed(step, *args) -> float:
    started = time.perf_counter()
    step(*args)
    return time.perf_counter() - started


def _libraries() -> None:
    """Import what the pages import, and validate one chart: Altair loads and compiles the
    Vega-Lite JSON schema on its first chart in a process (about a second)."""
    import altair as alt
    import pandas as pd

    alt.Chart(pd.DataFrame({"x": [0, 1]})).mark_line().encode(x="x:Q", y="x:Q").to_dict()


def shared_queries(version: str) -> None:
    """Run the queries that are the same for every admin and instructor, with the arguments the
    pages pass (a cached result is found only by the same arguments)."""
    from apps.queries import (
        briefs,
        campaigns,
        content_gaps,
        control_tower,
        creator,
        interventions,
        snapshot,
    )

    snapshot.courses(version)
    # Control Tower with no filter chosen and charts not split.
    control_tower.served_model(version)
    control_tower.kpi_options(version)
    control_tower.kpi_windows(version, 7, ())
    control_tower.kpi_daily(version, None, ())
    for dim in control_tower.KPI_DIMENSIONS:
        control_tower.kpi_by(version, dim, ())
    control_tower.drift_alerts(version)
    control_tower.completion_within_horizon(version)
    if snapshot.has_table(version, "recommendations"):
        interventions.sample_candidates(version)
    interventions.signals(version)
    campaigns.cohorts(version)
    campaigns.uplift(version)
    creator.published_k(version)
    content_gaps.content_gaps(version, 25)
    content_gaps.unmatched_topics(version)
    gaps = briefs.gaps(version)  # and the brief the Briefs page offers first (reads O*NET once)
    if not gaps.empty:
        briefs.exports(version, gaps["skill_key"].iloc[0], False)


def _learning_paths(snap) -> None:
    """The learning-path agent's knowledge (O*NET roles, once per process) and this snapshot's
    catalog: a learner's first turn on My path needs both."""
    from apps.queries import learning_path

    learning_path.warm(snap)


def _course_qa() -> None:
    """Load the Q&A index, the embedding model and the answer grader with one question, answered
    offline (never sent to a language model)."""
    from rag.api import ask
    from rag.retrieve import IndexMissing

    try:
        ask("What do I need before I start?", backend="extractive")
    except IndexMissing:
        log.info("no course Q&A index yet: nothing to warm")
