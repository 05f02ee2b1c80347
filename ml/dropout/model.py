"""The dropout model: a gradient boosting and a logistic regression fitted on the same rows,
validated forward against the regression alone and the Aspects rule, gated per checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

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

from ml.dropout.features import (
    CHECKPOINTS,
    FEATURES,
    MIN_LABELS,
    ROW_ORDER,
    WHY,
    checkpoint_of,
    features_matrix,
    has_labels,
    labels,
    rule_at_risk,
    temporal_split,
)
from pathwise.settings import get_settings

MODEL_NAME = "dropout-blend-v2"
METHODS = ("model", "logistic", "rule")  # the model and its two baselines, in report order
RANDOM_STATE = 0
# Fits and predictions run on one OpenMP/BLAS thread. Results are identical with more threads,
# but on a busy 2-core machine the second thread's spin-waiting made an OULAD fit 10x slower
# (81 s vs 8 s), and the nightly flow's other steps share those cores anyway.
THREADS = 1
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
        x, y = features_matrix(rows), labels(rows)
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
        y, flag = labels(part), rule_at_risk(part)
        overall = float(y.mean()) if len(y) else float(labels(rows).mean())
        for flagged in (False, True):
            chosen = y[flag == flagged]
            rates[checkpoint, flagged] = float(chosen.mean()) if len(chosen) else overall
    return rates


def figures(rows: pl.DataFrame, predictions: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per checkpoint: rows, drop rate and each method's ROC-AUC and Brier score."""
    out = {}
    checkpoints = checkpoint_of(rows).to_numpy()
    y = labels(rows)
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
    if not (has_labels(earlier) and has_labels(latest)):
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
