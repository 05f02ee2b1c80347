"""Dropout risk: a calibrated gradient-boosting model per open learner x course enrolment.

Rows come from `marts.ml_dropout_checkpoint_features` (dbt): one per enrolment and checkpoint
(10/25/50/75% of the course length after the learner's course clock started), with features from
whole days before the checkpoint only (no leakage) and the label "dropped by `label_until`" (the
later of the course's end and 14 days on), known once the data reaches it. The model is trained
on those rows and scores the `current` rows of open enrolments: the risk of dropping before the
course's end (at least the next 14 days).

Validation is temporal: rows are grouped into cohorts by when their course clock started (the
presentation for OULAD, the enrolment week for self-paced courses); the latest cohorts are held
out. Inside the training data the same split holds out the latest cohorts again to calibrate
(isotonic, on the frozen base model) and to measure the validation AUC that decides whether the
model may be used for decisions (`PATHWISE_DROPOUT_MIN_AUC`, as in Moodle's analytics).

The baseline is Open edX Aspects' at-risk rule: failing, still registered, and inactive for
at least 7 days (`rule_at_risk`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import numpy as np
import polars as pl
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import brier_score_loss, roc_auc_score

from pathwise.results import record_evaluation, replace_table
from pathwise.settings import get_settings

MODEL_NAME = "dropout-hgb-v1"
FEATURES = (
    "course_fraction",
    "length_days",
    "enrolled_days_from_start",
    "active_days",
    "events",
    "events_last_7d",
    "events_last_14d",
    "days_inactive",
    "modules_total",
    "modules_done",
    "share_done",
    "quiz_submissions",
    "quiz_average",
    "quiz_min",
    "quiz_last",
    "prior_courses_ended",
    "prior_drops",
)
TRAIN_CHECKPOINTS = ("p10", "p25", "p50", "p75")
EVAL_CHECKPOINTS = {"p10": 10, "p25": 25, "p50": 50}  # checkpoint -> % of the course length
# Aspects' rule: a learner is "failing" below the pass mark (OU modules pass at 40%); without any
# graded work yet, their grade is 0, so failing too.
RULE_PASS_MARK = 0.4
RULE_INACTIVE_DAYS = 7
HOLDOUT_SHARE = 0.2  # the latest cohorts holding at least this share of rows are held out
MIN_LABELS = 20  # fewer drops (or non-drops) than this: no model
# Small trees, strong shrinkage: a few dozen features, tens of thousands of rows.
PARAMS = {
    "learning_rate": 0.1,
    "max_iter": 100,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
}
RISK_RANGE = (0.01, 0.99)
BANDS = ((0.5, "high"), (0.2, "medium"), (0.0, "low"))
# How each feature reads in a "why" (value formatted into it).
WHY = {
    "course_fraction": "{:.0%} of the course time gone",
    "length_days": "a {:.0f}-day course",
    "enrolled_days_from_start": "enrolled {:+.0f} days from the start",
    "active_days": "{:.0f} active days so far",
    "events": "{:.0f} learning events so far",
    "events_last_7d": "{:.0f} events in the last 7 days",
    "events_last_14d": "{:.0f} events in the last 14 days",
    "days_inactive": "inactive for {:.0f} days",
    "modules_total": "{:.0f} modules in the course",
    "modules_done": "{:.0f} modules done",
    "share_done": "{:.0%} of the course done",
    "quiz_submissions": "{:.0f} quizzes submitted",
    "quiz_average": "quiz average {:.0%}",
    "quiz_min": "lowest quiz score {:.0%}",
    "quiz_last": "last quiz score {:.0%}",
    "prior_courses_ended": "{:.0f} earlier courses ended",
    "prior_drops": "{:.0f} earlier courses dropped",
}


def dataset_of(course_id: pl.Expr) -> pl.Expr:
    """Which platform a course comes from: the id's prefix (`oulad:`, `coco:`), else 'platform'."""
    return (
        pl.when(course_id.str.contains(":"))
        .then(course_id.str.split(":").list.first())
        .otherwise(pl.lit("platform"))
    )


def load_features(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """All checkpoint rows of the warehouse, with their dataset and cohort (`with_groups`)."""
    try:
        df = pl.from_arrow(
            con.execute("select * from marts.ml_dropout_checkpoint_features").fetch_arrow_table()
        )
    except duckdb.CatalogException as e:
        raise RuntimeError(
            "marts.ml_dropout_checkpoint_features is missing: run `pathwise build` first."
        ) from e
    return with_groups(df)


def with_groups(df: pl.DataFrame) -> pl.DataFrame:
    """Add `dataset` (the course id's platform) and `cohort` (when the course clock started).

    Self-paced clocks start at every enrolment: a cohort is a week of them. Cohort courses
    (OULAD presentations) share one start, so their week is the presentation.
    """
    return df.with_columns(
        dataset=dataset_of(pl.col("course_id")),
        cohort=pl.col("clock_start_at").dt.truncate("1w"),
    )


def rule_at_risk(df: pl.DataFrame) -> np.ndarray:
    """Open edX Aspects' at-risk rule on checkpoint rows: failing, still registered, inactive >= 7 days.

    Every checkpoint row is an enrolment still open at its checkpoint (still registered).
    """
    failing = (pl.col("quiz_submissions") == 0) | (pl.col("quiz_average") < RULE_PASS_MARK)
    inactive = pl.col("days_inactive") >= RULE_INACTIVE_DAYS
    return df.select((failing.fill_null(True) & inactive).alias("r"))["r"].to_numpy()


def temporal_split(df: pl.DataFrame, share: float = HOLDOUT_SHARE) -> tuple[pl.DataFrame, ...]:
    """(earlier, latest): the latest cohorts holding at least `share` of the rows are held out."""
    sizes = df.group_by("cohort").len().sort("cohort", descending=True)
    if sizes.height < 2:
        raise ValueError("Need rows from at least two cohorts for a temporal split.")
    held = sizes.filter(pl.col("len").cum_sum().shift(1, fill_value=0) < share * df.height)
    cutoff = held["cohort"].min()
    return df.filter(pl.col("cohort") < cutoff), df.filter(pl.col("cohort") >= cutoff)


def features_matrix(df: pl.DataFrame) -> np.ndarray:
    """The model's input: FEATURES as floats, missing values as NaN (the model handles them)."""
    return df.select(pl.col(f).cast(pl.Float64) for f in FEATURES).to_numpy()


def _xy(df: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return features_matrix(df), df["dropped"].cast(pl.Int8).to_numpy()


def _has_labels(df: pl.DataFrame) -> bool:
    drops = int(df["dropped"].sum() or 0)
    return min(drops, df.height - drops) >= MIN_LABELS


@dataclass
class DropoutModel:
    """A base model calibrated on a later cohort, with its validation figures."""

    calibrated: CalibratedClassifierCV
    validation_auc: float
    validation_brier: float
    version: str
    reference: np.ndarray  # typical feature values (training medians), for explanations
    params: dict = field(default_factory=dict)

    def predict(self, df: pl.DataFrame) -> np.ndarray:
        # Isotonic steps come from finite bins: a step of 0 or 1 is not certainty.
        return np.clip(self.calibrated.predict_proba(features_matrix(df))[:, 1], *RISK_RANGE)

    def used_for_decisions(self, min_auc: float) -> bool:
        return self.validation_auc >= min_auc

    def explain(self, df: pl.DataFrame, top: int = 3) -> list[list[tuple[str, str]]]:
        """Per row, up to `top` (feature, text) pairs that raise its risk most.

        Occlusion: a feature's contribution is how much the risk falls when it alone is set to
        the training median. Cheap, model-agnostic, and names only the learner's own data.
        """
        # On the uncalibrated model: isotonic steps would hide small but real contributions.
        model = self.calibrated.estimator
        x = features_matrix(df)
        base = model.predict_proba(x)[:, 1]
        gains = np.zeros_like(x)
        for j in range(x.shape[1]):
            swapped = x.copy()
            swapped[:, j] = self.reference[j]
            gains[:, j] = base - model.predict_proba(swapped)[:, 1]
        order = np.argsort(-gains, axis=1)[:, :top]
        return [
            [
                (FEATURES[j], WHY[FEATURES[j]].format(x[i, j]))
                for j in order[i]
                if gains[i, j] > 0.005 and not np.isnan(x[i, j])
            ]
            for i in range(len(x))
        ]


def fit(train: pl.DataFrame, *, random_state: int = 0) -> DropoutModel:
    """Fit on the earlier cohorts of `train`, calibrate and validate on its latest ones."""
    earlier, latest = temporal_split(train)
    if not (_has_labels(earlier) and _has_labels(latest)):
        raise ValueError(
            f"Not enough ended enrolments to train and validate the dropout model "
            f"(need {MIN_LABELS} drops and non-drops in both the earlier and the latest cohorts)."
        )
    x_fit, y_fit = _xy(earlier)
    x_val, y_val = _xy(latest)
    params = dict(PARAMS)
    base = HistGradientBoostingClassifier(random_state=random_state, **params).fit(x_fit, y_fit)
    # Calibrate on the later cohort: probabilities that hold for learners the model has not seen.
    calibrated = CalibratedClassifierCV(FrozenEstimator(base), method="isotonic").fit(x_val, y_val)
    p_val = base.predict_proba(x_val)[:, 1]
    return DropoutModel(
        calibrated=calibrated,
        validation_auc=float(roc_auc_score(y_val, p_val)),
        validation_brier=float(brier_score_loss(y_val, calibrated.predict_proba(x_val)[:, 1])),
        version=f"{MODEL_NAME}@{train['as_of_at'].max():%Y-%m-%d}",
        reference=np.nanmedian(x_fit, axis=0),
        params={
            **params,
            "fit_rows": earlier.height,
            "calibration_rows": latest.height,
            "calibration_cohorts_from": str(latest["cohort"].min()),
        },
    )


def labelled(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col("checkpoint").is_in(TRAIN_CHECKPOINTS), pl.col("is_label_known"))


def evaluate(df: pl.DataFrame) -> tuple[list[dict], DropoutModel, dict]:
    """Train on earlier cohorts, test on the latest: AUC and Brier per checkpoint, model vs rule.

    The rule's Brier uses the drop rate of flagged and of unflagged learners in the training
    rows of the same checkpoint as its probabilities (a 0/1 flag would be judged unfairly).
    """
    rows = labelled(df)
    train, test = temporal_split(rows)
    model = fit(train)
    out = []
    for checkpoint, pct in EVAL_CHECKPOINTS.items():
        tr = train.filter(pl.col("checkpoint") == checkpoint)
        te = test.filter(pl.col("checkpoint") == checkpoint)
        y = te["dropped"].cast(pl.Int8).to_numpy()
        if len(np.unique(y)) < 2:
            continue
        flag_tr, y_tr = rule_at_risk(tr), tr["dropped"].cast(pl.Int8).to_numpy()
        rates = {
            f: float(y_tr[flag_tr == f].mean()) if (flag_tr == f).any() else float(y_tr.mean())
            for f in (False, True)
        }
        flag = rule_at_risk(te)
        p_rule = np.where(flag, rates[True], rates[False])
        p_model = model.predict(te)
        for method, p in (("model", p_model), ("rule", p_rule)):
            out += [
                {"method": method, "metric": "roc_auc", "k": pct, "value": roc_auc_score(y, p)},
                {"method": method, "metric": "brier", "k": pct, "value": brier_score_loss(y, p)},
            ]
        out += [
            {"method": "data", "metric": "test_rows", "k": pct, "value": len(y)},
            {"method": "data", "metric": "test_drop_rate", "k": pct, "value": float(y.mean())},
            {"method": "rule", "metric": "flagged_share", "k": pct, "value": float(flag.mean())},
        ]
    info = {
        "train_cohorts": [str(c) for c in train["cohort"].unique().sort()],
        "test_cohorts": [str(c) for c in test["cohort"].unique().sort()],
        "train_rows": train.height,
        "test_rows": test.height,
        "validation_auc": model.validation_auc,
        **model.params,
    }
    return out, model, info


def evaluate_and_record(
    con: duckdb.DuckDBPyConnection, datasets: list[str] | None = None
) -> dict[str, dict]:
    """`pathwise evaluate dropout`: evaluate each dataset in the warehouse and record the figures."""
    df = load_features(con)
    results = {}
    for dataset in sorted(df["dataset"].unique()):
        if datasets and dataset not in datasets:
            continue
        part = df.filter(pl.col("dataset") == dataset)
        if not _has_labels(labelled(part)):
            results[dataset] = {"skipped": "not enough ended enrolments with drops"}
            continue
        try:
            rows, model, info = evaluate(part)
        except ValueError as e:
            results[dataset] = {"skipped": str(e)}
            continue
        info["min_auc"] = get_settings().dropout_min_auc
        evaluation_id = record_evaluation(
            con,
            kind="dropout",
            dataset=dataset,
            model_version=model.version,
            rows=rows,
            params=info,
        )
        results[dataset] = {
            "evaluation_id": evaluation_id,
            "model_version": model.version,
            "rows": rows,
            **info,
        }
    return results


def render(results: dict[str, dict]) -> str:
    """A table per dataset: AUC and Brier of model and rule at each checkpoint."""
    lines = []
    for dataset, r in results.items():
        if "skipped" in r:
            lines.append(f"{dataset}: skipped ({r['skipped']})")
            continue
        lines.append(
            f"{dataset}  {r['model_version']}\n"
            f"  train {r['train_rows']:,} rows (cohorts {r['train_cohorts'][0][:10]} .. "
            f"{r['train_cohorts'][-1][:10]}), test {r['test_rows']:,} rows (cohorts "
            f"{r['test_cohorts'][0][:10]} .. {r['test_cohorts'][-1][:10]}), "
            f"validation AUC {r['validation_auc']:.3f} (min for decisions {r['min_auc']})"
        )
        lines.append(
            "  at   rows  drop%   AUC model  AUC rule   Brier model  Brier rule  beats rule"
        )
        v = {(x["method"], x["metric"], x["k"]): x["value"] for x in r["rows"]}
        for pct in EVAL_CHECKPOINTS.values():
            if ("model", "roc_auc", pct) not in v:
                lines.append(f"  {pct:>2}%  (one class only in the test rows)")
                continue
            beats = (
                v["model", "roc_auc", pct] > v["rule", "roc_auc", pct]
                and v["model", "brier", pct] < v["rule", "brier", pct]
            )
            lines.append(
                f"  {pct:>2}% {v['data', 'test_rows', pct]:>6,.0f} {v['data', 'test_drop_rate', pct]:>6.1%}"
                f"   {v['model', 'roc_auc', pct]:>8.3f}  {v['rule', 'roc_auc', pct]:>8.3f}"
                f"   {v['model', 'brier', pct]:>10.4f}  {v['rule', 'brier', pct]:>10.4f}  "
                f"{'yes' if beats else 'NO'}"
            )
    return "\n".join(lines)


def band(risk: np.ndarray) -> list[str]:
    return [next(name for low, name in BANDS if r >= low) for r in risk]


def train_and_score(con: duckdb.DuckDBPyConnection) -> dict:
    """Nightly: train per dataset on what the warehouse holds, score open enrolments, write
    `ml.dropout_risk` and record the validation figures in `ml.evaluations`."""
    settings = get_settings()
    df = load_features(con)
    scored_at = datetime.now(UTC)
    frames, summary = [], {}
    for dataset in sorted(df["dataset"].unique()):
        part = df.filter(pl.col("dataset") == dataset)
        current = part.filter(pl.col("checkpoint") == "current")
        try:
            model = fit(labelled(part))
        except ValueError as e:
            summary[dataset] = {"skipped": str(e), "open_enrolments": current.height}
            continue
        used = model.used_for_decisions(settings.dropout_min_auc)
        record_evaluation(
            con,
            kind="dropout",
            dataset=dataset,
            model_version=model.version,
            rows=[
                {"method": "model", "metric": "validation_roc_auc", "value": model.validation_auc},
                {"method": "model", "metric": "validation_brier", "value": model.validation_brier},
            ],
            params={
                **model.params,
                "min_auc": settings.dropout_min_auc,
                "used_for_decisions": used,
            },
        )
        summary[dataset] = {
            "model_version": model.version,
            "validation_auc": round(model.validation_auc, 4),
            "used_for_decisions": used,
            "scored": current.height,
        }
        if current.is_empty():
            continue
        risk = model.predict(current)
        reasons = model.explain(current)
        frames.append(
            current.select("learner_key", "course_id").with_columns(
                risk=pl.Series(risk, dtype=pl.Float64),
                risk_band=pl.Series(band(risk)),
                top_features=pl.Series(
                    [[f for f, _ in r] for r in reasons], dtype=pl.List(pl.String)
                ),
                why=pl.Series(
                    [
                        "; ".join(t for _, t in r) or "nothing above a typical learner"
                        for r in reasons
                    ]
                ),
                model_version=pl.lit(model.version),
                validation_auc=pl.lit(model.validation_auc),
                used_for_decisions=pl.lit(used),
                scored_at=pl.lit(scored_at),
            )
        )
    out = pl.concat(frames) if frames else _empty_risk()
    summary["rows_written"] = replace_table(con, "dropout_risk", out)
    return summary


def _empty_risk() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "learner_key": pl.String,
            "course_id": pl.String,
            "risk": pl.Float64,
            "risk_band": pl.String,
            "top_features": pl.List(pl.String),
            "why": pl.String,
            "model_version": pl.String,
            "validation_auc": pl.Float64,
            "used_for_decisions": pl.Boolean,
            "scored_at": pl.Datetime("us", "UTC"),
        }
    )
