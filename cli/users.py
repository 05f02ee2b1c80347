"""App accounts: add, list, remove, the sign-in audit, and the demo accounts."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

app = typer.Typer(
    help="App accounts (admin, instructor, learner); passwords are stored bcrypt-hashed.",
    no_args_is_help=True,
)


class Role(StrEnum):
    admin = "admin"
    instructor = "instructor"
    learner = "learner"


@app.command("add")
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
    replace: Annotated[
        bool,
        typer.Option(help="Reset an existing account (ends its open sessions, lifts a lock-out)."),
    ] = False,
) -> None:
    """Create an app account; prompts for the password (12+ characters, at most 72 bytes)."""
    import sys

    from pathwise.accounts import AuthError, UserStore

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


@app.command("list")
def users_list() -> None:
    """List the accounts (never their passwords)."""
    from pathwise.accounts import UserStore

    for u in UserStore().list():
        scope = u.instructor_id or u.learner_key or ""
        typer.echo(f"{u.username:<24} {u.role:<11} {scope}")


@app.command("remove")
def users_remove(username: Annotated[str, typer.Argument(help="Account to delete.")]) -> None:
    """Delete an account; its open sessions end at their next page load."""
    from pathwise.accounts import UserStore

    if not UserStore().remove(username):
        raise typer.BadParameter(f"no account {username!r}")
    typer.echo(f"account {username} removed")


@app.command("audit")
def users_audit(
    limit: Annotated[int, typer.Option(help="Newest rows to show.")] = 50,
    user: Annotated[str | None, typer.Option(help="Only this username.")] = None,
) -> None:
    """Sign-ins, failures, lock-outs, creations, resets and removals, newest first."""
    from pathwise.accounts import UserStore

    for row in UserStore().audit(limit, user):
        extra = " ".join(f"{k}={row[k]}" for k in ("client", "detail") if row[k])
        typer.echo(f"{row['at']}  {row['username']:<24} {row['event']:<15} {extra}".rstrip())


@app.command("demo")
def users_demo(
    force: Annotated[
        bool, typer.Option("--force", help="Even beside (or over) accounts that are not demo ones.")
    ] = False,
) -> None:
    """DEMO ONLY: accounts admin, instructor and learner with PATHWISE_DEMO_PASSWORD."""
    from pathwise.accounts import AuthError, demo_accounts

    try:
        accounts = demo_accounts(force=force)
    except AuthError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from exc
    for u in accounts:
        typer.echo(f"demo account {u.username:<11} {u.instructor_id or u.learner_key or ''}")
    typer.echo("password: $PATHWISE_DEMO_PASSWORD (default 'pathwise-demo'); for demos only")
