"""The cohort finder backtested on real data (here, in the composition root, because it joins the
model layer's dropout fit to the agent layer's finder): OULAD's 2014B presentations, flagged at 10, 25 and
50% of each course with only what was known then, judged by who withdrew later.

What can honestly be measured without running a campaign is whether the finder points at the
right people: do its cohorts concentrate later withdrawals? So, per checkpoint:

- the dropout model (`ml.dropout`) is fitted on the presentations before the test one exactly as
  `pathwise evaluate dropout` does (`temporal_split`: 2013B and 2013J, forward-validated on 2013J)
  and scores the 2014B enrolments still open at the checkpoint, from as-of features
  (`marts.ml_dropout_checkpoint_features`: whole days before the checkpoint only);
- each enrolment gets the finder's attributes as they stood then: the course, the enrolment week
  (registration day), the learner's segment, the stall module (the course's module after the
  number done by then, in catalog order) and the risk band of its predicted risk;
- `cohorts.find` flags cohorts; the label is OULAD's withdrawal (dropped by the course's end plus
  14 days), known for 2014B and never read before the figures.

Reported beside two baselines on the same rows (the guide's rule: a simple baseline measured in
the same run): the same number of enrolments flagged one by one by predicted risk (what cohorts
cost by asking for >= k people who share attributes), and Open edX Aspects' at-risk rule.
`pathwise evaluate cohorts` prints the table and records it in `ml.evaluations`
(kind `cohorts`); the README has the figures.
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from agents import cohorts
from ml.dropout import (
    CHECKPOINTS,
    band,
    fit,
    labelled,
    labels,
    load_features,
    rule_at_risk,
    temporal_split,
)
from pathwise.results import record_evaluation
from pathwise.settings import get_settings

REPORTED = ("p10", "p25", "p50")
TOP = 10  # the top cohorts an admin would look at first, reported beside all of them


def _attributes(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> pl.DataFrame:
    """The finder's attributes of checkpoint rows, as known at the checkpoint."""
    modules = pl.from_arrow(
        con.execute(
            """
            select course_id, module_id as stall_module_id, module_title as stall_module_title,
                   row_number() over (partition by course_id order by module_position, module_id)
                       as position
            from warehouse.marts.course_modules
            """
        ).to_arrow_table()
    )
    context = pl.from_arrow(
        con.execute(
            """
            select c.course_id, c.course_title from warehouse.marts.courses c
            """
        ).to_arrow_table()
    )
    segments = pl.from_arrow(
        con.execute("select learner_key, segment from warehouse.marts.learners").to_arrow_table()
    )
    return (
        rows.with_columns(
            position=pl.col("modules_done").fill_null(0).cast(pl.Int64) + 1,
            enrolment_week=(
                pl.col("clock_start_at")
                + pl.duration(days=pl.col("enrolled_days_from_start").fill_null(0))
            )
            .dt.truncate("1w")
            .dt.date(),
        )
        .join(modules, on=["course_id", "position"], how="left", maintain_order="left")
        .join(context, on="course_id", how="left", maintain_order="left")
        .join(segments, on="learner_key", how="left", maintain_order="left")
        .with_columns(
            pl.col("stall_module_id").fill_null("(none left)"),
            pl.col("stall_module_title").fill_null("no module left"),
            pl.col("course_title").fill_null(pl.col("course_id")),
            pl.col("segment").fill_null("unknown"),
        )
    )


def _flag_figures(flagged: np.ndarray, y: np.ndarray) -> dict:
    n, drops = int(flagged.sum()), int(y[flagged].sum())
    return {
        "flagged": n,
        "withdrawal_rate": drops / n if n else float("nan"),
        "precision": drops / n if n else float("nan"),
        "recall": drops / int(y.sum()) if y.sum() else float("nan"),
    }


def backtest_checkpoint(
    con: duckdb.DuckDBPyConnection, model, rows: pl.DataFrame, checkpoint: str, k: int
) -> dict:
    """Figures of one checkpoint: flagged cohorts (all, and the TOP best) vs the base rate, and
    the two baselines flagging as many enrolments."""
    rows = _attributes(con, rows.filter(pl.col("checkpoint") == checkpoint))
    risk = model.predict(rows)
    found = cohorts.find(
        rows.with_columns(
            risk=pl.Series(risk),
            risk_band=pl.Series(band(risk)),
            used_for_decisions=pl.lit(model.gate[checkpoint]),
        ),
        k=k,
    )
    y = labels(rows).astype(bool)
    out = {
        "checkpoint": checkpoint,
        "open_enrolments": rows.height,
        "base_rate": float(y.mean()),
        "cohorts": found.cohorts.height,
        "used_for_decisions": model.gate[checkpoint],
    }
    for name, chosen in (("all", found.members), (f"top{TOP}", found.members[:TOP])):
        flagged = np.zeros(rows.height, dtype=bool)
        if chosen:
            flagged[np.concatenate(chosen)] = True
        out[f"cohorts_{name}"] = _flag_figures(flagged, y)
        # the same number flagged one by one, riskiest first
        individual = np.zeros(rows.height, dtype=bool)
        individual[np.argsort(-risk, kind="stable")[: flagged.sum()]] = True
        out[f"individual_{name}"] = _flag_figures(individual, y)
    out["rule"] = _flag_figures(rule_at_risk(rows), y)
    return out


def run(con: duckdb.DuckDBPyConnection, dataset: str = "oulad", record: bool = True) -> dict:
    """Fit on the earlier presentations, backtest the finder on the latest (2014B) at 10, 25 and
    50%; record the figures in `ml.evaluations` (kind 'cohorts') when `record`."""
    df = load_features(con).filter(pl.col("dataset") == dataset)
    if df.is_empty():
        raise RuntimeError(
            f"No {dataset} rows in marts.ml_dropout_checkpoint_features: `pathwise import oulad "
            "../shared/data/oulad --out DIR`, `pathwise ingest DIR`, `pathwise build` first."
        )
    train, test = temporal_split(labelled(df))
    model = fit(train)
    k = get_settings().k_anonymity
    result = {
        "dataset": dataset,
        "model_version": model.version,
        "k": k,
        "expected_lift": cohorts.EXPECTED_LIFT,
        "train_courses": sorted(train["course_id"].unique().to_list()),
        "test_courses": sorted(test["course_id"].unique().to_list()),
        "checkpoints": [backtest_checkpoint(con, model, test, c, k) for c in REPORTED],
    }
    if record:
        record_evaluation(
            con,
            kind="cohorts",
            dataset=dataset,
            model_version=model.version,
            rows=metric_rows(result),
            params={k: v for k, v in result.items() if k != "checkpoints"},
        )
    return result


def metric_rows(result: dict) -> list[dict]:
    """`ml.evaluations` rows: per checkpoint (k = % of the course) and method, each figure."""
    rows = []
    for c in result["checkpoints"]:
        pct = CHECKPOINTS[c["checkpoint"]]
        rows.append({"method": "data", "metric": "base_rate", "k": pct, "value": c["base_rate"]})
        for method in ("cohorts_all", f"cohorts_top{TOP}", "individual_all", "rule"):
            rows += [
                {"method": method, "metric": m, "k": pct, "value": v} for m, v in c[method].items()
            ]
    return rows


def render(result: dict) -> str:
    """The backtest as a table: one line per checkpoint and way of flagging."""
    lines = [
        f"Cohort finder backtest on {result['dataset']}: fitted on "
        f"{', '.join(c.split(':')[-1] for c in result['train_courses'][:3])}... "
        f"({len(result['train_courses'])} presentations), tested on "
        f"{len(result['test_courses'])} presentations "
        f"({', '.join(c.split(':')[-1] for c in result['test_courses'])}); k = {result['k']}",
        f"{'at':>4} {'open':>6} {'base':>6}  {'flagged by':<34}{'flagged':>8}{'withdrew':>10}"
        f"{'x base':>8}{'recall':>8}",
    ]
    for c in result["checkpoints"]:
        pct = f"{CHECKPOINTS[c['checkpoint']]}%"
        ways = (
            (f"all {c['cohorts']} cohorts", c["cohorts_all"]),
            (f"top {TOP} cohorts", c[f"cohorts_top{TOP}"]),
            ("as many, one by one by risk", c["individual_all"]),
            ("Aspects at-risk rule", c["rule"]),
        )
        for i, (name, f) in enumerate(ways):
            head = f"{pct:>4} {c['open_enrolments']:>6} {c['base_rate']:>6.1%}" if i == 0 else ""
            lines.append(
                f"{head:<18}  {name:<34}{f['flagged']:>8}{f['withdrawal_rate']:>10.1%}"
                f"{f['withdrawal_rate'] / c['base_rate']:>8.2f}{f['recall']:>8.1%}"
            )
    return "\n".join(lines)
