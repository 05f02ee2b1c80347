"""Offline evaluations: each prints its figures and stores them in ml.evaluations."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Offline evaluations; each prints its figures and stores them in ml.evaluations.",
    no_args_is_help=True,
)


@app.command("dropout")
def evaluate_dropout(
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            "--dataset",
            help="Only this dataset (course-id prefix: oulad, coco; 'platform' for plain ids). "
            "Repeatable; default: every dataset in the warehouse.",
        ),
    ] = None,
    segments: Annotated[
        Path | None,
        typer.Option(
            "--segments",
            exists=True,
            dir_okay=False,
            help="OULAD's studentInfo.csv: also report ROC-AUC per gender, age band, disability "
            "and deprivation band (read here only, never stored per learner) and run the "
            "fairness check (PATHWISE_FAIRNESS_MAX_GAP).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Dropout model vs a logistic regression and the at-risk rule at 10/25/50/75% of the course.

    Fits on the earlier cohorts in the warehouse (OULAD: earlier presentations), validating
    forward on the latest of them (the gate), and tests on the latest cohort: ROC-AUC in
    validation and test, their gap, Brier scores. Same data, same figures. For OULAD:
    `pathwise import oulad ../shared/data/oulad --out var/landing/oulad`,
    `pathwise ingest var/landing/oulad`, `pathwise build`, then this command
    (with `--segments ../shared/data/oulad/studentInfo.csv` for the figures per segment).
    """
    from ml import fairness
    from ml.dropout import evaluate_and_record, render
    from pathwise.settings import get_settings
    from pathwise.warehouse import connect

    key = get_settings().pseudonym_key.get_secret_value()
    by_learner = fairness.oulad_segments(segments, key) if segments else None
    with connect() as con:
        results = evaluate_and_record(con, dataset, by_learner)
        checked = fairness.check(con) if segments else None
    typer.echo(json.dumps(results, indent=2, default=str) if as_json else render(results))
    if checked and not as_json:
        typer.echo(fairness.render_check(checked))


@app.command("cohorts")
def evaluate_cohorts(
    dataset: Annotated[
        str,
        typer.Option(
            help="Course-id prefix of the cohorts to backtest ('platform' for plain ids)."
        ),
    ] = "oulad",
) -> None:
    """Backtest the cohort finder: at 10/25/50% of each course of the latest presentation, flag
    cohorts with only what was known then and compare their later withdrawal rate with the base
    rate, beside flagging as many one by one by risk and the Aspects at-risk rule. For OULAD:
    `pathwise import oulad ../shared/data/oulad --out var/landing/oulad`, `pathwise ingest
    var/landing/oulad`, `pathwise build`, then this command."""
    from cli.cohort_backtest import render, run
    from pathwise.warehouse import connect

    with connect() as con:
        typer.echo(render(run(con, dataset=dataset)))


@app.command("styles")
def evaluate_styles(
    truth: Annotated[
        Path,
        typer.Option(
            help="The simulator's truth/learners.parquet for the simulated data in the warehouse.",
            exists=True,
            dir_okay=False,
        ),
    ] = Path("var/landing/demo/truth/learners.parquet"),
) -> None:
    """Learning-style accuracy against the simulator's planted styles (consenting learners)."""
    from ml.styles import evaluate_and_record, render
    from pathwise.warehouse import connect

    with connect() as con:
        typer.echo(render(evaluate_and_record(con, str(truth))))


class RecDataset(StrEnum):
    all = "all"
    simulator = "simulator"
    coco = "coco"


@app.command("recs")
def evaluate_recs(
    dataset: Annotated[
        RecDataset,
        typer.Option(
            help="Which courses in the warehouse: the simulated ones, the COCO import, all."
        ),
    ] = RecDataset.all,
    served: Annotated[
        bool,
        typer.Option(
            "--served",
            help="Score the published snapshot's lists against the enrolments that came after "
            "the data its nightly run saw (the whole warehouse; --dataset does not apply).",
        ),
    ] = False,
    folds: Annotated[
        int, typer.Option(help="Rolling-origin folds (each tuned on its own validation).", min=1)
    ] = 1,
    k: Annotated[int, typer.Option(help="Cut-off of precision, recall, NDCG and MAP.", min=1)] = 10,
    tune: Annotated[
        bool,
        typer.Option(help="Tune as the nightly run does (minutes); --no-tune: the defaults."),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """What the nightly run serves vs popularity and plain ALS (untuned and tuned), on later data.

    Default: replay the nightly run's choices at a chronological cut (tuned on a validation split
    before it), score on the enrolments after it, with each rule's cost. --served: score the
    published snapshot as served. For COCO first run `pathwise import coco ../shared/data/coco
    --out var/landing/coco [--holdout-share 0.2]`, `pathwise ingest var/landing/coco` and
    `pathwise build` (with a holdout: `pathwise nightly`, `pathwise ingest
    var/landing/coco/holdout`, then --served).
    """
    from ml.evaluate_recs import evaluate_and_record, render

    name = None if served or dataset is RecDataset.all else dataset.value
    report = evaluate_and_record(name, k=k, tune_config=tune, folds=folds, served=served)
    label = "served snapshot" if served else dataset.value
    typer.echo(json.dumps(report, indent=2, default=str) if as_json else render(label, report))


class PathDataset(StrEnum):
    simulator = "simulator"
    coco = "coco"


@app.command("paths")
def evaluate_paths(
    dataset: Annotated[
        PathDataset, typer.Option(help="Which courses in the warehouse: simulated, or COCO.")
    ] = PathDataset.coco,
    test_share: Annotated[
        float,
        typer.Option(help="Share of enrolments after the chronological cut.", min=0.05, max=0.9),
    ] = 0.3,
    goal_learners: Annotated[
        int,
        typer.Option(
            help="Simulator: learners of the time-to-goal run (its own simulation; 0: skip it).",
            min=0,
        ),
    ] = 400,
    goal_days: Annotated[
        int, typer.Option(help="Simulator: days of the time-to-goal run.", min=30)
    ] = 730,
    goal_seed: Annotated[
        int, typer.Option(help="Simulator: seed of the time-to-goal run (world and arms).")
    ] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Learning paths vs the recommender's top-k of the same length, on what learners took next.

    At a chronological cut, each learner's earlier courses are what they know; the goal is the
    skills of their later courses (and, where learners stated a target role, that role's
    skills); the path, the served recommender fitted before the cut and a goal-aware popularity
    baseline are scored on the courses taken after it (hit rate, recall, precision), and learners
    who followed the path vs those who did not on their progress to the goal after the cut
    (agents/paths/evaluate.py). On the simulator, time to goal for learners asked to follow their
    path vs the others, at random, on a long simulated run of its own (about 100 s for 400
    learners over 730 days; agents/paths/time_to_goal.py).
    For COCO: `pathwise import coco ../shared/data/coco --out var/landing/coco`, `pathwise ingest
    var/landing/coco`, `pathwise build`, then this command.
    """
    from agents.paths import time_to_goal
    from agents.paths.evaluate import render
    from cli.paths_evaluation import run

    report = run(
        dataset.value,
        test_share,
        goal_learners=goal_learners,
        goal_days=goal_days,
        goal_seed=goal_seed,
    )
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    typer.echo(render(dataset, report))
    if "simulated_time_to_goal" in report:
        typer.echo("\n" + time_to_goal.render(report["simulated_time_to_goal"]))


@app.command("rag")
def evaluate_rag(
    baseline: Annotated[
        bool, typer.Option(help="Also measure dense search over fixed 200-word chunks.")
    ] = True,
    questions: Annotated[
        Path | None,
        typer.Option(
            "--questions",
            exists=True,
            file_okay=False,
            help="A folder of your own questions in rag/eval/learner's YAML format: score what "
            "is served (shipped ranking and decision) on all of them, no split, nothing tuned.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Course Q&A on rag/eval/learner: lesson hit@k per retrieval mode, the graded answer beside
    the old threshold, latency. With --questions: what is served, on your questions."""
    from pathwise.settings import get_settings
    from rag.content import load_documents, prune_prefixes
    from rag.evaluate import evaluate, evaluate_served, record, render, render_served
    from rag.retrieve import forget_retrievers
    from rag.store import index_documents

    content = [str(get_settings().shared_data / "content")]
    index_documents(load_documents(content), prune_prefixes=prune_prefixes(content), progress=True)
    forget_retrievers()
    if questions is not None:
        try:
            served = evaluate_served(questions)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--questions") from e
        typer.echo(json.dumps(served, indent=2) if as_json else render_served(served))
        return
    report = evaluate(content, baseline=baseline)
    report["evaluation_id"] = record(report)
    typer.echo(json.dumps(report, indent=2, default=str) if as_json else render(report))
