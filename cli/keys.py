"""Read-API keys: create, list, revoke, rotate (the secret is shown once, only its hash is kept)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

app = typer.Typer(
    help="Keys for the read API (service, learner, admin); stored only as hashes.",
    no_args_is_help=True,
)


class KeyRole(StrEnum):
    service = "service"
    learner = "learner"
    admin = "admin"


def _show_secret(key_id: str, token: str) -> None:
    typer.echo(f"key {key_id} created; its secret, shown only this once:\n\n  {token}\n")
    typer.echo("Call the API with the header `Authorization: Bearer <that secret>`.")


@app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. 'platform-web'.")],
    role: Annotated[
        KeyRole,
        typer.Option(help="service: any learner; learner: one learner's own list; admin: all."),
    ],
    learner_key: Annotated[
        str | None, typer.Option(help="Learner keys: the learner_key they may ask about.")
    ] = None,
    user_id: Annotated[
        str | None,
        typer.Option(
            help="Learner keys: the platform's user id instead (pseudonymized, not kept)."
        ),
    ] = None,
) -> None:
    """Create a key and print its secret once."""
    from pathwise.api_keys import ApiKeyError, KeyStore
    from pathwise.privacy import pseudonym
    from pathwise.settings import get_settings

    if user_id is not None:
        if learner_key is not None:
            raise typer.BadParameter("give --learner-key or --user-id, not both")
        learner_key = pseudonym(user_id, get_settings().pseudonym_key.get_secret_value())
    try:
        key, token = KeyStore().create(name, role.value, learner_key)
    except ApiKeyError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _show_secret(key.key_id, token)


@app.command("list")
def keys_list() -> None:
    """List the keys (never their secrets)."""
    from pathwise.api_keys import KeyStore

    for k in KeyStore().list():
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        typer.echo(
            f"{k.key_id}  {k.name:<20} {k.role:<8} {k.learner_key or '':<32}  "
            f"created {k.created_at}  {state}"
        )


@app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (`keys list`).")]) -> None:
    """Revoke a key; a running API refuses it from its next request."""
    from pathwise.api_keys import ApiKeyError, KeyStore

    try:
        KeyStore().revoke(key_id)
    except ApiKeyError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"key {key_id} revoked")


@app.command("rotate")
def keys_rotate(key_id: Annotated[str, typer.Argument(help="The key's id (`keys list`).")]) -> None:
    """Replace a key by a new one (same name, role and learner); the old one is revoked now."""
    from pathwise.api_keys import ApiKeyError, KeyStore

    try:
        key, token = KeyStore().rotate(key_id)
    except ApiKeyError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"key {key_id} revoked")
    _show_secret(key.key_id, token)
