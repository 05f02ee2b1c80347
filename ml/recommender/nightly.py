"""The nightly job: choose what to serve, train on the whole warehouse, rank, explain, write.

ml.recommendations             learner_key, course_id, rank, score, contrib_<signal>..., boost,
                               reason, reason_courses, reason_skills, reason_role, format_first,
                               model_version, generated_at (50 candidates per learner; learners
                               who objected to personalization get the cold-start list, saying so)
ml.recommendations_cold_start  the list for learners we know nothing about
ml.recommendation_signals      the signals that made them: name, label, description, tuned and
                               in-force weight (what the Control Tower's sliders show)
ml.recommendation_model        the configuration served: model, parameters, rules, tuned weights,
                               whether admins override them, the validation figures behind it
ml.recommender_configs         every configuration tuned so far (`ml/recommender/tuning.py`)
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import duckdb
import numpy as np
import polars as pl

from ml.recommender import tuning
from ml.recommender.data import RecData, load_data, load_opted_out
from ml.recommender.model import Hybrid
from ml.recommender.path_step import next_steps, stored_paths, with_path_reasons
from ml.recommender.ranking import (
    ALL_RULES,
    Rules,
    block_rows,
    control_vectors,
    diversified,
    rank,
    top_n,
)
from ml.recommender.reasons import explain, known_format
from ml.recommender.signals import default_weights, registered
from ml.recommender.tuning import RecConfig
from pathwise.controls import CourseControl, InForce, resolve_weights
from pathwise.results import replace_table

log = logging.getLogger("pathwise.recommender")

# The version of the signals' default weights, served only where the data is too small to tune on:
# the best shared weights on the validation splits of the simulator and COCO (2026.11).
WEIGHTS_VERSION = "2026.11-3"


def model_version(config: RecConfig, weights: Mapping[str, float]) -> str:
    """e.g. 'hybrid-ease-3f9a1c', plus a weights hash when admins changed the tuned weights."""
    version = f"hybrid-{config.config_id}"
    if config.source == "defaults":
        version = f"hybrid-{config.algorithm}-{WEIGHTS_VERSION}"
    if dict(weights) != {**default_weights(), **config.weights}:
        digest = hashlib.sha256(json.dumps(weights, sort_keys=True).encode()).hexdigest()[:6]
        version += f"+w{digest}"
    return version


def choose_config(con: duckdb.DuckDBPyConnection, data: RecData) -> RecConfig:
    """The latest tuned configuration while it still fits the data, else a new one tuned now
    (and saved); the versioned defaults when the data is too small to tune on."""
    latest = tuning.latest_config(con)
    if latest is not None and tuning.is_current(latest, tuning.fingerprint(data)):
        return latest
    try:
        config = tuning.tune(data)
    except tuning.TooLittleData as exc:
        log.info("serving the default configuration: %s", exc)
        return tuning.default_config()
    tuning.save_config(con, config)
    log.info("tuned %s in %ss: %s", config.config_id, config.metrics["seconds"], config.metrics)
    return config


def train_and_recommend(
    con: duckdb.DuckDBPyConnection,
    *,
    in_force: InForce | None = None,
    weights: Mapping[str, float] | None = None,
    config: RecConfig | None = None,
    candidates: int = 50,
    data: RecData | None = None,
    paths: Mapping[str, tuple[list[str], str]] | None = None,
) -> dict:
    """Train on the whole warehouse and write the ml tables; returns counts, timings and the
    model version.

    `config` (default: `choose_config`) gives the model, its parameters, the rules and the tuned
    weights; `in_force` (the controls store's answer for now) the admins' boosts, suppressions and
    saved weights, which override the tuned ones; `weights` overrides on top (tests). `paths`
    (default: the path store's) put each learner's next path step first (`path_step.py`)."""
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    data = data or load_data(con)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    config = config or choose_config(con, data)
    tune_s = time.perf_counter() - t0
    tuned = {**default_weights(), **config.weights}
    w = resolve_weights(in_force.weights(tuned) if in_force else tuned, weights)
    controls = in_force.controls if in_force else ()
    version = model_version(config, w)
    now = datetime.now(UTC)
    hybrid = Hybrid(data, algorithm=config.algorithm, params=config.params)

    t0 = time.perf_counter()
    stamp = {"model_version": pl.lit(version), "generated_at": pl.lit(now)}
    paths = stored_paths() if paths is None else paths
    recs = recommend_all(hybrid, candidates, w, controls=controls, rules=config.rules, paths=paths)
    cold = cold_start(hybrid, candidates, w, controls=controls, rules=config.rules)
    opted_out = load_opted_out(con)
    recs = pl.concat(
        [recs.filter(~pl.col("learner_key").is_in(opted_out)), not_personalized(cold, opted_out)]
    )
    recs, cold = recs.with_columns(**stamp), cold.with_columns(**stamp)
    score_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_recs = replace_table(con, "recommendations", recs)
    n_cold = replace_table(con, "recommendations_cold_start", cold)
    replace_table(con, "recommendation_signals", signals_table(tuned, w, version, now))
    served = model_table(config, w, version, now, tuning.fingerprint(data)["data_until"])
    replace_table(con, "recommendation_model", served)
    write_s = time.perf_counter() - t0
    return {
        "model_version": version,
        "config_id": config.config_id,
        "config_source": config.source,
        "weights": w,
        "algorithm": config.algorithm,
        "rules": config.rules.as_dict(),
        "learners": len(hybrid.learner_keys),
        "learners_with_recommendations": recs["learner_key"].n_unique(),
        "learners_not_personalized": len(opted_out),
        "learners_with_path": len(paths),
        "courses": len(hybrid.course_ids),
        "interactions": hybrid.X.nnz,
        "recommendations": n_recs,
        "cold_start": n_cold,
        "controls_applied": len(controls),
        "timings_s": {
            "load": round(load_s, 2),
            "tune": round(tune_s, 2),
            "prepare": round(hybrid.timings["prepare_s"], 2),
            "train": round(hybrid.timings["train_s"], 2),
            "score": round(score_s, 2),
            "write": round(write_s, 2),
            "total": round(time.perf_counter() - t_all, 2),
        },
    }


def model_table(
    config: RecConfig,
    weights: Mapping[str, float],
    version: str,
    now: datetime,
    data_until: datetime | None,
) -> pl.DataFrame:
    """One row: the configuration served tonight and whether admins override its weights."""
    tuned = {**default_weights(), **config.weights}
    return pl.DataFrame(
        [
            {
                "model_version": version,
                "config_id": config.config_id,
                "config_source": config.source,
                "algorithm": config.algorithm,
                "params": json.dumps(config.params, sort_keys=True),
                "rules": json.dumps(config.rules.as_dict(), sort_keys=True),
                "tuned_weights": json.dumps(tuned, sort_keys=True),
                "weights": json.dumps(dict(weights), sort_keys=True),
                "weights_overridden": dict(weights) != tuned,
                "validation": json.dumps(config.metrics, sort_keys=True, default=str),
                "tuned_at": config.tuned_at,
                "data_until": data_until,
                "generated_at": now,
            }
        ]
    )


def signals_table(
    tuned: Mapping[str, float], weights: Mapping[str, float], version: str, now: datetime
) -> pl.DataFrame:
    """One row per signal: what it is, its tuned weight and the weight it was blended with."""
    return pl.DataFrame(
        [
            {
                "signal": cls.name,
                "position": i,
                "label": cls.label,
                "description": cls.description,
                "default_weight": float(tuned[cls.name]),
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
    rules: Rules = ALL_RULES,
    paths: Mapping[str, tuple[list[str], str]] | None = None,
) -> pl.DataFrame:
    """Ranked rows with contributions, reasons and format for every learner, block by block;
    with `paths` (learner_key -> path course ids, role), each one's next step first."""
    controls = list(controls)
    pins, steps = next_steps(hybrid, paths or {})
    names = list(hybrid.signals)
    frames = []
    block = block_rows(len(hybrid.course_ids))
    for start in range(0, len(hybrid.learner_keys), block):
        rows = np.arange(start, min(start + block, len(hybrid.learner_keys)))
        top, contrib, boost = rank(
            hybrid, rows, n, weights, controls=controls, rules=rules, pins=pins[rows]
        )
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
    return with_path_reasons(explain(hybrid, pl.concat([empty, *frames])), steps)


def cold_start(
    hybrid: Hybrid,
    n: int,
    weights: Mapping[str, float],
    *,
    controls: Iterable[CourseControl] = (),
    rules: Rules = ALL_RULES,
) -> pl.DataFrame:
    """The list for learners we know nothing about: trending courses a beginner can start
    (no prerequisites, not advanced), diversified, with the controls applied."""
    blocked, boost = control_vectors(hybrid, controls)
    ok = (hybrid.n_prereqs == 0) & (hybrid.difficulty <= 2) & ~blocked
    pop = weights.get("popularity", 0.0) * hybrid.popularity
    score = np.where(ok, pop + boost, -np.inf)[None, :]
    top = top_n(score, 2 * n)
    if rules.diversity_cap:
        valid = np.isfinite(score[:, top[0]])
        top = diversified(top, hybrid.category, rules.diversity_cap, valid)
    top = top[0, :n]
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


NOT_PERSONALIZED = "Not personalized, as you asked: {}"


def not_personalized(cold: pl.DataFrame, learner_keys: list[str]) -> pl.DataFrame:
    """The cold-start list for each learner who objected to personalization, its reason saying
    so: the same courses in the same order as anyone's, ranked on nothing of theirs."""
    keys = pl.DataFrame({"learner_key": learner_keys}, schema={"learner_key": pl.String})
    first = cold["reason"][0] if cold.height else ""
    reason = NOT_PERSONALIZED.format(first[:1].lower() + first[1:])
    return keys.join(cold.with_columns(reason=pl.lit(reason)), how="cross").sort(
        "learner_key", "rank"
    )
