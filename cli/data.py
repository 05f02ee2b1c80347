"""Data in: simulate a platform, import real exports, ingest, build the marts, rebuild seeds, status."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

PANEL = "Data"
app = typer.Typer()
import_app = typer.Typer(
    help="Turn a real platform's export into contract events and catalog files.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import", rich_help_panel=PANEL)


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


@app.command(rich_help_panel=PANEL)
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
    completion_factor: Annotated[
        float,
        typer.Option(
            help="From --shift-from-day on, completions fall by this factor (0.8: 20% fewer).",
            min=0,
            max=1,
        ),
    ] = 1.0,
    shift_from_day: Annotated[
        int, typer.Option(help="First day (0-based) of the completion shift.", min=0)
    ] = 0,
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
        completion_factor=completion_factor,
        shift_from_day=shift_from_day,
    )
    typer.echo(json.dumps(summary, indent=2, default=str))


@import_app.command("oulad")
def import_oulad(
    src: Annotated[Path, typer.Argument(help="Folder with the OULAD CSV files.")],
    out: OutDir = Path("var/landing/oulad"),
    fmt: Format = FileFormat.parquet,
) -> None:
    """Open University Learning Analytics Dataset -> contract events + catalog.

    Reads courses, assessments, vle, studentInfo, studentRegistration and studentAssessment
    (.csv or .csv.gz), and the clickstream studentVle when the folder has it (one
    `material_view` per learner, site and day). Demographics are not read.
    """
    from pathwise.sources.oulad import import_oulad as run

    typer.echo(json.dumps(run(src, out, fmt.value), indent=2, default=str))


@import_app.command("coco")
def import_coco(
    src: Annotated[
        Path, typer.Argument(help="Folder with the COCO files (valid.txt, kg_final.txt, ...).")
    ],
    out: OutDir = Path("var/landing/coco"),
    fmt: Format = FileFormat.parquet,
    holdout_share: Annotated[
        float,
        typer.Option(
            help="Write the latest share of enrolments to OUT/holdout/ instead, to ingest after "
            "a nightly run and score what was served (`pathwise evaluate recs --served`).",
            min=0,
            max=0.9,
        ),
    ] = 0.0,
) -> None:
    """COCO Udemy enrolments and knowledge graph -> contract events + catalog."""
    from pathwise.sources.coco import import_coco as run

    typer.echo(json.dumps(run(src, out, fmt.value, holdout_share), indent=2, default=str))


@app.command(rich_help_panel=PANEL)
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


@app.command(rich_help_panel=PANEL)
def build(
    select: Annotated[str | None, typer.Option(help="dbt selection, e.g. 'staging'.")] = None,
    full_refresh: Annotated[bool, typer.Option(help="Rebuild incremental models.")] = False,
    docs: Annotated[
        bool, typer.Option(help="Then generate dbt docs (one static HTML file).")
    ] = False,
    print_env: Annotated[
        bool,
        typer.Option(
            "--print-env",
            help="Instead: print the environment for plain `dbt` on this warehouse, for "
            '`eval "$(pathwise build --print-env)"` (docs/analysts.md).',
        ),
    ] = False,
) -> None:
    """Run `dbt build` (models, seeds, tests) on the warehouse (a Prefect flow)."""
    from flows.build import build_flow, docs_flow, print_analyst_env

    if print_env:
        print_analyst_env()
        return

    _require_ingested()
    result = build_flow(select=select, full_refresh=full_refresh)
    if docs:
        result["docs"] = docs_flow()
    typer.echo(json.dumps(result, indent=2, default=str))


def _require_ingested() -> None:
    """Stop with what to do when nothing was ingested yet: dbt's sources are the `raw` schema, and
    without it `dbt build` fails with dozens of catalog errors that say nothing useful."""
    from pathwise.settings import get_settings
    from pathwise.warehouse import connect, table_exists

    s = get_settings()
    ingested = False
    if s.warehouse_path.exists():
        with connect(read_only=True) as con:
            ingested = table_exists(con, "raw", "events")
    if not ingested:
        typer.echo(
            f"Nothing ingested yet in {s.home}: run `pathwise ingest <folder of event files>` "
            "first (or `make demo` for a simulated platform).",
            err=True,
        )
        raise typer.Exit(1)


@app.command(rich_help_panel=PANEL)
def seeds(
    shared_data: Annotated[
        Path | None,
        typer.Option(
            help="Folder holding skills/onet_29_2 and skills/esco (default: PATHWISE_SHARED_DATA)."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Seed folder (default: seeds/).")] = None,
) -> None:
    """Rebuild the O*NET / ESCO reference seeds (occupations, skills, role skills) in seeds/."""
    from pathwise.settings import PROJECT_ROOT, get_settings
    from pathwise.sources.taxonomy import build_seeds

    out = out or PROJECT_ROOT / "seeds"
    for name, n in build_seeds(shared_data or get_settings().shared_data, out).items():
        typer.echo(f"{out / name}: {n:,} rows")


@app.command(rich_help_panel=PANEL)
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
        counts = table_counts(con)
    width = max(map(len, counts), default=0)  # names grow with the project: align to the longest
    for table, n in counts.items():
        typer.echo(f"  {table:<{width}} {n:>13,}")
