"""Offline evaluation of the recommender: what the nightly run would serve, against plain ALS.

Two protocols, both chronological and leak-free:

`evaluate` (`pathwise evaluate recs`): the nightly run's own choices, replayed in the past.

    |------------- train ---------------------|---- test ----|   test cut: the (1 - test_share)
    |------- fit -----------|--- validation --|                  quantile of enrolment times

  Everything a model sees is as of a cut. The configuration is tuned exactly as the nightly run
  tunes it (`ml.recommender.tuning.tune`) on the validation split inside the training period,
  then the served configuration and its baselines are scored once on the test split: popularity,
  plain ALS untuned (the shipped defaults) and tuned on the same validation split, the
  collaborative model alone, the blend with the versioned default weights, and the served list
  with each rule switched (what each rule costs). `folds` > 1 repeats it at earlier origins
  (rolling-origin cross-validation), each fold tuned on its own validation split.

`evaluate_served` (`pathwise evaluate recs --served`): the published snapshot's lists, as served,
  scored against the enrolments that happened after the data the nightly run saw, beside plain
  ALS trained on exactly that data (untuned, and with the parameters its tuning chose).

Relevant items: courses a learner enrols in after the cut that they had not taken before;
learners count when they had at least one interaction before the cut (warm learners: no
collaborative model knows the others).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import duckdb
import numpy as np
import polars as pl

from ml.metrics import METRICS, catalog_coverage, mean_at_k
from ml.recommender import ALS_PARAMS, Hybrid, RecData, Rules, default_weights
from ml.recommender.tuning import (
    K,
    RecConfig,
    cut_time,
    default_config,
    evaluate_ranker,
    metrics_row,
    rank_collaborative,
    rank_hybrid,
    rank_popularity,
    relevant_after,
    tune,
)
from pathwise import snapshots

Progress = Callable[[str, int], Callable[[], None]]


def evaluate(
    data: RecData,
    *,
    k: int = K,
    test_share: float = 0.2,
    val_share: float = 0.2,
    folds: int = 1,
    tune_config: bool = True,
    progress: Progress | None = None,
) -> dict:
    """The whole protocol; `folds` test windows of `test_share / folds` each, latest last."""
    t0 = time.perf_counter()
    width = test_share / folds
    origins = [cut_time(data, width * (folds - i)) for i in range(folds)]
    ends: list[datetime | None] = [*origins[1:], None]
    reports = [
        evaluate_fold(data, origin, end, k, val_share, tune_config, progress)
        for origin, end in zip(origins, ends, strict=True)
    ]
    last = reports[-1]
    report = {**last, "folds": reports if folds > 1 else [], "seconds": 0.0}
    if folds > 1:
        report["cv"] = {
            method: {
                "ndcg_mean": float(np.mean([r["results"][method]["ndcg"] for r in reports])),
                "ndcg_sd": float(np.std([r["results"][method]["ndcg"] for r in reports])),
            }
            for method in last["results"]
        }
        ratios = [r["gain"]["served_vs_als_tuned"] for r in reports]
        report["cv"]["served_vs_als_tuned"] = {
            "mean": float(np.mean(ratios)),
            "min": float(np.min(ratios)),
        }
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def evaluate_fold(
    data: RecData,
    test_cut: datetime,
    test_end: datetime | None,
    k: int,
    val_share: float,
    tune_config: bool,
    progress: Progress | None,
) -> dict:
    """Tune as the nightly run would on the data before `test_cut`, score on [test_cut, end)."""
    config = (
        tune(data, as_of=test_cut, k=k, val_share=val_share, progress=progress)
        if (tune_config)
        else default_config()
    )
    model = Hybrid(data, as_of=test_cut, algorithm=config.algorithm, params=config.params)
    truth = relevant_after(data, model, test_cut, test_end)
    results = served_and_ablations(model, truth, k, config)
    tuned_als = config.metrics.get("als_tuned_params", ALS_PARAMS)
    for name, params in (("als_untuned", ALS_PARAMS), ("als_tuned", tuned_als)):
        model.refit("als", params)
        results[name] = evaluate_ranker(
            lambda r, n: rank_collaborative(model, r, n), truth, k, len(model.course_ids)
        )
    return {
        "k": k,
        "results": results,
        "gain": gains(results),
        "config": json.loads(json.dumps(config.row(), default=str)) | {"id": config.config_id},
        "split": {
            "test_cut": str(test_cut),
            "test_end": str(test_end) if test_end else None,
            "test_learners": len(truth),
            "train_interactions": model.X.nnz,
            "courses": len(model.course_ids),
            "learners": len(model.learner_keys),
        },
    }


def served_and_ablations(
    model: Hybrid, truth: dict[int, set[int]], k: int, config: RecConfig
) -> dict[str, dict[str, float]]:
    """The served list, the collaborative model alone, popularity, the default-weights blend, and
    the served list with each rule switched (on where it is off, off where it is on)."""
    n = len(model.course_ids)

    def hybrid(weights: dict[str, float], rules: Rules) -> dict[str, float]:
        return evaluate_ranker(lambda r, m: rank_hybrid(model, r, m, weights, rules), truth, k, n)

    served_rules = config.rules
    switched = {
        "prerequisites": replace(served_rules, prerequisites=not served_rules.prerequisites),
        "difficulty_ceiling": replace(
            served_rules, difficulty_ceiling=not served_rules.difficulty_ceiling
        ),
        "diversity_cap": replace(
            served_rules,
            diversity_cap=None if served_rules.diversity_cap else Rules().diversity_cap,
        ),
    }
    results = {
        "popularity": evaluate_ranker(lambda r, m: rank_popularity(model, r, m), truth, k, n),
        f"{config.algorithm}_alone": evaluate_ranker(
            lambda r, m: rank_collaborative(model, r, m), truth, k, n
        ),
        "served": hybrid(config.weights, served_rules),
        "default_weights_all_rules": hybrid(default_weights(), Rules()),
    }
    for rule, rules in switched.items():
        state = "with" if getattr(rules, rule) else "without"
        results[f"served_{state}_{rule}"] = hybrid(config.weights, rules)
    return results


def gains(results: dict[str, dict[str, float]]) -> dict[str, float | None]:
    """NDCG of the served list over each baseline's (1.10 = 10% better)."""
    served = results["served"]["ndcg"]
    return {
        f"served_vs_{b}": served / results[b]["ndcg"] if results.get(b, {}).get("ndcg") else None
        for b in ("als_tuned", "als_untuned", "popularity")
    }


# -- the served table ------------------------------------------------------------------------------


def evaluate_served(
    con: duckdb.DuckDBPyConnection, data: RecData, snap: snapshots.Snapshot, k: int = K
) -> dict:
    """The snapshot's top-k lists against the enrolments after the data its nightly run saw,
    beside plain ALS (untuned; tuned as the run's tuning chose) and popularity on that data."""
    if "recommendation_model" not in snap.tables:
        raise snapshots.SnapshotError(
            f"snapshot {snap.version} does not say what data it was trained on: publish a new one "
            "(`pathwise nightly`)."
        )
    reader = snap.connect()
    try:
        served = reader.sql(
            f"select learner_key, course_id, rank from recommendations where rank <= {int(k)}"
        ).pl()
        row = reader.sql("select * from recommendation_model").pl().row(0, named=True)
    finally:
        reader.close()
    seen_until = row["data_until"]
    as_of = seen_until + timedelta(microseconds=1)  # exactly the events the nightly run saw
    tuned_als = json.loads(row["validation"]).get("als_tuned_params", ALS_PARAMS)
    model = Hybrid(data, as_of=as_of, algorithm="als", params=ALS_PARAMS)
    truth = relevant_after(data, model, as_of)
    if not truth:
        raise RuntimeError(
            f"No enrolments after {seen_until} (the data snapshot {snap.version} was trained on): "
            "ingest later events first (e.g. `pathwise import coco ... --holdout-share 0.2`, the "
            "nightly run, then `pathwise ingest <out>/holdout`)."
        )
    lists = (
        served.filter(pl.col("course_id").is_in(model.course_ids))
        .sort("learner_key", "rank")
        .group_by("learner_key", maintain_order=True)
        .agg("course_id")
    )
    ranked = {
        model.lidx[key]: [model.cidx[c] for c in courses]
        for key, courses in lists.iter_rows()
        if key in model.lidx and model.lidx[key] in truth
    }
    n = len(model.course_ids)
    results = {"served": mean_at_k({r: ranked.get(r, []) for r in truth}, truth, k)}
    results["served"]["coverage"] = catalog_coverage(ranked.values(), n, k)
    results["popularity"] = evaluate_ranker(lambda r, m: rank_popularity(model, r, m), truth, k, n)
    for name, params in (("als_untuned", ALS_PARAMS), ("als_tuned", tuned_als)):
        model.refit("als", params)
        results[name] = evaluate_ranker(lambda r, m: rank_collaborative(model, r, m), truth, k, n)
    return {
        "k": k,
        "snapshot": snap.version,
        "model_version": row["model_version"],
        "config_id": row["config_id"],
        "data_until": str(seen_until),
        "results": results,
        "gain": gains(results),
        "split": {
            "test_learners": len(truth),
            "served_learners_without_a_list": sum(r not in ranked for r in truth),
            "courses": n,
        },
    }


# -- reporting ------------------------------------------------------------------------------------


def rows_for_evaluations(report: dict) -> list[dict]:
    """Long rows ({method, metric, k, value}) for `pathwise.results.record_evaluation`."""
    return [
        row
        for method, metrics in report["results"].items()
        for row in metrics_row(method, metrics, report["k"])
    ]


def render(dataset: str, report: dict) -> str:
    """A small text table for the terminal."""
    k, split = report["k"], report["split"]
    where = f"after {split['test_cut']}" if "test_cut" in split else f"after {report['data_until']}"
    lines = [
        f"{dataset}: {split['test_learners']} test learners, {split['courses']} courses, "
        f"enrolments {where}",
        f"{'method':<40}"
        + "".join(f"{m + '@' + str(k):>14}" for m in METRICS)
        + f"{'coverage':>10}",
    ]
    for method, r in report["results"].items():
        lines.append(
            f"{method:<40}" + "".join(f"{r[m]:>14.4f}" for m in METRICS) + f"{r['coverage']:>10.3f}"
        )
    for name, ratio in report["gain"].items():
        lines.append(f"{name.replace('_', ' ')}: {ratio:.3f}x NDCG@{k}" if ratio else f"{name}: -")
    if "cv" in report:
        cv = report["cv"]["served_vs_als_tuned"]
        lines.append(
            f"rolling-origin CV, {len(report['folds'])} folds: served vs tuned ALS "
            f"{cv['mean']:.3f}x on average, {cv['min']:.3f}x at worst"
        )
    config = report.get("config")
    if config:
        lines.append(
            f"config {config['id']} ({config['source']}): {config['algorithm']} {config['params']}"
            f", rules {config['rules']}"
        )
        lines.append(f"weights {config['weights']}")
    return "\n".join(lines)


def evaluate_and_record(
    dataset: str | None,
    *,
    k: int = K,
    tune_config: bool = True,
    folds: int = 1,
    served: bool = False,
) -> dict:
    """Evaluate from the warehouse with progress bars; store the figures in ml.evaluations."""
    from rich.progress import Progress as Bars

    from ml.recommender import load_data
    from pathwise.results import record_evaluation
    from pathwise.warehouse import connect

    with connect(read_only=True) as con:
        data = load_data(con, dataset)
        if served:
            report = evaluate_served(con, data, snapshots.require_current(), k)
    if not served:
        with Bars(transient=True) as bars:

            def progress(label: str, total: int) -> Callable[[], None]:
                task = bars.add_task(f"{dataset or 'all'}: {label}", total=total)
                return lambda: bars.advance(task)

            report = evaluate(data, k=k, tune_config=tune_config, folds=folds, progress=progress)
    with connect() as con:
        report["evaluation_id"] = record_evaluation(
            con,
            kind="recs_served" if served else "recs",
            dataset=dataset or "all",
            model_version=report.get("model_version") or f"hybrid-{report['config']['id']}",
            rows=rows_for_evaluations(report),
            params={key: v for key, v in report.items() if key not in ("results",)},
        )
    return report
