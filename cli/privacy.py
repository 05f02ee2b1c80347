"""Data-subject rights: erase and export one learner; retention: purge what is older than
PATHWISE_RETENTION_MONTHS (docs/privacy.md#rights)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Data-subject rights (erase or export everything held about one learner) and retention "
    "(purge what is older than PATHWISE_RETENTION_MONTHS).",
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


@app.command("purge")
def privacy_purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would go, per store.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Purge learner data older than PATHWISE_RETENTION_MONTHS from every store, as the nightly
    run does; then rebuild what derives from it (dbt with the incremental models refreshed, the
    ML results, a new snapshot). Audited; safe to repeat.

    Stop the API and the app first: the warehouse and the vault are rewritten."""
    from flows.nightly import NightlyStepFailed, nightly_flow
    from pathwise.rights.retention import purge
    from pathwise.settings import get_settings

    months = get_settings().retention_months
    if not dry_run and not yes:
        typer.confirm(f"Delete everything older than {months} months from every store?", abort=True)
    report = purge(dry_run=dry_run, requested_by=getpass.getuser())
    if report.cutoff is None:
        typer.echo("PATHWISE_RETENTION_MONTHS=0: retention is off, nothing is purged")
        return
    verb = "would go" if dry_run else "deleted"
    typer.echo(f"cutoff {report.cutoff:%Y-%m-%d} (PATHWISE_RETENTION_MONTHS={months})")
    for store, n in report.deleted.items():
        typer.echo(f"{store:<28} {n:>8} {verb}")
    if dry_run:
        typer.echo("dry run: nothing changed (derived tables are rebuilt after a real purge)")
        return
    if report.warehouse_changed:
        typer.echo("rebuilding the marts, ML results and the snapshot from the retained data...")
        try:
            nightly_flow(skip=["ingest", "retention", "index"], full_refresh=True)
        except NightlyStepFailed as exc:  # a second purge deletes nothing, so it would not rebuild
            typer.echo(
                f"{exc} The purge itself is done; rebuild with `pathwise build --full-refresh`, "
                "then `pathwise nightly --skip ingest --skip index`.",
                err=True,
            )
            raise typer.Exit(1) from exc
    typer.echo(f"purge {report.purge_id} done in {report.seconds:.1f} s (audited)")
