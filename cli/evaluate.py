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
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Dropout model vs the at-risk rule: ROC-AUC and Brier at 10%, 25% and 50% of the course.

    Trains on the earlier cohorts in the warehouse (OULAD: earlier presentations) and tests on
    the latest. For OULAD: `pathwise import oulad ../shared/data/oulad --out var/landing/oulad`,
    `pathwise ingest var/landing/oulad`, `pathwise build`, then this command.
    """
    from ml.dropout import evaluate_and_record, render
    from pathwise.warehouse import connect

    with connect() as con:
        results = evaluate_and_record(con, dataset)
    typer.echo(json.dumps(results, indent=2, default=str) if as_json else render(results))


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
    simulator = "simulator"
    coco = "coco"


@app.command("recs")
def evaluate_recs(
    dataset: Annotated[
        RecDataset,
        typer.Option(help="Which courses in the warehouse: the simulated ones or the COCO import."),
    ] = RecDataset.simulator,
    k: Annotated[int, typer.Option(help="Cut-off of precision, recall, NDCG and MAP.", min=1)] = 10,
    tune: Annotated[
        bool,
        typer.Option(help="Tune ALS and the blend weights on the validation split (minutes)."),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Hybrid recommender vs popularity and tuned plain ALS, on a chronological split.

    Train on earlier interactions, test on later ones; ALS and the blend weights are tuned on a
    validation split carved from the training period. For COCO first run
    `pathwise import coco ../shared/data/coco --out var/landing/coco`,
    `pathwise ingest var/landing/coco` and `pathwise build`.
    """
    from ml.evaluate_recs import evaluate_and_record, render

    report = evaluate_and_record(dataset.value, k=k, tune=tune)
    typer.echo(json.dumps(report, indent=2, default=str) if as_json else render(dataset, report))


@app.command("rag")
def evaluate_rag(
    baseline: Annotated[
        bool, typer.Option(help="Also measure dense search over fixed 200-word chunks.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Course Q&A on rag/eval/questions.yaml: hit@k and MRR per retrieval mode, refusals, latency."""
    from pathwise.settings import get_settings
    from rag.content import load_documents, prune_prefixes
    from rag.evaluate import evaluate, record, render
    from rag.retrieve import forget_retrievers
    from rag.store import index_documents

    content = [str(get_settings().shared_data / "content")]
    index_documents(load_documents(content), prune_prefixes=prune_prefixes(content), progress=True)
    forget_retrievers()
    report = evaluate(content, baseline=baseline)
    report["evaluation_id"] = record(report)
    typer.echo(json.dumps(report, indent=2, default=str) if as_json else render(report))
