"""The nightly job: train on the whole warehouse, rank every learner, explain, write the ml tables.

ml.recommendations             learner_key, course_id, rank, score, contrib_<signal>..., boost,
                               reason, reason_courses, reason_skills, reason_role, format_first,
                               model_version, generated_at (50 candidates per learner)
ml.recommendations_cold_start  the list for learners we know nothing about
ml.recommendation_signals      the signals that made them: name, label, description, default
                               and in-force weight (what the Control Tower's sliders show)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import duckdb
import numpy as np
import polars as pl

from ml.recommender.data import RecData, load_data
from ml.recommender.model import Hybrid
from ml.recommender.ranking import (
    DIVERSITY_CAP,
    block_rows,
    control_vectors,
    diversified,
    rank,
    top_n,
)
from ml.recommender.reasons import explain, known_format
from ml.recommender.signals import default_weights, registered
from pathwise.controls import CourseControl, InForce, resolve_weights
from pathwise.results import replace_table

# The version of the signals' default weights: the best shared weights on the validation splits
# (earlier interactions only) of the simulator and COCO: of the 768 grid points of `pathwise
# evaluate recs`, the one with the highest worst case (97.3% and 99.1% of each split's own best
# NDCG@10; COCO has no target roles, quizzes or passes, so skill_gap and level_fit are 0 there).
WEIGHTS_VERSION = "2026.11-3"


def model_version(algorithm: str, weights: Mapping[str, float]) -> str:
    """e.g. 'hybrid-als-2026.11-3', plus a weights hash when admins changed the defaults."""
    version = f"hybrid-{algorithm}-{WEIGHTS_VERSION}"
    if dict(weights) != default_weights():
        digest = hashlib.sha256(json.dumps(weights, sort_keys=True).encode()).hexdigest()[:6]
        version += f"+w{digest}"
    return version


def train_and_recommend(
    con: duckdb.DuckDBPyConnection,
    *,
    in_force: InForce | None = None,
    weights: Mapping[str, float] | None = None,
    algorithm: str = "als",
    candidates: int = 50,
    params: Mapping | None = None,
    data: RecData | None = None,
) -> dict:
    """Train on the whole warehouse and write the ml tables; returns counts, timings and the
    model version. `in_force` (the controls store's answer for now) gives the admins' boosts,
    suppressions and weights; `weights` overrides on top of those (evaluations, tests)."""
    t_all = time.perf_counter()
    defaults = default_weights()
    w = resolve_weights(in_force.weights(defaults) if in_force else defaults, weights)
    controls = in_force.controls if in_force else ()
    version = model_version(algorithm, w)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    data = data or load_data(con)
    load_s = time.perf_counter() - t0
    hybrid = Hybrid(data, algorithm=algorithm, params=params)

    t0 = time.perf_counter()
    stamp = {"model_version": pl.lit(version), "generated_at": pl.lit(now)}
    recs = recommend_all(hybrid, candidates, w, controls=controls).with_columns(**stamp)
    cold = cold_start(hybrid, candidates, w, controls=controls).with_columns(**stamp)
    score_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_recs = replace_table(con, "recommendations", recs)
    n_cold = replace_table(con, "recommendations_cold_start", cold)
    replace_table(con, "recommendation_signals", signals_table(w, version, now))
    write_s = time.perf_counter() - t0
    return {
        "model_version": version,
        "weights": w,
        "algorithm": algorithm,
        "learners": len(hybrid.learner_keys),
        "learners_with_recommendations": recs["learner_key"].n_unique(),
        "courses": len(hybrid.course_ids),
        "interactions": hybrid.X.nnz,
        "recommendations": n_recs,
        "cold_start": n_cold,
        "controls_applied": len(controls),
        "timings_s": {
            "load": round(load_s, 2),
            "prepare": round(hybrid.timings["prepare_s"], 2),
            "train": round(hybrid.timings["train_s"], 2),
            "score": round(score_s, 2),
            "write": round(write_s, 2),
            "total": round(time.perf_counter() - t_all, 2),
        },
    }


def signals_table(weights: Mapping[str, float], version: str, now: datetime) -> pl.DataFrame:
    """One row per signal: what it is and the weight it was blended with."""
    return pl.DataFrame(
        [
            {
                "signal": cls.name,
                "position": i,
                "label": cls.label,
                "description": cls.description,
                "default_weight": float(cls.default_weight),
                "weight": float(weights[cls.name]),
                "model_version": version,
                "generated_at": now,
            }
            for i, cls in enumerate(registered(), 1)
        ]
    )


def recommend_all(
    hybrid: Hybrid,
    n: int,
    weights: Mapping[str, float],
    *,
    controls: Iterable[CourseControl] = (),
) -> pl.DataFrame:
    """Ranked rows with contributions, reasons and format for every learner, block by block."""
    controls = list(controls)
    names = list(hybrid.signals)
    frames = []
    block = block_rows(len(hybrid.course_ids))
    for start in range(0, len(hybrid.learner_keys), block):
        rows = np.arange(start, min(start + block, len(hybrid.learner_keys)))
        top, contrib, boost = rank(hybrid, rows, n, weights, controls=controls)
        r, k = np.nonzero(top >= 0)
        frames.append(
            pl.DataFrame(
                {
                    "l": rows[r],
                    "c": top[r, k].astype(np.uint32),
                    "rank": (k + 1).astype(np.int32),
                    **{f"contrib_{s}": contrib[s][r, k].astype(np.float64) for s in names},
                    "boost": boost[r, k].astype(np.float64),
                }
            )
        )
    # Padding (-1) only ever ends a row (`blend` puts ineligible courses last), so the ranks
    # of the kept entries are 1..n without holes.
    empty = pl.DataFrame(
        schema={"l": pl.Int64, "c": pl.UInt32, "rank": pl.Int32}
        | {f"contrib_{s}": pl.Float64 for s in names}
        | {"boost": pl.Float64}
    )
    return explain(hybrid, pl.concat([empty, *frames]))


def cold_start(
    hybrid: Hybrid,
    n: int,
    weights: Mapping[str, float],
    *,
    controls: Iterable[CourseControl] = (),
) -> pl.DataFrame:
    """The list for learners we know nothing about: trending courses a beginner can start
    (no prerequisites, not advanced), diversified, with the controls applied."""
    blocked, boost = control_vectors(hybrid, controls)
    ok = (hybrid.n_prereqs == 0) & (hybrid.difficulty <= 2) & ~blocked
    pop = weights.get("popularity", 0.0) * hybrid.popularity
    score = np.where(ok, pop + boost, -np.inf)[None, :]
    top = top_n(score, 2 * n)
    top = diversified(top, hybrid.category, DIVERSITY_CAP, np.isfinite(score[:, top[0]]))[0, :n]
    top = top[np.isfinite(score[0, top])]
    contrib = {f"contrib_{s}": np.zeros(len(top)) for s in hybrid.signals}
    contrib["contrib_popularity"] = pop[top].astype(np.float64)
    return (
        pl.DataFrame(
            {
                "c": top.astype(np.uint32),
                "rank": np.arange(1, len(top) + 1, dtype=np.int32),
                **contrib,
                "boost": boost[top].astype(np.float64),
            }
        )
        .join(
            hybrid.courses.select(pl.col("c").cast(pl.UInt32), "course_id", "primary_format"),
            on="c",
        )
        .sort("rank")
        .select(
            "course_id",
            "rank",
            score=pl.sum_horizontal(*contrib, "boost"),
            **{k: pl.col(k) for k in contrib},
            boost="boost",
            reason=pl.lit(hybrid.popularity_label),
            reason_courses=pl.lit([], pl.List(pl.String)),
            reason_skills=pl.lit([], pl.List(pl.String)),
            reason_role=pl.lit(None, pl.String),
            format_first=known_format("primary_format"),
        )
    )
