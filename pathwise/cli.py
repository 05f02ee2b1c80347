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
        landing=[str(p) for p in landing] if landing else None, algorithm=algorithm
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
