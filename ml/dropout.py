"""Dropout risk per open learner x course enrolment, trusted only where it beats simple baselines.

Rows come from `marts.ml_dropout_checkpoint_features` (dbt): one per enrolment and checkpoint
(10/25/50/75% of the course length after the learner's course clock started), with features from
whole days before the checkpoint only (no leakage) and the label "dropped by `label_until`" (the
later of the course's end and 14 days on), known once the data reaches it. The features include
what OULAD and real platforms show to matter most: work past its due date, the learner's
workload (studied credits, other open enrolments), previous attempts, registration timing,
activity recency, and how the learner's peers in the same course are doing.

The model is the mean of the log-odds of a gradient-boosting model and a logistic regression on
the same features: the boosting adds thresholds and interactions, the regression keeps the
model's extrapolation to an unseen cohort linear. On OULAD the boosting alone did worse than
the regression at 10 and 25% (docs/serving.md has the figures).

Validation is forward, exactly as deployment runs: rows are grouped into cohorts by when their
course clock started (the presentation for OULAD, the enrolment week for self-paced courses);
the model is fitted on the earlier cohorts and validated on the latest (the latest cohorts
holding `HOLDOUT_SHARE` of the rows), then refitted on all of them. A checkpoint is used for
decisions only if, in that validation, the model's ROC-AUC beats both baselines measured on the
same rows - the logistic regression alone and Open edX Aspects' at-risk rule (failing, still
registered, inactive for at least 7 days) - and reaches `PATHWISE_DROPOUT_MIN_AUC`.
`pathwise evaluate dropout` runs the same procedure on the cohorts before the latest and tests
on the latest, so it shows how far the validation predicted the next cohort.

Every figure is reproducible: rows are put in a fixed order before fitting, the boosting has a
fixed random state and no early stopping (no random validation split), and the regression's
solver is deterministic. The same warehouse gives the same figures, run after run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import numpy as np
import polars as pl
from scipy.special import expit, logit
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from pathwise.results import record_evaluation, replace_table
from pathwise.settings import get_settings

MODEL_NAME = "dropout-blend-v2"
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
    "previous_attempts",
    "studied_credits",
    "concurrent_enrolments",
    "assessments_due",
    "assessments_overdue",
    "submitted_late",
    "submitted_ahead",
    "days_overdue",
    "days_to_next_due",
    "peer_drop_share",
    "peer_overdue_mean",
    "days_inactive_vs_peers",
    "submissions_vs_peers",
)
CHECKPOINTS = {"p10": 10, "p25": 25, "p50": 50, "p75": 75}  # checkpoint -> % of the course
METHODS = ("model", "logistic", "rule")  # the model and its two baselines, in report order
# Aspects' rule: a learner is "failing" below the pass mark (OU modules pass at 40%); without any
# graded work yet, their grade is 0, so failing too.
RULE_PASS_MARK = 0.4
RULE_INACTIVE_DAYS = 7
HOLDOUT_SHARE = 0.2  # the latest cohorts holding at least this share of rows are held out
MIN_LABELS = 20  # fewer drops (or non-drops) than this: no model
RANDOM_STATE = 0
# Fits and predictions run on one OpenMP/BLAS thread. Results are identical with more threads,
# but on a busy 2-core machine the second thread's spin-waiting made an OULAD fit 10x slower
# (81 s vs 8 s), and the nightly flow's other steps share those cores anyway.
THREADS = 1
ROW_ORDER = ("cohort", "course_id", "learner_key", "checkpoint")  # unique per row
# Small trees, slow learning, a fixed number of rounds: tens of thousands of rows, a few dozen
# features, and no early stopping (its random validation split made runs differ).
GB_PARAMS = {
    "learning_rate": 0.03,
    "max_iter": 400,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 100,
    "l2_regularization": 1.0,
    "early_stopping": False,
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
    "previous_attempts": "{:.0f} earlier attempts at this course",
    "studied_credits": "studying {:.0f} credits",
    "concurrent_enrolments": "{:.0f} other courses open",
    "assessments_due": "{:.0f} assessments due so far",
    "assessments_overdue": "{:.0f} assessments overdue",
    "submitted_late": "{:.0f} assessments handed in late",
    "submitted_ahead": "{:.0f} assessments handed in early",
    "days_overdue": "work overdue for {:.0f} days",
    "days_to_next_due": "next assessment due in {:.0f} days",
    "peer_drop_share": "{:.0%} of the course's learners already dropped",
    "peer_overdue_mean": "peers have {:.1f} assessments overdue",
    "days_inactive_vs_peers": "inactive {:+.0f} days vs peers",
    "submissions_vs_peers": "{:+.1f} quizzes vs peers",
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
            con.execute("select * from marts.ml_dropout_checkpoint_features").to_arrow_table()
        )
    except duckdb.CatalogException as e:
        raise RuntimeError(
            "marts.ml_dropout_checkpoint_features is missing: run `pathwise build` first."
        ) from e
    return with_groups(df)


def with_groups(df: pl.DataFrame) -> pl.DataFrame:
    """Add `dataset` (the course id's platform) and `cohort` (when the course clock started),
    in a fixed row order (the warehouse returns rows in any order; fits must not depend on it).

    Self-paced clocks start at every enrolment: a cohort is a week of them. Cohort courses
    (OULAD presentations) share one start, so their week is the presentation.
    """
    return df.with_columns(
        dataset=dataset_of(pl.col("course_id")),
        cohort=pl.col("clock_start_at").dt.truncate("1w"),
    ).sort(ROW_ORDER)


def rule_at_risk(df: pl.DataFrame) -> np.ndarray:
    """Open edX Aspects' at-risk rule on checkpoint rows: failing, still registered, inactive >= 7 days.

    Every checkpoint row is an enrolment still open at its checkpoint (still registered).
    """
    failing = (pl.col("quiz_submissions") == 0) | (pl.col("quiz_average") < RULE_PASS_MARK)
    inactive = pl.col("days_inactive") >= RULE_INACTIVE_DAYS
    return df.select((failing.fill_null(True) & inactive).alias("r"))["r"].to_numpy()


def temporal_split(df: pl.DataFrame, share: float = HOLDOUT_SHARE) -> tuple[pl.DataFrame, ...]:
    """(earlier, latest): the latest cohorts holding at least `share` of the rows are held out.

    Both in ROW_ORDER: fits and even sums of figures must not depend on the order rows came in.
    """
    df = df.sort(ROW_ORDER)
    sizes = df.group_by("cohort").len().sort("cohort", descending=True)
    if sizes.height < 2:
        raise ValueError("Need rows from at least two cohorts for a temporal split.")
    held = sizes.filter(pl.col("len").cum_sum().shift(1, fill_value=0) < share * df.height)
    cutoff = held["cohort"].min()
    return df.filter(pl.col("cohort") < cutoff), df.filter(pl.col("cohort") >= cutoff)


def features_matrix(df: pl.DataFrame) -> np.ndarray:
    """The models' input: FEATURES as floats, missing values as NaN."""
    return df.select(pl.col(f).cast(pl.Float64) for f in FEATURES).to_numpy()


def _labels(df: pl.DataFrame) -> np.ndarray:
    return df["dropped"].cast(pl.Int8).to_numpy()


def _has_labels(df: pl.DataFrame) -> bool:
    drops = int(df["dropped"].sum() or 0)
    return min(drops, df.height - drops) >= MIN_LABELS


def labelled(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col("checkpoint").is_in(list(CHECKPOINTS)), pl.col("is_label_known"))


def checkpoint_of(df: pl.DataFrame) -> pl.Series:
    """The checkpoint whose gate applies to each row: its own, or for `current` rows the last
    checkpoint the course time has passed (the first one before 10%)."""
    names = list(CHECKPOINTS)
    band = pl.lit(names[0])
    for name, pct in list(CHECKPOINTS.items())[1:]:
        band = pl.when(pl.col("course_fraction") >= pct / 100).then(pl.lit(name)).otherwise(band)
    current = pl.col("checkpoint") == "current"
    return df.select(pl.when(current).then(band).otherwise(pl.col("checkpoint")).alias("c"))["c"]


@dataclass
class Fitted:
    """The boosting and the logistic regression, fitted on the same rows."""

    boosting: HistGradientBoostingClassifier
    logistic: Pipeline
    rule_rates: dict[tuple[str, bool], float]  # (checkpoint, flagged) -> drop rate in training
    # FEATURES with a value in some training row (a platform may never send, e.g., credits).
    known: np.ndarray

    @classmethod
    def on(cls, rows: pl.DataFrame) -> Fitted:
        rows = rows.sort(ROW_ORDER)  # the fit must not depend on the order rows came in
        x, y = features_matrix(rows), _labels(rows)
        known = ~np.isnan(x).all(axis=0)
        x = x[:, known]
        boosting = HistGradientBoostingClassifier(random_state=RANDOM_STATE, **GB_PARAMS)
        # Median-imputed with missing-value flags and standardised: a fair, plain baseline.
        logistic = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True),
            StandardScaler(),
            LogisticRegression(max_iter=2000),
        )
        with threadpool_limits(THREADS):
            return cls(boosting.fit(x, y), logistic.fit(x, y), _rule_rates(rows), known)

    def log_odds(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(boosting, logistic) log-odds of dropping."""
        clip, x = (1e-6, 1 - 1e-6), x[:, self.known]
        with threadpool_limits(THREADS):
            return (
                logit(np.clip(self.boosting.predict_proba(x)[:, 1], *clip)),
                logit(np.clip(self.logistic.predict_proba(x)[:, 1], *clip)),
            )

    def predictions(self, df: pl.DataFrame) -> dict[str, np.ndarray]:
        """Each method's probability of dropping for the rows of `df`."""
        boosting, logistic = self.log_odds(features_matrix(df))
        flags = zip(checkpoint_of(df), rule_at_risk(df), strict=True)
        return {
            "model": expit((boosting + logistic) / 2),
            "logistic": expit(logistic),
            "rule": np.array([self.rule_rates[c, bool(f)] for c, f in flags]),
        }


def _rule_rates(rows: pl.DataFrame) -> dict[tuple[str, bool], float]:
    """The rule's flag as a probability: the drop rate of flagged and of unflagged training rows
    of the same checkpoint (a 0/1 flag would be judged unfairly by the Brier score)."""
    rates = {}
    for checkpoint in CHECKPOINTS:
        part = rows.filter(pl.col("checkpoint") == checkpoint)
        y, flag = _labels(part), rule_at_risk(part)
        overall = float(y.mean()) if len(y) else float(_labels(rows).mean())
        for flagged in (False, True):
            chosen = y[flag == flagged]
            rates[checkpoint, flagged] = float(chosen.mean()) if len(chosen) else overall
    return rates


def figures(rows: pl.DataFrame, predictions: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per checkpoint: rows, drop rate and each method's ROC-AUC and Brier score."""
    out = {}
    checkpoints = checkpoint_of(rows).to_numpy()
    y = _labels(rows)
    for checkpoint in CHECKPOINTS:
        at = checkpoints == checkpoint
        if len(np.unique(y[at])) < 2:
            continue
        out[checkpoint] = {"rows": int(at.sum()), "drop_rate": float(y[at].mean())}
        for method, p in predictions.items():
            out[checkpoint][method] = {
                "roc_auc": float(roc_auc_score(y[at], p[at])),
                "brier": float(brier_score_loss(y[at], p[at])),
            }
    return out


def gate(validation: dict[str, dict], min_auc: float) -> dict[str, bool]:
    """Per checkpoint: may its risks be used for decisions? Only if, in forward validation, the
    model's ROC-AUC beats both baselines' and reaches `min_auc`."""
    out = {}
    for checkpoint in CHECKPOINTS:
        v = validation.get(checkpoint)
        auc = {m: v[m]["roc_auc"] for m in METHODS} if v else {}
        out[checkpoint] = bool(
            v
            and auc["model"] >= min_auc
            and auc["model"] > auc["logistic"]
            and auc["model"] > auc["rule"]
        )
    return out


@dataclass
class DropoutModel:
    """The model fitted on all training cohorts, with its forward validation and gate."""

    fitted: Fitted
    validation: dict[str, dict]  # checkpoint -> figures (see `figures`)
    gate: dict[str, bool]  # checkpoint -> used for decisions
    version: str
    reference: np.ndarray  # typical feature values (training medians), for explanations
    params: dict = field(default_factory=dict)

    def predict(self, df: pl.DataFrame) -> np.ndarray:
        return np.clip(self.fitted.predictions(df)["model"], *RISK_RANGE)

    def validation_auc(self, df: pl.DataFrame) -> np.ndarray:
        """The model's forward-validation ROC-AUC at each row's checkpoint (NaN if unmeasured)."""
        auc = {c: v["model"]["roc_auc"] for c, v in self.validation.items()}
        return np.array([auc.get(c, np.nan) for c in checkpoint_of(df)], dtype=float)

    def used_for_decisions(self, df: pl.DataFrame) -> np.ndarray:
        return np.array([self.gate[c] for c in checkpoint_of(df)], dtype=bool)

    def explain(self, df: pl.DataFrame, top: int = 3) -> list[list[tuple[str, str]]]:
        """Per row, up to `top` (feature, text) pairs that raise its risk most.

        Occlusion: a feature's contribution is how much the risk falls when it alone is set to
        the training median. Cheap, model-agnostic, and names only the learner's own data.
        """
        x = features_matrix(df)
        base = sum(self.fitted.log_odds(x)) / 2
        gains = np.zeros_like(x)
        for j in range(x.shape[1]):
            swapped = x.copy()
            swapped[:, j] = self.reference[j]
            gains[:, j] = expit(base) - expit(sum(self.fitted.log_odds(swapped)) / 2)
        order = np.argsort(-gains, axis=1)[:, :top]
        return [
            [
                (FEATURES[j], WHY[FEATURES[j]].format(x[i, j]))
                for j in order[i]
                if gains[i, j] > 0.005 and not np.isnan(x[i, j])
            ]
            for i in range(len(x))
        ]


def fit(train: pl.DataFrame, min_auc: float | None = None) -> DropoutModel:
    """Validate forward on the latest cohorts of `train`, set the gate, refit on all of it."""
    min_auc = get_settings().dropout_min_auc if min_auc is None else min_auc
    earlier, latest = temporal_split(train)
    if not (_has_labels(earlier) and _has_labels(latest)):
        raise ValueError(
            f"Not enough ended enrolments to train and validate the dropout model "
            f"(need {MIN_LABELS} drops and non-drops in both the earlier and the latest cohorts)."
        )
    validation = figures(latest, Fitted.on(earlier).predictions(latest))
    return DropoutModel(
        fitted=Fitted.on(train),
        validation=validation,
        gate=gate(validation, min_auc),
        version=f"{MODEL_NAME}@{train['as_of_at'].max():%Y-%m-%d}",
        reference=train.select(pl.col(f).cast(pl.Float64).median() for f in FEATURES)
        .to_numpy()[0]
        .astype(float),
        params={
            **GB_PARAMS,
            "random_state": RANDOM_STATE,
            "min_auc": min_auc,
            "fit_rows": train.height,
            "validation_fit_rows": earlier.height,
            "validation_rows": latest.height,
            "validation_cohorts_from": str(latest["cohort"].min()),
        },
    )


def metric_rows(figs: dict[str, dict], stage: str) -> list[dict]:
    """`ml.evaluations` rows of `figures`: `roc_auc` and `brier` per method on the test rows,
    `validation_roc_auc` ... on validation rows; `<stage>_rows` and `<stage>_drop_rate`."""
    rows = []
    for checkpoint, f in figs.items():
        k = CHECKPOINTS[checkpoint]
        rows += [
            {"method": "data", "metric": f"{stage}_{name}", "k": k, "value": f[name]}
            for name in ("rows", "drop_rate")
        ]
        names = {n: n if stage == "test" else f"{stage}_{n}" for n in ("roc_auc", "brier")}
        rows += [
            {"method": m, "metric": names[n], "k": k, "value": f[m][n]}
            for m in METHODS
            for n in names
        ]
    return rows


def evaluate(
    df: pl.DataFrame, min_auc: float | None = None
) -> tuple[list[dict], DropoutModel, dict]:
    """Fit (with its forward validation) on the earlier cohorts, test on the latest.

    Returns metric rows for `ml.evaluations` (validation and test figures of the model and both
    baselines per checkpoint, the gap and the gate), the model and a summary.
    """
    train, test = temporal_split(labelled(df))
    model = fit(train, min_auc)
    test_figures = figures(test, model.fitted.predictions(test))
    rows = metric_rows(model.validation, "validation") + metric_rows(test_figures, "test")
    rows += [
        {"method": "model", "metric": "used_for_decisions", "k": pct, "value": float(used)}
        for pct, used in zip(CHECKPOINTS.values(), model.gate.values(), strict=True)
    ]
    info = {
        "train_cohorts": [str(c) for c in train["cohort"].unique().sort()],
        "test_cohorts": [str(c) for c in test["cohort"].unique().sort()],
        "train_rows": train.height,
        "test_rows": test.height,
        "gate": model.gate,
        **model.params,
    }
    return rows, model, info


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
    """A table per dataset: forward validation and test ROC-AUC of the model and both baselines
    per checkpoint, the model's validation-test gap, test Brier scores and the gate."""
    lines = []
    for dataset, r in results.items():
        if "skipped" in r:
            lines.append(f"{dataset}: skipped ({r['skipped']})")
            continue
        lines += [
            f"{dataset}  {r['model_version']}  (model = boosting + logistic regression; "
            f"min AUC for decisions {r['min_auc']})",
            f"  fit on {r['train_rows']:,} rows (cohorts {r['train_cohorts'][0][:10]} .. "
            f"{r['train_cohorts'][-1][:10]}), forward validation on the cohorts from "
            f"{r['validation_cohorts_from'][:10]}; test on {r['test_rows']:,} rows (cohorts "
            f"{r['test_cohorts'][0][:10]} .. {r['test_cohorts'][-1][:10]})",
            "        ROC-AUC validation       ROC-AUC test             gap     Brier test"
            "                 used for",
            "  at    model  logist  rule    model  logist  rule     model   model  logist  rule"
            "    decisions",
        ]
        v = {(x["method"], x["metric"], x["k"]): x["value"] for x in r["rows"]}
        for pct in CHECKPOINTS.values():
            if ("model", "roc_auc", pct) not in v or ("model", "validation_roc_auc", pct) not in v:
                lines.append(f"  {pct:>2}%  (one class only in the validation or test rows)")
                continue
            val = [v[m, "validation_roc_auc", pct] for m in METHODS]
            test = [v[m, "roc_auc", pct] for m in METHODS]
            brier = [v[m, "brier", pct] for m in METHODS]
            used = "yes" if v["model", "used_for_decisions", pct] else "no"
            lines.append(
                f"  {pct:>2}%  " + "  ".join(f"{a:.3f}" for a in val)
                + "   " + "  ".join(f"{a:.3f}" for a in test)
                + f"   {val[0] - test[0]:+.3f}   " + "  ".join(f"{b:.4f}" for b in brier)
                + f"  {used}"
            )  # fmt: skip
    return "\n".join(lines)


def band(risk: np.ndarray) -> list[str]:
    return [next(name for low, name in BANDS if r >= low) for r in risk]


def train_and_score(con: duckdb.DuckDBPyConnection) -> dict:
    """Nightly: per dataset, fit on what the warehouse holds (forward validation, gate, refit),
    score the open enrolments into `ml.dropout_risk` and record the validation figures."""
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
        record_evaluation(
            con,
            kind="dropout",
            dataset=dataset,
            model_version=model.version,
            rows=metric_rows(model.validation, "validation"),
            params={**model.params, "gate": model.gate},
        )
        summary[dataset] = {
            "model_version": model.version,
            "validation_auc": {
                c: round(f["model"]["roc_auc"], 4) for c, f in model.validation.items()
            },
            "used_for_decisions": [c for c, used in model.gate.items() if used],
            "scored": current.height,
        }
        if current.is_empty():
            continue
        frames.append(_risk_rows(model, current, scored_at))
    out = pl.concat(frames) if frames else _risk_rows(None, None, scored_at)
    summary["rows_written"] = replace_table(con, "dropout_risk", out)
    return summary


def _risk_rows(
    model: DropoutModel | None, current: pl.DataFrame | None, scored_at: datetime
) -> pl.DataFrame:
    """`ml.dropout_risk` rows for the open enrolments in `current` (none without a model)."""
    schema = {
        "learner_key": pl.String,
        "course_id": pl.String,
        "checkpoint": pl.String,
        "risk": pl.Float64,
        "risk_band": pl.String,
        "top_features": pl.List(pl.String),
        "why": pl.String,
        "model_version": pl.String,
        "validation_auc": pl.Float64,
        "used_for_decisions": pl.Boolean,
        "scored_at": pl.Datetime("us", "UTC"),
    }
    if model is None or current is None:
        return pl.DataFrame(schema=schema)
    risk = model.predict(current)
    reasons = model.explain(current)
    return pl.DataFrame(
        {
            "learner_key": current["learner_key"],
            "course_id": current["course_id"],
            "checkpoint": checkpoint_of(current),
            "risk": risk,
            "risk_band": band(risk),
            "top_features": [[f for f, _ in r] for r in reasons],
            "why": [
                "; ".join(t for _, t in r) or "nothing above a typical learner" for r in reasons
            ],
            "model_version": [model.version] * current.height,
            "validation_auc": model.validation_auc(current),
            "used_for_decisions": model.used_for_decisions(current),
            "scored_at": [scored_at] * current.height,
        },
        schema=schema,
    )
