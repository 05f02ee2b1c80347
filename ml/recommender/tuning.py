"""What the nightly run serves, chosen per dataset on a chronological validation split.

    |-------------- data the model may see ---------------|---- validation ----|
                                                       cut: the (1 - VAL_SHARE) quantile of enrolments

On the validation split (everything a model sees is as of the cut; relevant = courses a warm
learner enrols in after it), in this order:

1. the collaborative model: ALS (coordinate search over `ALS_GRID`) and EASE over `EASE_GRID`,
   each ranked on its own (courses not taken yet); the better of the two serves. The best ALS is kept as the "tuned plain
   ALS" baseline.
2. the rules: each rule's cost is NDCG@10 lost with it (default weights); the difficulty ceiling
   and the diversity cap are kept where they cost at most `RULE_COST_ACCEPTED` (docs/serving.md
   states why), the prerequisite rule always (a learner must be able to take the course).
3. the blend weights: each registered signal's grid, under the rules kept.

The result is a `RecConfig`, versioned and stored in `ml.recommender_configs`; the nightly run
reuses the latest one until the data has grown by more than `RETUNE_GROWTH` (or the catalog
changed), and admins' saved weights still override its weights.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import duckdb
import numpy as np
import polars as pl

from ml.metrics import METRICS, catalog_coverage, mean_at_k
from ml.recommender.collaborative import ALS_PARAMS
from ml.recommender.data import RecData
from ml.recommender.model import Hybrid
from ml.recommender.ranking import (
    ALL_RULES,
    NO_RULES,
    Rules,
    blend,
    block_rows,
    eligible,
    rank,
    signal_scores,
    top_n,
)
from ml.recommender.signals import default_weights, registered
from pathwise.results import append_table
from pathwise.warehouse import table_exists

K = 10
VAL_SHARE = 0.2
ALS_GRID = {
    "factors": (32, 64, 128),
    "regularization": (0.1, 1.0, 10.0, 100.0),
    "alpha": (1.0, 10.0, 40.0),
}
EASE_GRID = {"l2": (50.0, 200.0, 800.0)}
EASE_MAX_COURSES = 20_000  # beyond, one course x course inverse is too big for a nightly run
# The share of validation NDCG@10 a rule may cost and still be kept (docs/serving.md).
RULE_COST_ACCEPTED = {"difficulty_ceiling": 0.02, "diversity_cap": 0.02}
RETUNE_GROWTH = 0.10  # re-tune once interactions (or courses) changed by more than this share
# Validation learners scored per weights grid point (beyond it, a fixed random sample).
TUNE_LEARNERS = 5000
# Learner segments the served quality is reported for (model cards): how much history the
# collaborative model had for them at the validation cut. The card shows no figure for a band of
# fewer than MIN_SEGMENT learners (noise).
HISTORY_BANDS = (
    (1, 1, "1 course before"),
    (2, 2, "2 courses before"),
    (3, 5, "3-5 courses before"),
    (6, 10, "6-10 courses before"),
    (11, None, "11+ courses before"),
)
MIN_SEGMENT = 20

Progress = Callable[[str, int], Callable[[], None]]


# -- the split and its scoring --------------------------------------------------------------------


def cut_time(data: RecData, share: float, before: datetime | None = None) -> datetime:
    """The time after which the last `share` of enrolments (before `before`) happen."""
    at = data.events.filter(pl.col("kind") == "enroll")["at"]
    if before is not None:
        at = at.filter(at < before)
    if at.len() < 10:
        raise TooLittleData("Too few enrolments to split chronologically (need at least 10).")
    return at.sort()[int(at.len() * (1 - share))]


class TooLittleData(RuntimeError):
    """Not enough interactions to tune or evaluate on a chronological split."""


def relevant_after(
    data: RecData, model: Hybrid, start: datetime, end: datetime | None = None
) -> dict[int, set[int]]:
    """learner row -> course columns first enrolled in within [start, end), warm learners only
    (at least one interaction before `start`: no collaborative model knows the others)."""
    ev = data.events.filter((pl.col("kind") == "enroll") & (pl.col("at") >= start))
    if end is not None:
        ev = ev.filter(pl.col("at") < end)
    warm = set(np.flatnonzero(np.diff(model.X.indptr) > 0).tolist())
    truth: dict[int, set[int]] = {}
    for key, course in ev.select("learner_key", "course_id").unique().iter_rows():
        r, c = model.lidx.get(key), model.cidx.get(course)
        if r is None or c is None or r not in warm or model.taken[r, c]:
            continue
        truth.setdefault(r, set()).add(c)
    return truth


Ranker = Callable[[np.ndarray, int], np.ndarray]


def lists(top: np.ndarray, rows: Sequence[int]) -> dict[int, list[int]]:
    """Ranked course columns per learner row, padding (-1) dropped."""
    return {r: [c for c in t if c >= 0] for r, t in zip(rows, top.tolist(), strict=True)}


def evaluate_ranker(
    ranker: Ranker, truth: Mapping[int, set[int]], k: int, n_courses: int
) -> dict[str, float]:
    """Precision, recall, NDCG, MAP at k and catalog coverage of `ranker` on `truth`'s learners."""
    rows = np.array(sorted(truth), dtype=np.int64)
    b = block_rows(n_courses)
    top = np.concatenate(
        [ranker(rows[i : i + b], k) for i in range(0, len(rows), b)]
        or [np.empty((0, k), dtype=np.int64)]
    )
    ranked = lists(top, rows.tolist())
    out = mean_at_k(ranked, truth, k)
    out["coverage"] = catalog_coverage(ranked.values(), n_courses, k)
    return out


def rank_popularity(model: Hybrid, rows: np.ndarray, k: int) -> np.ndarray:
    """Trending courses the learner has not taken (the simplest baseline)."""
    ok = eligible(model, rows, NO_RULES)
    return top_n(np.where(ok, model.popularity[None, :], -np.inf), k)


def rank_collaborative(model: Hybrid, rows: np.ndarray, k: int) -> np.ndarray:
    """The collaborative model alone, over the courses the learner has not taken (plain ALS when
    the model is ALS: the baseline every blend must beat)."""
    ok = eligible(model, rows, NO_RULES)
    return top_n(np.where(ok, model.collab.score(rows), -np.inf), k)


def rank_hybrid(
    model: Hybrid, rows: np.ndarray, k: int, weights: Mapping[str, float], rules: Rules
) -> np.ndarray:
    """What the nightly run serves: the blend under the rules."""
    return rank(model, rows, k, weights, rules=rules)[0]


# -- the configuration served ---------------------------------------------------------------------


@dataclass
class RecConfig:
    """What the nightly run serves for one dataset: model, parameters, weights and rules."""

    algorithm: str
    params: dict
    weights: dict[str, float]
    rules: Rules = field(default_factory=Rules)
    source: str = "defaults"  # 'tuned' (on this data's validation split) or 'defaults'
    fingerprint: dict = field(default_factory=dict)  # the data it was tuned on
    metrics: dict = field(default_factory=dict)  # validation figures behind each choice
    tuned_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def config_id(self) -> str:
        """e.g. 'ease-3f9a1c': the algorithm and a hash of what it serves with."""
        what = json.dumps(
            [self.algorithm, self.params, self.weights, self.rules.as_dict()], sort_keys=True
        )
        return f"{self.algorithm}-{hashlib.sha256(what.encode()).hexdigest()[:6]}"

    def row(self) -> dict:
        """One row of `ml.recommender_configs`."""
        return {
            "config_id": self.config_id,
            "algorithm": self.algorithm,
            "params": json.dumps(self.params, sort_keys=True),
            "weights": json.dumps(self.weights, sort_keys=True),
            "rules": json.dumps(self.rules.as_dict(), sort_keys=True),
            "source": self.source,
            "fingerprint": json.dumps(self.fingerprint, sort_keys=True, default=str),
            "metrics": json.dumps(self.metrics, sort_keys=True, default=str),
            "tuned_at": self.tuned_at,
        }

    @classmethod
    def from_row(cls, row: Mapping) -> RecConfig:
        return cls(
            algorithm=row["algorithm"],
            params=json.loads(row["params"]),
            weights=json.loads(row["weights"]),
            rules=Rules(**json.loads(row["rules"])),
            source=row["source"],
            fingerprint=json.loads(row["fingerprint"]),
            metrics=json.loads(row["metrics"]),
            tuned_at=row["tuned_at"],
        )


def default_config() -> RecConfig:
    """The versioned defaults: what serves when the data is too small to tune on."""
    return RecConfig("als", dict(ALS_PARAMS), default_weights())


def fingerprint(data: RecData, as_of: datetime | None = None) -> dict:
    """What the data looks like, to tell when a tuned configuration is out of date."""
    ev = data.events if as_of is None else data.events.filter(pl.col("at") < as_of)
    return {
        "courses": data.courses.height,
        "learners": ev["learner_key"].n_unique(),
        "interactions": ev.height,
        "data_until": ev["at"].max(),
    }


def is_current(config: RecConfig, now: Mapping) -> bool:
    """Still fits the data: tuned, and neither interactions nor courses changed by more than
    RETUNE_GROWTH since."""
    was = config.fingerprint
    if config.source != "tuned" or not was:
        return False
    return all(
        abs(now[key] - was[key]) <= RETUNE_GROWTH * max(was[key], 1)
        for key in ("interactions", "courses")
    )


def latest_config(con: duckdb.DuckDBPyConnection) -> RecConfig | None:
    if not table_exists(con, "ml", "recommender_configs"):
        return None
    rows = (
        pl.from_arrow(
            con.execute(
                "select * from warehouse.ml.recommender_configs order by tuned_at desc limit 1"
            ).to_arrow_table()
        )
    ).to_dicts()
    return RecConfig.from_row(rows[0]) if rows else None


def save_config(con: duckdb.DuckDBPyConnection, config: RecConfig) -> None:
    append_table(con, "recommender_configs", pl.DataFrame([config.row()]))


# -- tuning ---------------------------------------------------------------------------------------


def tune(
    data: RecData,
    *,
    as_of: datetime | None = None,
    k: int = K,
    val_share: float = VAL_SHARE,
    progress: Progress | None = None,
) -> RecConfig:
    """Choose the collaborative model, the rules and the weights on the validation split of the
    data before `as_of` (all of it by default); see the module docstring."""
    t0 = time.perf_counter()
    cut = cut_time(data, val_share, before=as_of)
    model = Hybrid(data, as_of=cut)
    truth = relevant_after(data, model, cut, as_of)
    if not truth:
        raise TooLittleData("No warm learner enrols after the validation cut: nothing to tune on.")
    collab = tune_collaborative(model, truth, k, progress)
    model.refit(collab["chosen"]["algorithm"], collab["chosen"]["params"])
    costs = rule_costs(model, truth, k, default_weights())
    rules = Rules(
        difficulty_ceiling=costs["difficulty_ceiling"] <= RULE_COST_ACCEPTED["difficulty_ceiling"],
        diversity_cap=Rules().diversity_cap
        if costs["diversity_cap"] <= RULE_COST_ACCEPTED["diversity_cap"]
        else None,
    )
    weights = tune_weights(model, truth, k, rules, progress)
    n = len(model.course_ids)
    return RecConfig(
        algorithm=collab["chosen"]["algorithm"],
        params=collab["chosen"]["params"],
        weights=weights["weights"],
        rules=rules,
        source="tuned",
        fingerprint=fingerprint(data, as_of),
        metrics={
            "k": k,
            "validation_cut": str(cut),
            "validation_learners": len(truth),
            "ndcg": {
                "popularity": evaluate_ranker(
                    lambda r, m: rank_popularity(model, r, m), truth, k, n
                )["ndcg"],
                "als_untuned": collab["als_untuned"],
                "als_tuned": collab["als"]["ndcg"],
                "ease": collab["ease"]["ndcg"] if collab["ease"] else None,
                "served": weights["ndcg"],
            },
            "als_tuned_params": collab["als"]["params"],
            "rule_costs": costs,
            "segments": segment_ndcg(model, truth, k, rules, weights["weights"]),
            "seconds": round(time.perf_counter() - t0, 1),
        },
    )


def _grid(grid: Mapping[str, Sequence]) -> list[dict]:
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def tune_collaborative(
    model: Hybrid, truth: Mapping[int, set[int]], k: int, progress: Progress | None = None
) -> dict:
    """The best ALS and EASE on their own; the better of the two serves.

    ALS by coordinate search over ALS_GRID (each parameter in turn over its values, the others held
    at their best so far: 8 fits where the full grid takes 36, the same choice on the simulator
    and COCO); EASE over EASE_GRID."""
    n = len(model.course_ids)

    def ndcg(algorithm: str, params: Mapping) -> float:
        model.refit(algorithm, params)
        if step:
            step()
        return evaluate_ranker(lambda r, m: rank_collaborative(model, r, m), truth, k, n)["ndcg"]

    ease_grid = _grid(EASE_GRID) if n <= EASE_MAX_COURSES else []
    fits = 1 + sum(len(v) - 1 for v in ALS_GRID.values()) + len(ease_grid)
    step = progress("collaborative models", fits) if progress else None
    untuned = ndcg("als", ALS_PARAMS)
    als = {"algorithm": "als", "params": dict(ALS_PARAMS), "ndcg": untuned}
    for name, values in ALS_GRID.items():
        for value in values:
            if value == als["params"][name]:
                continue
            params = {**als["params"], name: value}
            score = ndcg("als", params)
            if score > als["ndcg"] + 1e-12:
                als = {"algorithm": "als", "params": params, "ndcg": score}
    ease: dict | None = None
    for params in ease_grid:
        score = ndcg("ease", params)
        if ease is None or score > ease["ndcg"] + 1e-12:
            ease = {"algorithm": "ease", "params": params, "ndcg": score}
    chosen = als if ease is None or als["ndcg"] >= ease["ndcg"] else ease
    return {"als": als, "ease": ease, "chosen": chosen, "als_untuned": untuned}


def rule_costs(
    model: Hybrid, truth: Mapping[int, set[int]], k: int, weights: Mapping[str, float]
) -> dict[str, float]:
    """Share of validation NDCG@k each rule costs: 1 - NDCG with it / NDCG without it (the other
    rules on). Negative: the rule helps."""
    n = len(model.course_ids)

    def ndcg(rules: Rules) -> float:
        return evaluate_ranker(lambda r, m: rank_hybrid(model, r, m, weights, rules), truth, k, n)[
            "ndcg"
        ]

    full = ndcg(Rules())
    without = {
        "prerequisites": ndcg(replace(Rules(), prerequisites=False)),
        "difficulty_ceiling": ndcg(replace(Rules(), difficulty_ceiling=False)),
        "diversity_cap": ndcg(replace(Rules(), diversity_cap=None)),
    }
    return {rule: (1 - full / v) if v else 0.0 for rule, v in without.items()}


def weight_grid() -> dict[str, tuple[float, ...]]:
    """The blend weights tried on the validation split: each registered signal's own grid."""
    return {cls.name: tuple(cls.grid) for cls in registered()}


def tuning_rows(model: Hybrid, truth: Mapping[int, set[int]]) -> np.ndarray:
    """The validation learners the weights are tuned on: at most TUNE_LEARNERS of them, the same
    ones whatever order they were loaded in."""
    rows = np.array(sorted(truth, key=lambda r: model.learner_keys[r]), dtype=np.int64)
    if len(rows) > TUNE_LEARNERS:
        rows = np.random.default_rng(0).choice(rows, TUNE_LEARNERS, replace=False)
    return np.sort(rows)


def segment_ndcg(
    model: Hybrid, truth: Mapping[int, set[int]], k: int, rules: Rules, weights: Mapping
) -> dict[str, dict]:
    """NDCG@k of the served configuration and of popularity per history band (HISTORY_BANDS),
    on the learners the weights were tuned on."""
    rows = tuning_rows(model, truth)
    ok = eligible(model, rows, rules)
    top = blend(
        model, signal_scores(model, rows, ok), ok, dict(weights), k, cap=rules.diversity_cap
    )[0]
    served, popular = (
        lists(top, rows.tolist()),
        lists(rank_popularity(model, rows, k), rows.tolist()),
    )
    history = np.diff(model.X.indptr)[rows]
    out = {}
    for low, high, name in HISTORY_BANDS:
        members = rows[(history >= low) & (history <= (high or history.max(initial=0)))].tolist()
        if not members:
            continue
        sub = {r: truth[r] for r in members}
        out[name] = {
            "learners": len(members),
            "served": mean_at_k({r: served[r] for r in members}, sub, k)["ndcg"],
            "popularity": mean_at_k({r: popular[r] for r in members}, sub, k)["ndcg"],
        }
    return out


def tune_weights(
    model: Hybrid,
    truth: Mapping[int, set[int]],
    k: int,
    rules: Rules = ALL_RULES,
    progress: Progress | None = None,
) -> dict:
    """Grid search of the blend weights on the validation split (signals computed once).

    A signal that is 0 for every validation learner (COCO has no target roles, quizzes or
    passes) cannot change a list: it keeps its first grid value instead of multiplying the grid.
    """
    rows = tuning_rows(model, truth)
    ok = eligible(model, rows, rules)
    sig = signal_scores(model, rows, ok)
    sub = {r: truth[r] for r in rows.tolist()}
    full = weight_grid()
    grid = {s: values if sig[s].any() else values[:1] for s, values in full.items()}
    size = int(np.prod([len(v) for v in grid.values()]))
    step = progress("blend weights", size) if progress else None
    best: dict = {"ndcg": -1.0, "grid": []}
    for weights in _grid(grid):
        if not any(weights.values()):
            continue
        top = blend(model, sig, ok, weights, k, cap=rules.diversity_cap)[0]
        ndcg = mean_at_k(lists(top, rows.tolist()), sub, k)["ndcg"]
        best["grid"].append([*weights.values(), ndcg])
        if ndcg > best["ndcg"] + 1e-12:
            best.update(weights=weights, ndcg=ndcg)
        if step:
            step()
    best["weights"] = {**default_weights(), **best["weights"]}
    return best


def metrics_row(method: str, metrics: Mapping[str, float], k: int) -> list[dict]:
    """Long rows ({method, metric, k, value}) for `pathwise.results.record_evaluation`."""
    return [
        {"method": method, "metric": m, "k": k, "value": metrics[m]}
        for m in (*METRICS, "coverage")
        if m in metrics
    ]
