"""Running the system: the demo, the nightly run, publishing, the read API and the app (and their
local development certificate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.data import FileFormat, Format

if TYPE_CHECKING:
    from pathwise.tls import ServerTLS

PANEL = "Run"
app = typer.Typer()


def _ready(component: str) -> None:
    """Stop here, saying what to set, if `component` may not start (PATHWISE_ENV=production)."""
    _stop_if(_production_problem(component))


def _ready_to_serve(component: str, host: str) -> ServerTLS | None:
    """As `_ready`, and the certificate to serve on `host` (None: plain HTTP, where allowed)."""
    from pathwise.tls import TLSConfigError, server_tls

    problems, tls = [_production_problem(component)], None
    try:
        tls = server_tls(host, component)
    except TLSConfigError as exc:
        problems.append(str(exc))
    _stop_if(*problems)
    return tls


def _production_problem(component: str) -> str | None:
    from pathwise.production import ProductionConfigError, check_startup

    try:
        check_startup(component)
    except ProductionConfigError as exc:
        return str(exc)
    return None


def _stop_if(*problems: str | None) -> None:
    found = [p for p in problems if p]
    if found:
        typer.echo("\n".join(found), err=True)
        raise typer.Exit(2)


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
    """Ingest -> retention -> dbt build -> index -> train and score -> drift -> publish a serving
    snapshot."""
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
    """Publish the warehouse's marts, ML results and model cards as a new serving snapshot (or
    roll back)."""
    from flows.nightly import publish_snapshot
    from pathwise import snapshots

    snap = snapshots.rollback() if rollback else publish_snapshot()
    typer.echo(f"serving snapshot {snap.version} ({len(snap.tables)} tables)")
    typer.echo("on disk: " + ", ".join(snapshots.versions()))


@app.command(rich_help_panel=PANEL)
def serve(
    host: Annotated[
        str,
        typer.Option(
            help="Interface to listen on; beyond loopback only once a key exists, and with TLS."
        ),
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

    tls = _ready_to_serve("pathwise serve", host)
    scheme = "https" if tls else "http"
    typer.echo(f"Pathwise read API on {scheme}://{host}:{port} (docs at /docs)")
    # No access log: request paths carry the platform's user ids.
    uvicorn.run(
        create_app(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ssl_certfile=tls.cert if tls else None,
        ssl_keyfile=tls.key if tls else None,
    )


@app.command("app", rich_help_panel=PANEL)
def run_app(
    port: Annotated[int, typer.Option(help="Port.")] = 8501,
    host: Annotated[
        str, typer.Option(help="Interface to listen on; beyond loopback only with TLS.")
    ] = "127.0.0.1",
) -> None:
    """Start the Streamlit app (Control Tower, creator dashboard, learner view)."""
    import os
    import sys

    from pathwise.settings import PROJECT_ROOT

    # The app checks again itself (it can be started without this command).
    tls = _ready_to_serve("the app", host)
    scheme = "https" if tls else "http"
    typer.echo(f"Pathwise app on {scheme}://{host}:{port} (sign in; accounts: `pathwise users`)")
    # A bound address also keeps Streamlit from calling out to find the machine's public IP.
    cmd = [
        sys.executable,
        "-m",
        "apps.serve",  # Streamlit's command line, with the app's cache warmer (apps/warm.py)
        "run",
        str(PROJECT_ROOT / "apps" / "streamlit_app.py"),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        # Served code does not change while it runs: no watching of every imported module's file.
        "--server.fileWatcherType",
        "none",
        # No full garbage collection after every page run: with pandas, Arrow and LanceDB
        # loaded it cost more CPU than a sign-in's bcrypt (Python still collects as it goes).
        "--runner.postScriptGC",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--theme.primaryColor",
        "#3B5BDB",
    ]
    if tls:
        cmd += ["--server.sslCertFile", str(tls.cert), "--server.sslKeyFile", str(tls.key)]
    # Become Streamlit (no parent left behind to outlive it when the process is stopped).
    sys.stdout.flush()
    os.execv(sys.executable, cmd)


@app.command("dev-cert", rich_help_panel=PANEL)
def dev_cert(
    host: Annotated[
        list[str] | None,
        typer.Option(help="Another name or address to certify besides localhost (repeatable)."),
    ] = None,
    new_ca: Annotated[
        bool, typer.Option("--new-ca", help="Replace the local CA (trust the new ca.pem again).")
    ] = False,
) -> None:
    """Make a local CA and an HTTPS certificate for localhost (development; offline)."""
    from pathwise.devcert import DevCertError, make_dev_cert
    from pathwise.settings import get_settings

    try:
        made = make_dev_cert(get_settings().tls_dir, tuple(host or ()), new_ca=new_ca)
    except DevCertError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"{'new' if made.new_ca else 'kept the'} local CA: {made.ca}\n"
        f"server certificate for {', '.join(made.hosts)}: {made.cert}\n\n"
        "Serve HTTPS with it (in .env or the environment):\n"
        f"  PATHWISE_TLS_CERT={made.cert}\n"
        f"  PATHWISE_TLS_KEY={made.key}\n"
        f"Trust the CA in your browser (or `curl --cacert {made.ca}`); it can vouch for these "
        "names only."
    )
