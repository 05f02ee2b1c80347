"""Contact details, kept only in the identity vault, only for learners who agreed to e-mail.

    pathwise agents contact add USER_ID ADDRESS [--timezone Europe/Paris]   # the platform, on consent
    pathwise agents contact remove USER_ID                                  # consent withdrawn

The vault (`vault.contacts`) is the one place an e-mail address may live: the warehouse, the
outbox, logs and snapshots never hold one (tests/test_agents_privacy.py scans them). On top of the
vault file's own encryption (PATHWISE_VAULT_KEY), each address is sealed with AES-256-GCM under a
key derived (HKDF-SHA256, its own `info`) from the vault key, or from the pseudonym key when the
vault has none, with the learner_key as associated data: a copied cell neither reads nor moves to
another learner. The delivery worker looks an address up at send time and forgets it after the
send. Erasure deletes the row (`pathwise/rights/stores.py`, store `vault.contacts`).

The learner's time zone (for quiet hours) is stored beside the address: it is where the platform
tells us it, and it stays out of the warehouse like the address.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pathwise.privacy import EMAIL_RE, pseudonym
from pathwise.settings import Settings, get_settings


@dataclass(frozen=True)
class Contact:
    """What a channel needs at send time; never written anywhere."""

    learner_key: str
    user_id: str | None  # the platform's own id (the webhook names the learner with it)
    email: str | None  # only if the learner agreed to e-mail
    timezone: str | None


def _key(settings: Settings) -> bytes:
    secret = settings.vault_encryption_key or settings.pseudonym_key.get_secret_value()
    hkdf = HKDF(hashes.SHA256(), length=32, salt=None, info=b"pathwise contacts v1")
    return hkdf.derive(secret.encode())


def _seal(email: str, learner_key: str, settings: Settings) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(settings)).encrypt(nonce, email.encode(), learner_key.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def _unseal(sealed: str, learner_key: str, settings: Settings) -> str:
    raw = base64.urlsafe_b64decode(sealed)
    return AESGCM(_key(settings)).decrypt(raw[:12], raw[12:], learner_key.encode()).decode()


def check_timezone(name: str | None) -> str | None:
    """`name` if it is an IANA time zone this machine knows; a ValueError says otherwise."""
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Paris)") from exc
    return name


def register(
    con: duckdb.DuckDBPyConnection,
    user_id: str,
    email: str,
    timezone: str | None = None,
    settings: Settings | None = None,
) -> str:
    """Keep a learner's address (they agreed to e-mail); `con` has the vault attached. Returns
    the learner_key."""
    s = settings or get_settings()
    if not re.fullmatch(EMAIL_RE, email):
        raise ValueError("not an e-mail address")  # never echo it: it would land in a log
    learner_key = pseudonym(user_id, s.pseudonym_key.get_secret_value())
    con.execute(
        "insert or replace into vault.contacts values ($lk, $sealed, $tz, $at)",
        {
            "lk": learner_key,
            "sealed": _seal(email, learner_key, s),
            "tz": check_timezone(timezone),
            "at": datetime.now(UTC).replace(tzinfo=None),
        },
    )
    return learner_key


def forget(con: duckdb.DuckDBPyConnection, learner_key: str) -> int:
    """Delete a learner's contact details (consent withdrawn, or erasure). Returns rows."""
    return con.execute(
        "delete from vault.contacts where learner_key = $lk", {"lk": learner_key}
    ).fetchall()[0][0]


def lookup(
    con: duckdb.DuckDBPyConnection, learner_keys: list[str], settings: Settings | None = None
) -> dict[str, Contact]:
    """The contact details of these learners, for the send in progress only."""
    s = settings or get_settings()
    if not learner_keys:
        return {}
    rows = con.execute(
        """
        select k.learner_key, i.user_id, c.email_sealed, c.timezone
        from unnest($keys) as k(learner_key)
        left join vault.identities i using (learner_key)
        left join vault.contacts c using (learner_key)
        """,
        {"keys": learner_keys},
    ).fetchall()
    return {
        lk: Contact(lk, uid, sealed and _unseal(sealed, lk, s), tz) for lk, uid, sealed, tz in rows
    }


def with_email(con: duckdb.DuckDBPyConnection) -> set[str]:
    """learner_keys whose address the vault holds (who agreed to e-mail); no address is read."""
    return {r[0] for r in con.execute("select learner_key from vault.contacts").fetchall()}
