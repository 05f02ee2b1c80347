"""Model cards: what each model in service is for, what it was trained on, how good it is and for
whom it is worse, its limits, and who oversees it (EU AI Act transparency for a high-risk use).

Written at each publish into `ml.model_cards` (one Markdown card per model in service), so the
snapshot serves the card of exactly the models whose results it holds; the Control Tower shows
them. The words that do not change (intended use, limits, oversight) live here, next to the
code they describe; every figure is read from the tables the nightly run and the evaluations
wrote (`ml.recommendation_model`, `ml.evaluations`, `ml.evaluation_segments`, the results).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import polars as pl

from ml.fairness import latest_segments
from ml.recommender.tuning import MIN_SEGMENT
from pathwise.results import replace_table
from pathwise.warehouse import table_exists

OVERSIGHT = (
    "Admins see this card, the drift and fairness alerts and every control in the Control Tower; "
    "they can boost, suppress or re-weight recommendations at once and roll a release back "
    "(`pathwise publish --rollback`). Nothing is decided about a learner automatically: the "
    "outputs inform learners, instructors and admins, who act."
)
STATIC = {
    "recommender": {
        "title": "Course recommendations",
        "intended": "Rank catalog courses for each learner (top 10) with the reasons behind each; "
        "shown to the learner, served by the read API and logged with the model version.",
        "not_for": "Grading, admission or any decision about a learner; ranking learners.",
        "data": "Enrolments and completions (collaborative model), the catalog's skills, levels "
        "and prerequisites, the learner's declared goal and level, course popularity. Learners are "
        "pseudonymous keys; no demographics are used.",
        "limits": "New learners and new courses get popularity and content signals only (cold "
        "start). Quality is measured on later enrolments of the same platform; a rule's cost "
        "(prerequisites, difficulty ceiling, diversity cap) is stated above and accepted in "
        "docs/serving.md.",
    },
    "dropout": {
        "title": "Dropout risk",
        "intended": "Estimate, at 10/25/50/75% of a course, the chance an enrolled learner drops "
        "out, with the three facts that raise it most; shown to instructors as k-anonymous risk "
        "bands of their courses, only at checkpoints where the model passed its gate.",
        "not_for": "Any decision about an individual learner (grading, access, sanctions); "
        "checkpoints that failed the gate are scored but never shown.",
        "data": "Study facts before the checkpoint only (no leakage): submissions and scores, work "
        "past its due date, activity and recency, workload (credits, other enrolments), previous "
        "attempts, registration timing, peers' progress. No demographics.",
        "limits": "Early in a course (10-25%) little is known and the risk is weak; OULAD has no "
        "clickstream here. Figures per segment use protected attributes read only at evaluation "
        "time; segments under k learners are not reported.",
    },
    "styles": {
        "title": "Learning styles",
        "intended": "Describe whether a learner mostly watches, reads or learns hands-on, to "
        "prefer course formats that suit them; with a confidence and the evidence.",
        "not_for": "Judging ability or excluding a learner from any format.",
        "data": "Fine-grained video behaviour (skips, rewinds, pauses), quiz results and pace per "
        "module format, only for learners who consented to fine-grained tracking.",
        "limits": "Unsupervised: its accuracy is measured on the simulator's planted styles "
        "only; learners without consent or with little evidence are 'unknown'.",
    },
}


def _evaluation_rows(con: duckdb.DuckDBPyConnection, kind: str) -> pl.DataFrame:
    """Metric rows of the latest evaluation of `kind` per dataset (nightly or offline)."""
    if not table_exists(con, "ml", "evaluations"):
        return pl.DataFrame()
    return con.execute(
        """
        select dataset, model_version, method, metric, k, value, evaluated_at
        from warehouse.ml.evaluations where kind = ?
        qualify evaluated_at = max(evaluated_at) over (partition by dataset, metric like 'val%')
        order by dataset, metric, method, k
        """,
        [kind],
    ).pl()


Found = tuple[str, list[str], list[str] | None, dict]  # version, evaluation, segments, figures


def _recommender(con: duckdb.DuckDBPyConnection) -> Found | None:
    if not table_exists(con, "ml", "recommendation_model"):
        return None
    row = con.execute("select * from warehouse.ml.recommendation_model").pl().row(0, named=True)
    validation = json.loads(row["validation"] or "{}")
    ndcg = validation.get("ndcg", {})
    lines = [
        f"Configuration `{row['config_id']}` ({row['config_source']}): {row['algorithm']} "
        f"{row['params']}, weights {row['weights']}"
        + (" (admins' override)" if row["weights_overridden"] else ""),
    ]
    if ndcg:
        lines.append(
            f"NDCG@10 on {validation.get('validation_learners', '?')} learners' later enrolments: "
            + ", ".join(f"{name} {value:.3f}" for name, value in sorted(ndcg.items()))
        )
    costs = validation.get("rule_costs", {})
    if costs:
        lines.append(
            "Cost of each rule (share of NDCG): "
            + ", ".join(f"{name} {cost:+.1%}" for name, cost in sorted(costs.items()))
        )
    segments = [
        f"{name} ({seg['learners']:,} learners): NDCG@10 {seg['served']:.3f} served, "
        f"{seg['popularity']:.3f} popularity"
        if seg["learners"] >= MIN_SEGMENT
        else f"{name} ({seg['learners']:,} learners): too few to judge"
        for name, seg in validation.get("segments", {}).items()
    ] or ["Not measured on this configuration (tuned before segments were reported)."]
    return row["model_version"], lines, segments, {"ndcg": ndcg, "rule_costs": costs}


def _dropout(con: duckdb.DuckDBPyConnection) -> Found | None:
    if not table_exists(con, "ml", "dropout_risk"):
        return None
    versions = con.execute(
        "select model_version, checkpoint, bool_or(used_for_decisions) as used, "
        "any_value(validation_auc) as auc from warehouse.ml.dropout_risk group by all order by all"
    ).pl()
    if versions.is_empty():
        return None
    lines = [
        f"{r['model_version']} at {r['checkpoint']}: forward-validation ROC-AUC "
        f"{r['auc']:.3f}, {'used for decisions' if r['used'] else 'not shown (failed its gate)'}"
        for r in versions.iter_rows(named=True)
        if r["auc"] is not None
    ]
    rows = _evaluation_rows(con, "dropout").filter(pl.col("metric") == "roc_auc")
    for (dataset,), part in rows.group_by("dataset", maintain_order=True):
        auc = {(r["method"], r["k"]): r["value"] for r in part.iter_rows(named=True)}
        lines.append(
            f"Test on the latest cohort ({dataset}), ROC-AUC model / logistic regression / "
            "at-risk rule: "
            + "; ".join(
                f"{k}% {auc.get(('model', k), float('nan')):.3f} / "
                f"{auc.get(('logistic', k), float('nan')):.3f} / {auc.get(('rule', k), float('nan')):.3f}"
                for k in sorted({k for _, k in auc})
            )
        )
    segments = _segment_lines(latest_segments(con), "dropout")
    return str(versions["model_version"][0]), lines, segments, {"checkpoints": versions.to_dicts()}


def _styles(con: duckdb.DuckDBPyConnection) -> Found | None:
    if not table_exists(con, "ml", "learning_styles"):
        return None
    counts = con.execute(
        "select any_value(model_version), count(*), count(*) filter (style <> 'unknown') "
        "from warehouse.ml.learning_styles"
    ).fetchall()[0]
    if counts[0] is None:
        return None
    lines = [f"{counts[2]:,} of {counts[1]:,} learners have a named style."]
    for r in _evaluation_rows(con, "styles").iter_rows(named=True):
        lines.append(f"{r['metric']} on {r['dataset']}: {r['value']:.3f}")
    return counts[0], lines, None, {"learners": counts[1], "named": counts[2]}


def _segment_lines(segments: pl.DataFrame, kind: str) -> list[str]:
    mine = segments.filter(pl.col("kind") == kind)
    if mine.is_empty():
        return ["Not measured yet (`pathwise evaluate dropout --segments ...`)."]
    worst = mine.with_columns(gap=pl.col("overall_roc_auc") - pl.col("roc_auc")).sort(
        "gap", descending=True
    )
    return [
        f"{r['dataset']}, {r['attribute']} = {r['segment']} at {r['k']}% ({r['learners']:,} "
        f"learners): ROC-AUC {r['roc_auc']:.3f} ± {r['roc_auc_se']:.3f} against "
        f"{r['overall_roc_auc']:.3f} for all"
        for r in worst.head(6).iter_rows(named=True)
    ] + [f"({mine.height} figures in ml.evaluation_segments; the six largest gaps shown.)"]


def build(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One card per model in service: model, model_version, title, card (Markdown), figures."""
    now = datetime.now(UTC)
    cards = []
    for model, read in (("recommender", _recommender), ("dropout", _dropout), ("styles", _styles)):
        found = read(con)
        if found is None:
            continue
        version, evaluation, segments, figures = found
        text = STATIC[model]
        body = [
            f"### {text['title']} — `{version}`",
            f"**Intended use.** {text['intended']}",
            f"**Not for.** {text['not_for']}",
            f"**Data and features.** {text['data']}",
            "**Evaluation.**\n" + "\n".join(f"- {line}" for line in evaluation),
        ]
        if segments is not None:
            body.append("**Performance by segment.**\n" + "\n".join(f"- {x}" for x in segments))
        body += [f"**Limitations.** {text['limits']}", f"**Human oversight.** {OVERSIGHT}"]
        cards.append(
            {
                "model": model,
                "model_version": version,
                "title": text["title"],
                "card": "\n\n".join(body),
                "figures": json.dumps(figures, default=str, sort_keys=True),
                "generated_at": now,
            }
        )
    return pl.DataFrame(
        cards,
        schema={
            "model": pl.String,
            "model_version": pl.String,
            "title": pl.String,
            "card": pl.String,
            "figures": pl.String,
            "generated_at": pl.Datetime("us", "UTC"),
        },
    )


def write(con: duckdb.DuckDBPyConnection) -> int:
    """Replace `ml.model_cards` with tonight's cards (called right before each publish)."""
    return replace_table(con, "model_cards", build(con))
