"""The agent layer: run agents, deliver the outbox, the kill switch, contact details (agents/)."""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer

app = typer.Typer(
    help="Agents that act on what the marts show: re-engagement nudges and cohort campaigns, "
    "within the guardrails.",
    no_args_is_help=True,
)
contact = typer.Typer(
    help="E-mail addresses of learners who agreed to e-mail (kept only in the vault).",
    no_args_is_help=True,
)
app.add_typer(contact, name="contact")


@app.command("run")
def agents_run(
    names: Annotated[
        list[str] | None, typer.Argument(help="Agents to run (default: all): reengage, campaigns.")
    ] = None,
    send: Annotated[bool, typer.Option(help="Deliver what is due afterwards.")] = True,
) -> None:
    """Decide tonight's messages (consent, holdout, caps, kill switch), then deliver them."""
    from agents.run import run_agents

    try:
        summary = run_agents(names or None, send=send)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(json.dumps(summary, indent=2, default=str))


@app.command("deliver")
def agents_deliver() -> None:
    """Send every due message (retries with backoff, dead letter after the last attempt)."""
    from agents.delivery import deliver

    typer.echo(json.dumps(deliver(), indent=2))


@app.command("pause")
def agents_pause(
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")],
) -> None:
    """The kill switch: no agent decides or sends anything until `pathwise agents resume`."""
    from pathwise.controls import ControlStore

    ControlStore().pause_agents(True, reason=reason, actor=getpass.getuser())
    typer.echo("agents paused: nothing is decided or sent until `pathwise agents resume`")


@app.command("resume")
def agents_resume(
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")],
) -> None:
    """Lift the kill switch; messages held meanwhile go out on the next delivery."""
    from pathwise.controls import ControlStore

    ControlStore().pause_agents(False, reason=reason, actor=getpass.getuser())
    typer.echo("agents resumed")


@contact.command("add")
def contact_add(
    user_id: Annotated[str, typer.Argument(help="The learner's platform user_id.")],
    email: Annotated[
        str,
        typer.Option(
            prompt="E-mail address",
            help="The address they agreed to be e-mailed at (asked for when not given, so it "
            "stays out of the shell's history).",
        ),
    ],
    timezone: Annotated[
        str | None, typer.Option(help="Their IANA time zone, for quiet hours.")
    ] = None,
) -> None:
    """Keep a learner's address in the vault (sealed): only once they agreed to e-mail."""
    from pathwise.contacts import register
    from pathwise.warehouse import connect

    try:
        with connect(vault=True) as con:
            register(con, user_id, email, timezone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo("address kept in the vault")


@contact.command("remove")
def contact_remove(
    user_id: Annotated[str, typer.Argument(help="The learner's platform user_id.")],
) -> None:
    """Forget a learner's address (they withdrew consent to e-mail)."""
    from pathwise.contacts import forget
    from pathwise.privacy import pseudonym
    from pathwise.settings import get_settings
    from pathwise.warehouse import connect

    key = pseudonym(user_id, get_settings().pseudonym_key.get_secret_value())
    with connect(vault=True) as con:
        n = forget(con, key)
    typer.echo("address forgotten" if n else "the vault held no address for this learner")
