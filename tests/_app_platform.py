"""One small simulated platform after a real nightly run, shared by the app tests (AppTest and the
browser). Built once per pytest session into the session's temporary folder; the second module to
ask finds it there. Content indexing is replaced by one small lesson (the full index is tested in
test_rag), so the app is tested on what the real pipeline publishes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pathwise.settings import get_settings

PASSWORD = "a-test-password"


def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PATHWISE_HOME of the shared platform, with accounts admin, instructor and learner."""
    home = tmp_path_factory.getbasetemp() / "app-platform" / "home"
    if (home / "snapshots" / "CURRENT").exists():
        return home
    from flows.nightly import nightly_flow
    from pathwise.accounts import demo_accounts
    from pathwise.sources.simulator import simulate

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        mp.setenv("PATHWISE_DEMO_PASSWORD", PASSWORD)
        get_settings.cache_clear()
        try:
            simulate(
                learners=400,
                courses=60,
                days=21,
                seed=11,
                out=home / "landing" / "sim",
                fmt="parquet",
                start="2026-02-02",
                bad_share=0.01,  # like the demo: some events lost at the door, as on a real platform
            )
            nightly_flow(skip=["index"])
            demo_accounts()
            index_lesson(home)
        finally:
            get_settings.cache_clear()
    return home


@contextmanager
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The shared platform (built on first use) as PATHWISE_HOME, plain files, inside the block."""
    path = build(tmp_path_factory)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PATHWISE_HOME", str(path))
            mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
            get_settings.cache_clear()
            yield path
    finally:
        get_settings.cache_clear()


LESSON = """---
title: Before you start
---

## What you need before starting

You need a laptop with a web browser and about two hours a week. No programming experience is
required: the first module installs every tool step by step.

## How the course is graded

Each module ends with a short quiz. You pass the course with an average quiz score of 60 percent,
and you can retake every quiz as often as you like.
"""


def index_lesson(home: Path) -> str:
    """Index one short real lesson for the first catalog course (the Q&A page's content)."""
    from pathwise import snapshots
    from rag.content import load_documents
    from rag.store import index_documents

    con = snapshots.require_current().connect()
    try:
        course_id = con.execute("select min(course_id) from courses").fetchall()[0][0]
    finally:
        con.close()
    # A Markdown lesson's course is the folder holding `episodes/` (rag/content.py).
    lesson = home / "content" / course_id / "episodes" / "01-before-you-start.md"
    lesson.parent.mkdir(parents=True, exist_ok=True)
    lesson.write_text(LESSON)
    index_documents(load_documents([lesson.parent.parent]))
    return course_id


def ingested_alone(path: Path, tmp_path: Path, columns: str) -> list[tuple]:
    """`columns` of raw.events after the real door ingests one event file the app wrote into a
    fresh warehouse with the same pseudonym key (asserting it loaded whole)."""
    import duckdb

    from pathwise.ingestion import ingest_file

    settings = get_settings().model_copy(update={"home": tmp_path / "home"})
    result = ingest_file(path, settings)
    assert (result.loaded, result.quarantined) == (1, 0), result
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(f"select {columns} from raw.events").fetchall()
    finally:
        con.close()
