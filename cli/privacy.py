"""Data-subject rights: erase and export one learner (docs/privacy.md#rights)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Data-subject rights: erase or export everything held about one learner.",
    no_args_is_help=True,
)


@app.command("erase")
def privacy_erase(
    user_id: Annotated[str, typer.Argument(help="The learner's platform user_id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a learner from every store, leave a tombstone, compact; resumes after a crash.

    Stop the API and the app first: the warehouse and the vault are rewritten."""
    from pathwise.rights.erase import erase

    if not yes:
        typer.confirm(
            f"Erase learner {user_id!r} from every store? This cannot be undone", abort=True
        )
    report = erase(user_id, requested_by=getpass.getuser())
    if not report.known:
        typer.echo("the vault did not know this user_id; erased what matched it anyway")
    if report.resumed:
        typer.echo("resumed an interrupted erasure")
    for store, n in report.deleted.items():
        typer.echo(f"{store:<28} {n:>8} deleted")
    typer.echo(f"erasure {report.erasure_id} done in {report.seconds:.1f} s (audited, tombstoned)")


@app.command("export")
def privacy_export(
    user_id: Annotated[str, typer.Argument(help="The learner's platform user_id.")],
    out: Annotated[
        Path | None, typer.Option(help="Folder to write (and OUT.zip); default ./export-<time>.")
    ] = None,
) -> None:
    """Export everything held about a learner as JSON + CSVs (a folder and its zip)."""
    from datetime import UTC, datetime

    from pathwise.rights.export import export

    folder = out or Path(f"export-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    archive = export(user_id, folder)
    typer.echo(f"learner.json and tables/ in {folder}; all of it in {archive}")
