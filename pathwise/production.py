"""Start-up checks for `PATHWISE_ENV=production`: refuse to run on development secrets.

The app, `pathwise serve` and `pathwise nightly` call `check_startup` first. In production it
raises `ProductionConfigError` listing every problem and what to set:

    - the pseudonym key is a published default or shorter than 32 characters
      (anyone with the code could recompute every learner_key from a platform user id)
    - the account store holds demo accounts (their password is public)
    - no (or a short) at-rest key: the warehouse, snapshots, the recommendation log, accounts,
      controls and API keys would be plain files
    - no (or a short) vault key, or the warehouse's: the identity vault would be a plain file, or
      open to whoever holds the warehouse key
    - platform files in PATHWISE_HOME/landing (plain, as the platform wrote them) on a volume not
      seen to be encrypted (no dm-crypt/LUKS), unless PATHWISE_LANDING_VOLUME_ENCRYPTED vouches

In development it only logs a warning when the default pseudonym key is in use, or when the
warehouse is encrypted but the vault (no PATHWISE_VAULT_KEY) is not.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from pathwise.at_rest import volume_encrypted
from pathwise.settings import DEFAULT_PSEUDONYM_KEY, Settings, get_settings

MIN_PSEUDONYM_KEY_LENGTH = 32
MIN_SECRET_LENGTH = 32  # the at-rest keys' too
NEW_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
# The code's default and .env.example's placeholder: public, so never a production key.
PUBLIC_KEYS = (DEFAULT_PSEUDONYM_KEY, "change-me-to-a-long-random-secret")
log = logging.getLogger("pathwise")


class ProductionConfigError(RuntimeError):
    """Production settings that must change before start-up; the message says how."""


def problems(settings: Settings | None = None) -> list[str]:
    """What stops `settings` from running in production, each with what to set (empty: ready)."""
    s = settings or get_settings()
    found = []
    key = s.pseudonym_key.get_secret_value()
    if key in PUBLIC_KEYS:
        found.append(
            "PATHWISE_PSEUDONYM_KEY is a published default: set it to a random secret of at "
            f"least {MIN_PSEUDONYM_KEY_LENGTH} characters (e.g. `{NEW_SECRET}`) before the "
            "first ingest (changing it later changes every learner_key)"
        )
    elif len(key) < MIN_PSEUDONYM_KEY_LENGTH:
        found.append(
            f"PATHWISE_PSEUDONYM_KEY has {len(key)} characters: set a random secret of at least "
            f"{MIN_PSEUDONYM_KEY_LENGTH} (e.g. `{NEW_SECRET}`)"
        )
    found += _at_rest_problems(s)
    if s.users_path.exists():  # no store yet: no accounts at all (and none created here)
        from pathwise.accounts import UserStore

        demo = [u.username for u in UserStore(s.users_path).list() if u.demo]
        if demo:
            found.append(
                f"demo accounts with the public demo password exist ({', '.join(demo)}): remove "
                f"them with `pathwise users remove NAME` (store {s.users_path})"
            )
    return found


def _at_rest_problems(s: Settings) -> list[str]:
    found = []
    keys = {
        "PATHWISE_WAREHOUSE_KEY": (
            s.encryption_key,
            "the warehouse, snapshots, the recommendation log, accounts, controls and API keys",
        ),
        "PATHWISE_VAULT_KEY": (s.vault_encryption_key, "the identity vault (its own key)"),
    }
    for name, (key, what) in keys.items():
        if key is None:
            found.append(
                f"{name} is not set: set it (e.g. `{NEW_SECRET}`) to encrypt {what} at rest "
                "(before the first ingest)"
            )
        elif len(key) < MIN_SECRET_LENGTH:
            found.append(
                f"{name} has {len(key)} characters: set a random secret of at least "
                f"{MIN_SECRET_LENGTH} (e.g. `{NEW_SECRET}`)"
            )
    if _landing_files(s.landing_dir) and not s.landing_volume_encrypted:
        seen = volume_encrypted(s.landing_dir)
        if not seen:
            found.append(
                f"{s.landing_dir} holds platform files, which Pathwise reads as the platform wrote "
                "them (plain), on a volume "
                + (
                    "with no dm-crypt/LUKS device below it"
                    if seen is False
                    else "whose encryption cannot be seen from this machine"
                )
                + ": put PATHWISE_HOME/landing on an encrypted volume, or, if the disk is encrypted "
                "below what the machine sees (a cloud provider's volume encryption), set "
                "PATHWISE_LANDING_VOLUME_ENCRYPTED=true"
            )
    if s.encryption_key and s.encryption_key == s.vault_encryption_key:
        found.append(
            "PATHWISE_VAULT_KEY equals PATHWISE_WAREHOUSE_KEY: give the vault its own secret, "
            "so that whoever holds the warehouse key cannot read the identities"
        )
    return found


def _landing_files(folder: Path) -> bool:
    return folder.exists() and any(p.is_file() for p in folder.rglob("*"))


def check_startup(component: str) -> None:
    """Refuse to start `component` in production on development secrets; in development, warn."""
    s = get_settings()
    if s.env == "production":
        found = problems(s)
        if found:
            raise ProductionConfigError(
                f"PATHWISE_ENV=production: {component} refuses to start until you fix:\n"
                + "\n".join(f"  - {p}" for p in found)
            )
        return
    if s.pseudonym_key.get_secret_value() in PUBLIC_KEYS:
        _warn_default_key()
    if s.encrypted and not s.vault_encryption_key:
        _warn_plain_vault()


@cache  # once per process (the app re-runs its script on every interaction)
def _warn_default_key() -> None:
    log.warning(
        "PATHWISE_PSEUDONYM_KEY is a published default: fine for a demo, never for real "
        "learners (PATHWISE_ENV=production refuses it)"
    )


@cache
def _warn_plain_vault() -> None:
    log.warning(
        "PATHWISE_WAREHOUSE_KEY is set but PATHWISE_VAULT_KEY is not: the identity vault is a plain "
        "file (PATHWISE_ENV=production refuses this)"
    )
