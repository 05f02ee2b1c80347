"""App accounts: add, list, remove, and the demo accounts."""

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
    replace: Annotated[bool, typer.Option(help="Reset an existing account.")] = False,
) -> None:
    """Create an app account; prompts for the password (never pass it on the command line)."""
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


@app.command("demo")
def users_demo() -> None:
    """DEMO ONLY: accounts admin, instructor and learner with PATHWISE_DEMO_PASSWORD."""
    from pathwise.accounts import demo_accounts

    for u in demo_accounts():
        typer.echo(f"demo account {u.username:<11} {u.instructor_id or u.learner_key or ''}")
    typer.echo("password: $PATHWISE_DEMO_PASSWORD (default 'pathwise-demo'); for demos only")
