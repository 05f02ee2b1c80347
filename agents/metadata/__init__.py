"""The course metadata & quality agent (issue 16): suggested skill tags, difficulty, prerequisites
and durations for new or changed catalog courses, into the review queue; and each course's
standing among its 10 most similar courses (agents/metadata/benchmark.py).

    pathwise agents run metadata      # suggest for new/changed courses, copy the accepted ones
    flows/nightly.py                  # the same in the `agents` step; benchmarks before publish

A course is new or changed when the fingerprint of its text (title, description, module titles,
difficulty) differs from the one its newest suggestions were made from (pathwise/metadata_queue.py).
Suggestions wait for an instructor or admin; only accepted ones reach the catalog marts, at the
next build (`load_accepted` copies them into the warehouse here and at each nightly ingest).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from pathwise.metadata_queue import MetadataQueue, load_accepted
from pathwise.outbox import Outbox
from pathwise.settings import get_settings

log = logging.getLogger("pathwise.agents.metadata")
AGENT = "metadata"


def suggest_changed(
    con: duckdb.DuckDBPyConnection,
    queue: MetadataQueue,
    shared_data: Path | None = None,
    course_ids: list[str] | None = None,
) -> dict:
    """Queue suggestions for the courses whose text changed since their last suggestions (or
    the ones named); returns counts."""
    from agents.metadata.suggest import read_catalog, suggest, train

    started = time.perf_counter()
    catalog = read_catalog(con)
    seen = queue.fingerprints()
    changed = [
        cid
        for cid, fp in catalog.courses.select("course_id", "fingerprint").iter_rows()
        if (course_ids is None or cid in course_ids) and seen.get(cid) != fp
    ]
    counts = {"courses": catalog.courses.height, "changed": len(changed), "proposed": 0,
              "auto_accepted": 0, "superseded": 0}  # fmt: skip
    if changed:
        models = train(catalog, shared_data)
        for course_id, (fingerprint, found) in suggest(catalog, models, changed).items():
            for key, n in queue.propose(course_id, found, fingerprint=fingerprint).items():
                counts[key] += n
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


def run(
    con: duckdb.DuckDBPyConnection,
    outbox: Outbox | None = None,
    route: Callable[[str], str] | None = None,
    now: datetime | None = None,
) -> dict:
    """The agent registry's entry (agents/run.py): suggest for new or changed courses, then copy
    the accepted suggestions into the warehouse for the next build. Sends no messages."""
    queue = MetadataQueue()
    shared = get_settings().shared_data
    summary = suggest_changed(con, queue, shared if shared.exists() else None)
    summary |= load_accepted(con, queue)
    log.info("metadata agent: %s", summary)
    return summary
