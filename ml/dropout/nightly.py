"""The nightly step: per dataset, fit the model, record its validation figures and write the open
enrolments' risks, bands and reasons into `ml.dropout_risk`."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import numpy as np
import polars as pl

from ml.dropout.evaluation import metric_rows
from ml.dropout.features import checkpoint_of, labelled, load_features
from ml.dropout.model import DropoutModel, fit
from pathwise.results import record_evaluation, replace_table

BANDS = ((0.5, "high"), (0.2, "medium"), (0.0, "low"))


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
