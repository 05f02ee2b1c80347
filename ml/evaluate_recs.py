"""Offline evaluation of the recommender: the hybrid against popularity and tuned plain ALS.

Chronological, leak-free protocol (the same for the simulator and COCO):

    |------------- train ----------------|---- test ----|     test cut: the (1 - test_share)
    |------- fit -------|--- validation --|                    quantile of enrolment times
                                                              validation cut: same, within train

- Everything a model sees is as of a cut: interactions, completions, levels, skill gaps and
  popularity are rebuilt from events before it (`Hybrid(as_of=...)`).
- Relevant items: courses a learner enrols in after the cut that they had not taken before.
  Learners count when they had at least one interaction before the cut (warm learners: plain
  ALS knows nothing of the others) and one such enrolment after it.
- Every method ranks the same candidates: courses not yet enrolled in or completed.
- Tuning on the validation split only: plain ALS's factors, regularization and confidence
  alpha, then the hybrid's blend weights (with those ALS factors). The test split is scored once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import numpy as np
import polars as pl

from ml.metrics import METRICS, catalog_coverage, mean_at_k
from ml.recommender import (
    ALS_PARAMS,
    WEIGHTS_VERSION,
    Hybrid,
    RecData,
    blend,
    block_rows,
    default_weights,
    eligible,
    rank,
    signal_scores,
    top_n,
)
from ml.recommender.signals import registered

ALS_GRID = {
    "factors": (32, 64, 128),
    "regularization": (0.01, 0.1, 1.0, 10.0, 30.0, 100.0),
    "alpha": (0.3, 1.0, 10.0, 40.0, 100.0),
}


def weight_grid() -> dict[str, tuple[float, ...]]:
    """The blend weights tried on the validation split: each registered signal's own grid."""
    return {cls.name: tuple(cls.grid) for cls in registered()}


# Validation learners scored per grid point (beyond it, a fixed random sample). All of COCO's
# 3,858: a 2,000 sample flipped the chosen weights between two orders of the same learners.
TUNE_LEARNERS = 5000


def cut_time(data: RecData, share: float, before: datetime | None = None) -> datetime:
    """The time after which the last `share` of enrolments (before `before`) happen."""
    at = data.events.filter(pl.col("kind") == "enroll")["at"]
    if before is not None:
        at = at.filter(at < before)
    if at.len() < 10:
        raise RuntimeError("Too few enrolments to split chronologically (need at least 10).")
    return at.sort()[int(at.len() * (1 - share))]


def relevant_after(
    data: RecData, hybrid: Hybrid, start: datetime, end: datetime | None
) -> dict[int, set[int]]:
    """learner row -> course columns first enrolled in within [start, end), warm learners only."""
    ev = data.events.filter((pl.col("kind") == "enroll") & (pl.col("at") >= start))
    if end is not None:
        ev = ev.filter(pl.col("at") < end)
    cidx = {c: i for i, c in enumerate(hybrid.course_ids)}
    warm = set(np.flatnonzero(np.diff(hybrid.X.indptr) > 0).tolist())
    truth: dict[int, set[int]] = {}
    for key, course in ev.select("learner_key", "course_id").unique().iter_rows():
        r, c = hybrid.lidx.get(key), cidx.get(course)
        if r is None or c is None or r not in warm or hybrid.taken[r, c]:
            continue
        truth.setdefault(r, set()).add(c)
    return truth


def _lists(top: np.ndarray, rows: Sequence[int]) -> dict[int, list[int]]:
    return {r: [c for c in t if c >= 0] for r, t in zip(rows, top.tolist(), strict=True)}


def rank_popularity(hybrid: Hybrid, rows: np.ndarray, k: int) -> np.ndarray:
    ok = eligible(hybrid, rows, rules=False)
    return top_n(np.where(ok, hybrid.popularity[None, :], -np.inf), k)


def rank_als(hybrid: Hybrid, rows: np.ndarray, k: int) -> np.ndarray:
    ok = eligible(hybrid, rows, rules=False)
    raw = hybrid.user_factors[rows] @ hybrid.item_factors.T
    return top_n(np.where(ok, raw, -np.inf), k)


def rank_hybrid(
    hybrid: Hybrid, rows: np.ndarray, k: int, weights: Mapping[str, float]
) -> np.ndarray:
    return rank(hybrid, rows, k, weights)[0]


def rank_unchecked(
    hybrid: Hybrid, rows: np.ndarray, k: int, weights: Mapping[str, float]
) -> np.ndarray:
    """The hybrid without the prerequisite rule (an ablation, never served)."""
    ok = eligible(hybrid, rows, prerequisites=False)
    return blend(hybrid, signal_scores(hybrid, rows, ok), ok, weights, k)[0]


def rank_strict(
    hybrid: Hybrid, rows: np.ndarray, k: int, weights: Mapping[str, float]
) -> np.ndarray:
    """The hybrid with prerequisites met only by passing them (no waivers; an ablation)."""
    ok = eligible(hybrid, rows, waivers=False)
    return blend(hybrid, signal_scores(hybrid, rows, ok), ok, weights, k)[0]


def score(
    ranker: Callable[[np.ndarray, int], np.ndarray],
    truth: Mapping[int, set[int]],
    k: int,
    n_courses: int,
) -> dict[str, float]:
    rows = np.array(sorted(truth), dtype=np.int64)
    b = block_rows(n_courses)
    top = np.concatenate([ranker(rows[i : i + b], k) for i in range(0, len(rows), b)])
    lists = _lists(top, rows.tolist())
    out = mean_at_k(lists, truth, k)
    out["coverage"] = catalog_coverage(lists.values(), n_courses, k)
    return out


def tune_als(hybrid: Hybrid, truth: Mapping[int, set[int]], k: int, progress=None) -> dict:
    """Grid search of plain ALS on the validation split; returns the best params and NDCG."""
    best: dict = {"ndcg": -1.0}
    for factors, reg, alpha in itertools.product(*ALS_GRID.values()):
        params = {**ALS_PARAMS, "factors": factors, "regularization": reg, "alpha": alpha}
        hybrid.refit("als", params)
        ndcg = score(lambda r, n: rank_als(hybrid, r, n), truth, k, len(hybrid.course_ids))["ndcg"]
        if ndcg > best["ndcg"]:
            best = {"params": params, "ndcg": ndcg}
        if progress:
            progress()
    return best


def tune_weights(hybrid: Hybrid, truth: Mapping[int, set[int]], k: int, progress=None) -> dict:
    """Grid search of the blend weights on the validation split (signals computed once).

    A signal that is 0 for every validation learner (COCO has no target roles, quizzes or
    passes) cannot change a list: it keeps its first grid value instead of multiplying the grid.
    """
    rows = np.array(sorted(truth, key=lambda r: hybrid.learner_keys[r]), dtype=np.int64)
    rng = np.random.default_rng(0)
    if len(rows) > TUNE_LEARNERS:  # the same learners whatever order they were loaded in
        rows = rng.choice(rows, TUNE_LEARNERS, replace=False)
    rows = np.sort(rows)
    ok = eligible(hybrid, rows)
    sig = signal_scores(hybrid, rows, ok)
    sub = {r: truth[r] for r in rows.tolist()}
    full = weight_grid()
    grid = {s: values if sig[s].any() else values[:1] for s, values in full.items()}
    step = _grid_size(full) // _grid_size(grid)  # progress: the skipped points too
    best: dict = {"ndcg": -1.0, "grid": []}
    for values in itertools.product(*grid.values()):
        weights = dict(zip(grid, values, strict=True))
        top = blend(hybrid, sig, ok, weights, k)[0]
        ndcg = mean_at_k(_lists(top, rows.tolist()), sub, k)["ndcg"]
        best["grid"].append([*values, ndcg])
        if ndcg > best["ndcg"] + 1e-12:
            best.update(weights=weights, ndcg=ndcg)
        for _ in range(step if progress else 0):
            progress()
    return best


def evaluate(
    data: RecData,
    *,
    k: int = 10,
    test_share: float = 0.2,
    val_share: float = 0.2,
    tune: bool = True,
    progress: Callable[[str, int], Callable[[], None]] | None = None,
) -> dict:
    """Run the whole protocol; returns per-method metrics on the test split and what was chosen."""
    t0 = time.perf_counter()
    test_cut = cut_time(data, test_share)
    val_cut = cut_time(data, val_share, before=test_cut)

    # Validation: fit on events before val_cut, judge on enrolments in [val_cut, test_cut).
    val = Hybrid(data, as_of=val_cut)
    val_truth = relevant_after(data, val, val_cut, test_cut)
    if tune:
        als = tune_als(val, val_truth, k, progress and progress("ALS grid", _grid_size(ALS_GRID)))
        val.refit("als", als["params"])
        tuned = tune_weights(
            val, val_truth, k, progress and progress("weights grid", _grid_size(weight_grid()))
        )
    else:
        als = {"params": dict(ALS_PARAMS), "ndcg": None}
        tuned = {"weights": default_weights(), "ndcg": None}
    defaults = default_weights()
    default_val = score(
        lambda r, n: rank_hybrid(val, r, n, defaults), val_truth, k, len(val.course_ids)
    )["ndcg"]

    # Test: fit on everything before test_cut with the chosen settings, score once.
    test = Hybrid(data, as_of=test_cut, params=als["params"])
    truth = relevant_after(data, test, test_cut, None)
    m = len(test.course_ids)
    methods = {
        "popularity": lambda r, n: rank_popularity(test, r, n),
        "als": lambda r, n: rank_als(test, r, n),
        "hybrid": lambda r, n: rank_hybrid(test, r, n, tuned["weights"]),
        "hybrid_default_weights": lambda r, n: rank_hybrid(test, r, n, defaults),
        # What the prerequisite rule costs offline: learners do enrol without prerequisites;
        # and what its waivers (skills, shown level on the topic) win back.
        "hybrid_without_prerequisite_rule": lambda r, n: rank_unchecked(
            test, r, n, tuned["weights"]
        ),
        "hybrid_prerequisites_passed_only": lambda r, n: rank_strict(test, r, n, tuned["weights"]),
    }
    results = {name: score(fn, truth, k, m) for name, fn in methods.items()}
    return {
        "k": k,
        "results": results,
        "gain_vs_als": results["hybrid"]["ndcg"] / results["als"]["ndcg"] - 1
        if results["als"]["ndcg"]
        else None,
        "gain_vs_popularity": results["hybrid"]["ndcg"] / results["popularity"]["ndcg"] - 1
        if results["popularity"]["ndcg"]
        else None,
        "als_params": als["params"],
        "als_validation_ndcg": als["ndcg"],
        "weights": tuned["weights"],
        "weights_validation_ndcg": tuned["ndcg"],
        # Every grid point (weights in weight_grid() order, then NDCG): to pick shared defaults.
        "weights_grid": tuned.get("grid", []),
        "default_weights_validation_ndcg": default_val,
        "weights_version": WEIGHTS_VERSION,
        "split": {
            "validation_cut": str(val_cut),
            "test_cut": str(test_cut),
            "validation_learners": len(val_truth),
            "test_learners": len(truth),
            "train_interactions": test.X.nnz,
            "courses": m,
            "learners": len(test.learner_keys),
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _grid_size(grid: Mapping[str, Sequence]) -> int:
    return int(np.prod([len(v) for v in grid.values()]))


def rows_for_evaluations(report: dict) -> list[dict]:
    """Long rows ({method, metric, k, value}) for `pathwise.results.record_evaluation`."""
    k = report["k"]
    rows = []
    for method, metrics in report["results"].items():
        for metric in (*METRICS, "coverage"):
            rows.append({"method": method, "metric": metric, "k": k, "value": metrics[metric]})
    return rows


def render(dataset: str, report: dict) -> str:
    """A small text table for the terminal."""
    k = report["k"]
    lines = [
        f"{dataset}: {report['split']['test_learners']} test learners, "
        f"{report['split']['courses']} courses, test after {report['split']['test_cut']}",
        f"{'method':<34}"
        + "".join(f"{m + '@' + str(k):>14}" for m in METRICS)
        + f"{'coverage':>10}",
    ]
    for method, r in report["results"].items():
        lines.append(
            f"{method:<34}" + "".join(f"{r[m]:>14.4f}" for m in METRICS) + f"{r['coverage']:>10.3f}"
        )
    gain = report["gain_vs_als"]
    lines.append(
        f"hybrid vs tuned ALS: {gain:+.1%} NDCG@{k}" if gain is not None else "ALS NDCG is 0"
    )
    lines.append(f"ALS params (validation): {report['als_params']}")
    lines.append(f"blend weights (validation): {report['weights']}")
    return "\n".join(lines)


def evaluate_and_record(dataset: str, *, k: int = 10, tune: bool = True) -> dict:
    """Load one dataset from the warehouse, evaluate with progress bars, store in ml.evaluations."""
    from rich.progress import Progress

    from ml.recommender import load_data
    from pathwise.results import record_evaluation
    from pathwise.warehouse import connect

    with connect(read_only=True) as con:
        data = load_data(con, dataset)
    with Progress(transient=True) as bars:

        def progress(label: str, total: int) -> Callable[[], None]:
            task = bars.add_task(f"{dataset}: {label}", total=total)
            return lambda: bars.advance(task)

        report = evaluate(data, k=k, tune=tune, progress=progress)
    with connect() as con:
        report["evaluation_id"] = record_evaluation(
            con,
            kind="recs",
            dataset=dataset,
            model_version=f"hybrid-als-{WEIGHTS_VERSION}",
            rows=rows_for_evaluations(report),
            params={key: v for key, v in report.items() if key not in ("results", "weights_grid")},
        )
    return report
