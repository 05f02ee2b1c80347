"""`pathwise evaluate dropout`: fit with forward validation on the earlier cohorts, test on
the latest, record the figures in `ml.evaluations` and render them as a table per dataset."""

from __future__ import annotations

import duckdb
import polars as pl

from ml import fairness
from ml.dropout.features import (
    CHECKPOINTS,
    checkpoint_of,
    has_labels,
    labelled,
    labels,
    load_features,
    temporal_split,
)
from ml.dropout.model import METHODS, DropoutModel, figures, fit
from pathwise.results import record_evaluation
from pathwise.settings import get_settings


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


def segment_figures(df: pl.DataFrame, model: DropoutModel, segments: pl.DataFrame) -> pl.DataFrame:
    """The test figures of `evaluate` per segment (`ml.fairness`), on the same test rows."""
    _, test = temporal_split(labelled(df))
    return fairness.segment_figures(
        test,
        model.fitted.predictions(test),
        labels(test),
        checkpoint_of(test).to_numpy(),
        segments,
        get_settings().k_anonymity,
    )


def evaluate_and_record(
    con: duckdb.DuckDBPyConnection,
    datasets: list[str] | None = None,
    segments: pl.DataFrame | None = None,
) -> dict[str, dict]:
    """`pathwise evaluate dropout`: evaluate each dataset in the warehouse and record the figures,
    and with `segments` (`ml.fairness.oulad_segments`) the figures per segment and their check."""
    df = load_features(con)
    results = {}
    for dataset in sorted(df["dataset"].unique()):
        if datasets and dataset not in datasets:
            continue
        part = df.filter(pl.col("dataset") == dataset)
        if not has_labels(labelled(part)):
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
        if segments is not None:
            by_segment = segment_figures(part, model, segments)
            fairness.record(
                con,
                by_segment,
                evaluation_id=evaluation_id,
                kind="dropout",
                dataset=dataset,
                model_version=model.version,
                checkpoint_pct=CHECKPOINTS,
            )
            results[dataset]["segments"] = by_segment.to_dicts()
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
        lines += render_segments(r.get("segments"))
    return "\n".join(lines)


def render_segments(segments: list[dict] | None) -> list[str]:
    """The model's test ROC-AUC per segment and checkpoint, each beside the whole test set's."""
    if not segments:
        return []
    by = pl.DataFrame(segments)
    pcts = {c: f"{p}%" for c, p in CHECKPOINTS.items() if c in set(by["checkpoint"])}
    lines = [
        "  ROC-AUC by segment on the test cohort (model; all learners in brackets; segments of "
        "fewer than k learners left out)",
        "  " + f"{'segment':<32}{'learners':>9}" + "".join(f"{p:>16}" for p in pcts.values()),
    ]
    overall = {r["checkpoint"]: r["overall_roc_auc"] for r in segments}
    lines.append("  " + f"{'all':<32}{'':>9}" + "".join(f"{overall[c]:>16.3f}" for c in pcts))
    for (attribute, segment), part in by.group_by("attribute", "segment", maintain_order=True):
        auc = dict(zip(part["checkpoint"], part["roc_auc"], strict=True))
        cells = "".join(
            f"{auc[c]:>9.3f} ({auc[c] - overall[c]:+.3f})" if c in auc else f"{'-':>16}"
            for c in pcts
        )
        lines.append(f"  {attribute + ' = ' + segment:<32}{part['learners'].max():>9,}{cells}")
    return lines
