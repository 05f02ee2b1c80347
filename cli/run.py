"""Running the system: the demo, the nightly run, publishing, the read API and the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.data import FileFormat, Format

PANEL = "Run"
app = typer.Typer()


def _ready(component: str) -> None:
    """Stop here, saying what to set, if `component` may not start (PATHWISE_ENV=production)."""
    from pathwise.production import ProductionConfigError, check_startup

    try:
        check_startup(component)
    except ProductionConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


@app.command(rich_help_panel=PANEL)
def demo(
    fmt: Format = FileFormat.parquet,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Run even in a home holding accounts or data that are not the demo's."
        ),
    ] = False,
) -> None:
    """Run the whole system on a simulated platform and print a summary (safe to re-run)."""
    from flows.demo import DemoRefused, check_demo_home, demo_flow, render

    try:
        check_demo_home(force=force)
    except DemoRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(render(demo_flow(fmt=fmt.value, force=force)))


@app.command(rich_help_panel=PANEL)
def nightly(
    landing: Annotated[
        list[Path] | None,
        typer.Option(
            help="Source folders to ingest (default: each folder under $PATHWISE_HOME/landing)."
        ),
    ] = None,
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

    _ready("pathwise nightly")
    if serve:
        serve_nightly()
        return
    result = nightly_flow(landing=[str(p) for p in landing] if landing else None, skip=skip)
    typer.echo(json.dumps({k: result[k] for k in ("snapshot", "seconds")}, indent=2, default=str))


@app.command(rich_help_panel=PANEL)
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


@app.command(rich_help_panel=PANEL)
def serve(
    host: Annotated[
        str,
        typer.Option(help="Interface to listen on; beyond loopback only once a key exists."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Run the read API (recommendations with live admin controls) on the published snapshot.

    Callers need a key: `pathwise keys create <name> --role service`."""
    import uvicorn

    from apps.api import create_app
    from pathwise.api_keys import ApiKeyError, check_bind

    try:
        check_bind(host)
    except ApiKeyError as exc:
        raise typer.BadParameter(str(exc), param_hint="--host") from exc

    _ready("pathwise serve")
    typer.echo(f"Pathwise read API on http://{host}:{port} (docs at /docs)")
    # No access log: request paths carry the platform's user ids.
    uvicorn.run(create_app(), host=host, port=port, log_level="warning", access_log=False)


@app.command("app", rich_help_panel=PANEL)
def run_app(
    port: Annotated[int, typer.Option(help="Port.")] = 8501,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Start the Streamlit app (Control Tower, creator dashboard, learner view)."""
    import os
    import sys

    from pathwise.settings import PROJECT_ROOT

    _ready("the app")  # the app checks again itself (it can be started without this command)
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
