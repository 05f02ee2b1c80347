"""Performance by segment, and the fairness check that alerts when a segment is served worse.

Education is a high-risk area under the EU AI Act (Annex III) when a system evaluates or steers
learners, so a model's figures must hold for the groups it affects, not only on average.

The segments that matter (OULAD's gender, age band, disability, deprivation band) are protected
attributes the warehouse never holds: the importer leaves them out at the door. The evaluation
reads them from the source file it is given (`pathwise evaluate dropout --segments
studentInfo.csv`), joins them to the test rows in memory through the same keyed pseudonym as the
door (`learner_key`), and stores only figures per segment, for segments of at least k learners
(`PATHWISE_K_ANONYMITY`), in `ml.evaluation_segments`. Nothing per learner is written.

The check (nightly, and after each evaluation) compares every segment's ROC-AUC with the whole
test set's at the same checkpoint; a segment trailing by more than `PATHWISE_FAIRNESS_MAX_GAP`,
and by more than twice the segment figure's standard error (Hanley & McNeil 1982: a small
segment's AUC is noisy, and an alert about noise teaches people to ignore alerts), raises an alert in `ml.drift_alerts` (kind `fairness`), which the Control Tower shows and the
drift webhook receives.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from pathwise.privacy import pseudonym
from pathwise.results import append_table
from pathwise.settings import get_settings
from pathwise.warehouse import table_exists

# OULAD studentInfo column -> how people call the attribute.
OULAD_ATTRIBUTES = {
    "gender": "gender",
    "age_band": "age band",
    "disability": "disability",
    "imd_band": "deprivation band",
}
SEGMENT_SCHEMA = {
    "evaluation_id": pl.String,
    "kind": pl.String,
    "dataset": pl.String,
    "model_version": pl.String,
    "attribute": pl.String,
    "segment": pl.String,
    "k": pl.Int32,  # the checkpoint (% of the course)
    "learners": pl.Int64,
    "rows": pl.Int64,
    "positive_rate": pl.Float64,
    "roc_auc": pl.Float64,
    "roc_auc_se": pl.Float64,  # its standard error (Hanley & McNeil)
    "baseline_roc_auc": pl.Float64,  # the logistic regression on the same rows
    "overall_roc_auc": pl.Float64,  # the model on every test row of the checkpoint
    "evaluated_at": pl.Datetime("us", "UTC"),
}


def oulad_segments(student_info: Path, key: str) -> pl.DataFrame:
    """(learner_key, course_id, attribute, segment) from OULAD's studentInfo.csv, keyed as the
    importer and the door key them (`oulad:<id_student>`, `oulad:<module>-<presentation>`)."""
    info = pl.read_csv(student_info, infer_schema_length=0)  # every column as text
    missing = {"code_module", "code_presentation", "id_student", *OULAD_ATTRIBUTES} - set(
        info.columns
    )
    if missing:
        raise ValueError(f"{student_info} is not OULAD's studentInfo.csv (missing {missing})")
    ids = info["id_student"].unique().to_list()
    keys = pl.DataFrame(
        {"id_student": ids, "learner_key": [pseudonym(f"oulad:{i}", key) for i in ids]}
    )
    return (
        info.join(keys, on="id_student")
        .with_columns(course_id=pl.format("oulad:{}-{}", "code_module", "code_presentation"))
        .unpivot(
            index=["learner_key", "course_id"],
            on=list(OULAD_ATTRIBUTES),
            variable_name="attribute",
            value_name="segment",
        )
        .with_columns(
            pl.col("attribute").replace_strict(OULAD_ATTRIBUTES),
            pl.col("segment").str.strip_chars().replace({"": None, "?": None}).fill_null("unknown"),
        )
    )


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982): the standard error of an ROC-AUC from its class sizes."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    return float(np.sqrt(max(variance, 0.0)))


def segment_figures(
    rows: pl.DataFrame,
    predictions: dict[str, np.ndarray],
    labels: np.ndarray,
    checkpoints: np.ndarray,
    segments: pl.DataFrame,
    k: int,
) -> pl.DataFrame:
    """ROC-AUC of the model (and of its logistic baseline) per segment and checkpoint, beside the
    model's on all rows of the checkpoint. Segments with fewer than `k` learners, or one class
    only, are left out: a figure about a handful of people is noise, and could single them out."""
    keyed = rows.select("learner_key", "course_id").with_columns(
        row=pl.int_range(pl.len()), checkpoint=pl.Series(checkpoints)
    )
    joined = keyed.join(segments, on=["learner_key", "course_id"])
    out = []
    for checkpoint in np.unique(checkpoints):
        at = checkpoints == checkpoint
        overall = _auc(labels[at], predictions["model"][at])
        if overall is None:
            continue
        here = joined.filter(pl.col("checkpoint") == checkpoint)
        for (attribute, segment), part in here.group_by("attribute", "segment"):
            idx = part["row"].to_numpy()
            learners = part["learner_key"].n_unique()
            auc = _auc(labels[idx], predictions["model"][idx])
            if learners < k or auc is None:
                continue
            positives = int(labels[idx].sum())
            out.append(
                {
                    "attribute": attribute,
                    "segment": segment,
                    "checkpoint": str(checkpoint),
                    "learners": learners,
                    "rows": len(idx),
                    "positive_rate": positives / len(idx),
                    "roc_auc": auc,
                    "roc_auc_se": auc_standard_error(auc, positives, len(idx) - positives),
                    "baseline_roc_auc": _auc(labels[idx], predictions["logistic"][idx]),
                    "overall_roc_auc": overall,
                }
            )
    return pl.DataFrame(out).sort("checkpoint", "attribute", "segment") if out else pl.DataFrame()


def record(
    con: duckdb.DuckDBPyConnection,
    figures: pl.DataFrame,
    *,
    evaluation_id: str,
    kind: str,
    dataset: str,
    model_version: str,
    checkpoint_pct: dict[str, int],
) -> int:
    """Append one evaluation's segment figures to `ml.evaluation_segments`."""
    if figures.is_empty():
        return 0
    frame = figures.with_columns(
        evaluation_id=pl.lit(evaluation_id),
        kind=pl.lit(kind),
        dataset=pl.lit(dataset),
        model_version=pl.lit(model_version),
        k=pl.col("checkpoint").replace_strict(checkpoint_pct, return_dtype=pl.Int32),
        evaluated_at=pl.lit(datetime.now(UTC)),
    ).select([pl.col(c).cast(t) for c, t in SEGMENT_SCHEMA.items()])
    return append_table(con, "evaluation_segments", frame)


def latest_segments(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The segment figures of the latest evaluation of each (kind, dataset)."""
    if not table_exists(con, "ml", "evaluation_segments"):
        return pl.DataFrame(schema=SEGMENT_SCHEMA)
    return pl.from_arrow(
        con.execute(
            """
            select * from warehouse.ml.evaluation_segments
            qualify evaluated_at = max(evaluated_at) over (partition by kind, dataset)
            order by kind, dataset, k, attribute, segment
            """
        ).to_arrow_table()
    )


def check(con: duckdb.DuckDBPyConnection, max_gap: float | None = None) -> dict:
    """Alert on every segment whose ROC-AUC trails the model's overall by more than `max_gap` and
    by more than twice its standard error: one `ml.drift_checks` row per segment figure, the
    alerts also in `ml.drift_alerts`."""
    max_gap = get_settings().fairness_max_gap if max_gap is None else max_gap
    latest = latest_segments(con)
    if latest.is_empty():
        return {"checks": 0, "alerts": 0, "alerted": []}
    run_id, checked_at = uuid.uuid4().hex[:12], datetime.now(UTC)
    frame = latest.select(
        run_id=pl.lit(run_id),
        checked_at=pl.lit(checked_at),
        check_name=pl.format(
            "{} {}: {} = {} at {}%", "dataset", "kind", "attribute", "segment", "k"
        ),
        kind=pl.lit("fairness"),
        statistic=pl.lit("roc_auc_gap"),
        baseline=pl.col("overall_roc_auc"),
        current=pl.col("roc_auc"),
        value=pl.col("overall_roc_auc") - pl.col("roc_auc"),
        threshold=pl.lit(max_gap),
        baseline_version=pl.col("model_version"),
        is_alert=(pl.col("overall_roc_auc") - pl.col("roc_auc") > max_gap)
        & (pl.col("overall_roc_auc") - pl.col("roc_auc") > 2 * pl.col("roc_auc_se")),
    )
    append_table(con, "drift_checks", frame)
    alerts = frame.filter("is_alert")
    append_table(con, "drift_alerts", alerts)
    return {
        "checks": frame.height,
        "alerts": alerts.height,
        "alerted": alerts["check_name"].to_list(),
    }


def render_check(checked: dict) -> str:
    """The check's outcome in a line, and each alert on its own."""
    if not checked["checks"]:
        return "fairness check: no figures per segment yet"
    head = (
        f"fairness check: {checked['checks']} segment figures, {checked['alerts']} more than "
        f"{get_settings().fairness_max_gap:.2f} (and beyond chance) below the model's ROC-AUC on "
        "all learners"
    )
    return "\n".join([head, *(f"  alert: {name}" for name in checked["alerted"])])
