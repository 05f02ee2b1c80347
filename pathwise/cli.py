"""`pathwise`: the one command for every part of the system.

Each subcommand is a thin wrapper: the work lives in `pathwise.sources` (simulator, importers),
`flows/` (Prefect flows) and, later, `ml/`, `rag/` and `apps/`. Imports are lazy so that
`pathwise --help` stays instant.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Pathwise: private learner-event ingestion, dbt marts and recommendations.\n\n"
    "Start with `make demo`, or: pathwise simulate --out var/landing && "
    "pathwise ingest var/landing && pathwise build",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
import_app = typer.Typer(
    help="Turn a real platform's export into contract events and catalog files.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")
evaluate_app = typer.Typer(
    help="Offline evaluations; each prints its figures and stores them in ml.evaluations.",
    no_args_is_help=True,
)
app.add_typer(evaluate_app, name="evaluate")


class FileFormat(StrEnum):
    parquet = "parquet"
    ndjson = "ndjson"


OutDir = Annotated[
    Path,
    typer.Option("--out", help="Folder to write events/ and catalog/ into.", show_default=True),
]
Format = Annotated[
    FileFormat, typer.Option("--format", help="Event file format (NDJSON is gzip-compressed).")
]


@app.command()
def simulate(
    learners: Annotated[int, typer.Option(help="Number of learners.", min=1)] = 2000,
    courses: Annotated[int, typer.Option(help="Number of courses in the catalog.", min=2)] = 60,
    days: Annotated[int, typer.Option(help="Days of platform activity.", min=1)] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 7,
    out: OutDir = Path("var/landing"),
    fmt: Format = FileFormat.parquet,
    start: Annotated[str, typer.Option(help="First simulated day (YYYY-MM-DD).")] = "2026-01-05",
    bad_share: Annotated[
        float,
        typer.Option(help="Share of events turned into bad input (0 disables).", min=0, max=0.5),
    ] = 0.01,
) -> None:
    """Simulate a learning platform: catalog, learners and a day-by-day event stream."""
    from pathwise.sources.simulator import simulate as run

    summary = run(
        learners=learners,
        courses=courses,
        days=days,
        seed=seed,
        out=out,
        fmt=fmt.value,
        start=start,
        bad_share=bad_share,
    )
    typer.echo(json.dumps(summary, indent=2, default=str))


@import_app.command("oulad")
def import_oulad(
    src: Annotated[Path, typer.Argument(help="Folder with the OULAD CSV files.")],
    out: OutDir = Path("var/landing/oulad"),
    fmt: Format = FileFormat.parquet,
) -> None:
    """Open University Learning Analytics Dataset -> contract events + catalog."""
    from pathwise.sources.oulad import import_oulad as run

    typer.echo(json.dumps(run(src, out, fmt.value), indent=2, default=str))


@import_app.command("coco")
def import_coco(
    src: Annotated[
        Path, typer.Argument(help="Folder with the COCO files (valid.txt, kg_final.txt, ...).")
    ],
    out: OutDir = Path("var/landing/coco"),
    fmt: Format = FileFormat.parquet,
) -> None:
    """COCO Udemy enrolments and knowledge graph -> contract events + catalog."""
    from pathwise.sources.coco import import_coco as run

    typer.echo(json.dumps(run(src, out, fmt.value), indent=2, default=str))


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files or folders of NDJSON, NDJSON.gz or Parquet events (and catalog/)."
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the batch summary as JSON.")
    ] = False,
) -> None:
    """Validate, pseudonymize and load events into the warehouse (a Prefect flow)."""
    from flows.ingest import ingest_flow, render_summary

    result = ingest_flow(paths=[str(p) for p in paths])
    typer.echo(json.dumps(result, indent=2, default=str) if as_json else render_summary(result))


@app.command()
def build(
    select: Annotated[str | None, typer.Option(help="dbt selection, e.g. 'staging'.")] = None,
    full_refresh: Annotated[bool, typer.Option(help="Rebuild incremental models.")] = False,
    docs: Annotated[
        bool, typer.Option(help="Then generate dbt docs (one static HTML file).")
    ] = False,
) -> None:
    """Run `dbt build` (models, seeds, tests) on the warehouse (a Prefect flow)."""
    from flows.build import build_flow, docs_flow

    result = build_flow(select=select, full_refresh=full_refresh)
    if docs:
        result["docs"] = docs_flow()
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command()
def demo(
    fmt: Format = FileFormat.parquet,
) -> None:
    """Run the whole system on a simulated platform and print a summary (safe to re-run)."""
    from flows.demo import demo_flow, render

    typer.echo(render(demo_flow(fmt=fmt.value)))


@app.command()
def nightly(
    landing: Annotated[
        list[Path] | None,
        typer.Option(
            help="Source folders to ingest (default: each folder under $PATHWISE_HOME/landing)."
        ),
    ] = None,
    algorithm: Annotated[str, typer.Option(help="Collaborative filtering: als or bpr.")] = "als",
    skip: Annotated[
        list[str] | None,
        typer.Option(help="Leave out a step this time (repeatable), e.g. --skip index."),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Instead: serve the deployment on its nightly schedule.")
    ] = False,
) -> None:
    """Ingest -> dbt build -> index -> train and score -> drift -> publish a serving snapshot."""
    from flows.nightly import nightly_flow, serve_nightly

    if serve:
        serve_nightly()
        return
    result = nightly_flow(
        landing=[str(p) for p in landing] if landing else None, algorithm=algorithm, skip=skip
    )
    typer.echo(json.dumps({k: result[k] for k in ("snapshot", "seconds")}, indent=2, default=str))


@app.command()
def publish(
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Serve the previously published snapshot again.")
    ] = False,
) -> None:
    """Publish the warehouse's marts and ML results as a new serving snapshot (or roll back)."""
    from pathwise import snapshots
    from pathwise.warehouse import connect

    if rollback:
        snap = snapshots.rollback()
    else:
        with connect(read_only=True) as con:
            snap = snapshots.publish(con)
    typer.echo(f"serving snapshot {snap.version} ({len(snap.tables)} tables)")
    typer.echo("on disk: " + ", ".join(snapshots.versions()))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Run the read API (recommendations with live admin controls) on the published snapshot."""
    import uvicorn

    from apps.api import create_app

    typer.echo(f"Pathwise read API on http://{host}:{port} (docs at /docs)")
    # No access log: request paths carry the platform's user ids.
    uvicorn.run(create_app(), host=host, port=port, log_level="warning", access_log=False)


users_app = typer.Typer(
    help="App accounts (admin, instructor, learner); passwords are stored bcrypt-hashed.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")


class Role(StrEnum):
    admin = "admin"
    instructor = "instructor"
    learner = "learner"


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Sign-in name (lowercase).")],
    role: Annotated[Role, typer.Option(help="What the account may see.")],
    instructor_id: Annotated[
        str | None, typer.Option(help="Instructors: the catalog's instructor_id.")
    ] = None,
    learner_key: Annotated[str | None, typer.Option(help="Learners: their learner_key.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    replace: Annotated[bool, typer.Option(help="Reset an existing account.")] = False,
) -> None:
    """Create an app account; prompts for the password (never pass it on the command line)."""
    import sys

    from apps.auth import AuthError, UserStore

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = UserStore().add(
            username,
            password,
            role.value,
            instructor_id=instructor_id,
            learner_key=learner_key,
            replace=replace,
        )
    except AuthError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"account {user.username} ({user.role}) saved")


@users_app.command("list")
def users_list() -> None:
    """List the accounts (never their passwords)."""
    from apps.auth import UserStore

    for u in UserStore().list():
        scope = u.instructor_id or u.learner_key or ""
        typer.echo(f"{u.username:<24} {u.role:<11} {scope}")


@users_app.command("remove")
def users_remove(username: Annotated[str, typer.Argument(help="Account to delete.")]) -> None:
    """Delete an account; its open sessions end at their next page load."""
    from apps.auth import UserStore

    if not UserStore().remove(username):
        raise typer.BadParameter(f"no account {username!r}")
    typer.echo(f"account {username} removed")


@users_app.command("demo")
def users_demo() -> None:
    """DEMO ONLY: accounts admin, instructor and learner with PATHWISE_DEMO_PASSWORD."""
    from apps.auth import demo_accounts

    for u in demo_accounts():
        typer.echo(f"demo account {u.username:<11} {u.instructor_id or u.learner_key or ''}")
    typer.echo("password: $PATHWISE_DEMO_PASSWORD (default 'pathwise-demo'); for demos only")


@app.command("app")
def run_app(
    port: Annotated[int, typer.Option(help="Port.")] = 8501,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Start the Streamlit app (Control Tower, creator dashboard, learner view)."""
    import os
    import sys

    from pathwise.settings import PROJECT_ROOT

    typer.echo(f"Pathwise app on http://{host}:{port} (sign in; accounts: `pathwise users`)")
    # A bound address also keeps Streamlit from calling out to find the machine's public IP.
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_ROOT / "apps" / "streamlit_app.py"),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--theme.primaryColor",
        "#3B5BDB",
    ]
    # Become Streamlit (no parent left behind to outlive it when the process is stopped).
    sys.stdout.flush()
    os.execv(sys.executable, cmd)


@evaluate_app.command("dropout")
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
    """Dropout model vs a logistic regression and the at-risk rule at 10/25/50/75% of the course.

    Fits on the earlier cohorts in the warehouse (OULAD: earlier presentations), validating
    forward on the latest of them (the gate), and tests on the latest cohort: ROC-AUC in
    validation and test, their gap, Brier scores. Same data, same figures. For OULAD:
    `pathwise import oulad ../shared/data/oulad --out var/landing/oulad`,
    `pathwise ingest var/landing/oulad`, `pathwise build`, then this command.
    """
    from ml.dropout import evaluate_and_record, render
    from pathwise.warehouse import connect

    with connect() as con:
        results = evaluate_and_record(con, dataset)
    typer.echo(json.dumps(results, indent=2, default=str) if as_json else render(results))


@evaluate_app.command("styles")
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


@evaluate_app.command("recs")
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


@app.command("index")
def index_content(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Lesson files or folders (Markdown, OpenStax CNXML, catalog courses.csv). "
            "Default: the content under PATHWISE_SHARED_DATA plus the warehouse catalog."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Index course content for Q&A in LanceDB (only changed documents are re-embedded)."""
    from flows.index_content import index_content_flow

    result = index_content_flow(paths=[str(p) for p in paths] if paths else None, progress=True)
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        typer.echo(
            f"{result['documents_seen']} documents: {result['documents_added']} added, "
            f"{result['documents_updated']} updated, {result['documents_deleted']} deleted, "
            f"{result['documents_unchanged']} unchanged -> {result['chunks_total']} chunks "
            f"in {result['path']}"
        )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    course: Annotated[
        str | None, typer.Option("--course", help="Answer from this course only (course_id).")
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(help="'extractive' or 'openai' (default: PATHWISE_RAG_BACKEND)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Answer a question from the indexed course content, with citations."""
    from rag.api import ask as run
    from rag.retrieve import IndexMissing

    stream = None if as_json else (lambda t: typer.echo(t, nl=False))
    try:
        answer = run(question, course_id=course, backend=backend, on_token=stream)
    except IndexMissing as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from e
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), indent=2, default=str))
        return
    if answer.refused:
        typer.echo(answer.text, nl=False)
    typer.echo("")
    if answer.notice:
        typer.secho(f"Notice: {answer.notice}", fg="yellow", err=True)
    for n, p in enumerate(answer.citations, 1):
        typer.echo(f"  [{n}] {p.citation} ({p.source})")
    typer.echo(f"({answer.backend}, {answer.latency_ms:.0f} ms)")


@evaluate_app.command("rag")
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


@app.command()
def status() -> None:
    """Show where the warehouse is and how many rows each table holds."""
    from pathwise.settings import get_settings
    from pathwise.warehouse import connect, table_counts

    s = get_settings()
    typer.echo(f"PATHWISE_HOME  {s.home}")
    typer.echo(f"warehouse      {s.warehouse_path} ({'encrypted' if s.encrypted else 'plain'})")
    if not s.warehouse_path.exists():
        typer.echo("no warehouse yet: run `make demo` or `pathwise ingest`")
        raise typer.Exit(1)
    with connect(read_only=True) as con:
        for table, n in table_counts(con).items():
            typer.echo(f"  {table:<40} {n:>12,}")


if __name__ == "__main__":
    app()
