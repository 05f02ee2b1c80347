"""The next step of a learner's path, first in their list: "Next step of your path to Data Analysts".

A learner who planned a path (`pathwise/learning_paths.py`, planned by `agents/paths/`) asked for
it, so its next step leads their list: the first step they have not completed (the stored path is
re-planned after the recommender runs, so a step finished since may still be in it). It is a pin,
not a signal: it is placed at rank 1 only where the rules and the controls allow the course for
that learner (not taken, prerequisites met, not suppressed), and keeps its own contributions, so
its score still adds up and only its place and its reason come from the path. A step the learner
is already enrolled in is not pinned (they are on it). Learners without a path are unaffected.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from ml.recommender.model import Hybrid
from ml.recommender.reasons import NO_NAMES
from pathwise.learning_paths import PathStore
from pathwise.settings import get_settings

REASON = "Next step of your path to {}"


def stored_paths() -> dict[str, tuple[list[str], str]]:
    """learner_key -> (the path's course ids in order, its role), from the path store (none
    when no path was ever planned: the store's file is not created for this)."""
    if not get_settings().learning_paths_path.exists():
        return {}
    store = PathStore()
    try:
        return {
            lk: ([s["course_id"] for s in path["steps"]], path["goal"]["role"])
            for lk, _, path in store.planned()
        }
    finally:
        store.close()


def next_steps(
    model: Hybrid, paths: Mapping[str, tuple[list[str], str]]
) -> tuple[np.ndarray, pl.DataFrame]:
    """Per learner row, the course index of their path's next step (-1: none), and the
    (learner_key, course_id, path_role) of every next step (for the reason)."""
    pins = np.full(len(model.learner_keys), -1, dtype=np.int64)
    completed = set(
        model.pairs.filter(pl.col("completed")).select("learner_key", "course_id").iter_rows()
    )
    found = []
    for lk, (steps, role) in paths.items():
        row = model.lidx.get(lk)
        step = next((c for c in steps if (lk, c) not in completed), None)
        if row is None or step not in model.cidx:
            continue
        pins[row] = model.cidx[step]
        found.append((lk, step, role))
    schema = {"learner_key": pl.String, "course_id": pl.String, "path_role": pl.String}
    return pins, pl.DataFrame(found, schema=schema, orient="row")


def with_path_reasons(recs: pl.DataFrame, steps: pl.DataFrame) -> pl.DataFrame:
    """Explained rows -> the next steps placed first say so (the other parts of the reason, and
    the courses and skills they named, give way to it; the path's role is the reason's role)."""
    pinned = pl.col("path_role").is_not_null() & (pl.col("rank") == 1)
    return (
        recs.join(steps, on=["learner_key", "course_id"], how="left", maintain_order="left")
        .with_columns(
            reason=pl.when(pinned)
            .then(pl.lit(REASON.format("")) + pl.col("path_role"))
            .otherwise("reason"),
            reason_courses=pl.when(pinned).then(NO_NAMES).otherwise("reason_courses"),
            reason_skills=pl.when(pinned).then(NO_NAMES).otherwise("reason_skills"),
            reason_role=pl.when(pinned).then("path_role").otherwise("reason_role"),
        )
        .drop("path_role")
    )
