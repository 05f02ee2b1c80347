"""Privacy at the door: keyed pseudonyms and redaction of personal data in free text.

- `learner_key` = the first 32 hex digits of HMAC-SHA256(PATHWISE_PSEUDONYM_KEY, user_id). Keyed, so
  nobody without the key can confirm a guess of a user_id; stable, so a learner's events join up.
  The only way back is the identity vault (`$PATHWISE_HOME/vault.duckdb`).
- `session_key` = the same keyed hash of `"session" + US + session_id` (a distinct domain, so a
  session_key never equals a learner_key): platforms that build session ids from user ids
  (`s-<user>-<n>`) leak nothing, and a session's events still join up.
- `app_user_id`: the user_id Pathwise's own app writes on events of a signed-in learner, who is
  known to it only by learner_key: `pathwise-lk:<learner_key>:<tag>`, the tag the same keyed hash
  of the learner_key in a third domain. Ingestion takes the learner_key from it only when the tag
  checks out, so only a holder of the key can mint one; any other id (a forged tag included) is
  keyed like every user_id. The app never needs, holds or writes a platform id.
- E-mail addresses, phone numbers and IPv4 addresses in text become `[email]`, `[phone]`, `[ip]`.

Python and SQL versions compute the same thing (a test holds them together); ingestion uses the
SQL ones so they run vectorized inside DuckDB.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import duckdb

KEY_HEX_DIGITS = 32

# RE2 syntax (DuckDB) that Python's `re` also accepts.
EMAIL_RE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# Digit groups joined by separators ("+44 20 7946 0958", "(555) 123-4567", "555.123.4567") or
# one long run of 10-15 digits. Needs two separators, so decimals and dates do not match.
PHONE_RE = (
    r"(\+\d{1,3}[\s.-]?)?\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,5}"
    r"|\+?\b\d{10,15}\b"
)
IPV4_RE = r"\b(\d{1,3}\.){3}\d{1,3}\b"

# Prefix of the hashed text of a session_id: "session" and the ASCII unit separator.
SESSION_DOMAIN = "session\x1f"
# Prefix of an erased learner's tombstone: its own domain, so a tombstone is neither the
# learner_key (which erasure removes everywhere) nor anything else that can be looked up.
TOMBSTONE_DOMAIN = "erased\x1f"

# The user_id of an event the app writes for a learner it knows by learner_key (`app_user_id`).
APP_ID_PREFIX = "pathwise-lk:"
APP_DOMAIN = "app\x1f"

REDACTIONS = ((EMAIL_RE, "[email]"), (PHONE_RE, "[phone]"), (IPV4_RE, "[ip]"))


def pseudonym(user_id: str, key: str) -> str:
    """The learner_key of a user_id (reference implementation of `sql_pseudonym`)."""
    digest = hmac.new(key.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return digest[:KEY_HEX_DIGITS]


def session_key(session_id: str, key: str) -> str:
    """The stored key of a session_id (reference implementation of `sql_session_key`)."""
    return pseudonym(SESSION_DOMAIN + session_id, key)


def app_user_id(learner_key: str, key: str) -> str:
    """The user_id for an event the app writes on behalf of `learner_key` (ingestion keys it back
    to exactly that learner_key; reference for `sql_app_learner_key`)."""
    return f"{APP_ID_PREFIX}{learner_key}:{pseudonym(APP_DOMAIN + learner_key, key)}"


def tombstone(user_id: str, key: str) -> str:
    """What is kept of an erased learner (reference implementation of `sql_tombstone`)."""
    return pseudonym(TOMBSTONE_DOMAIN + user_id, key)


def redact(text: str) -> str:
    """Replace e-mail addresses, phone numbers and IPv4 addresses (reference for `sql_redact`)."""
    for pattern, token in REDACTIONS:
        text = re.sub(pattern, token, text)
    return text


def sql_redact(expr: str) -> str:
    """A SQL expression redacting `expr` (a VARCHAR expression) like `redact`."""
    for pattern, token in REDACTIONS:
        expr = f"regexp_replace({expr}, '{pattern}', '{token}', 'g')"
    return expr


def install_pseudonym_key(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """Put the HMAC pads of `key` in a temp table `_pseudonym_pads` (never in SQL text or logs)."""
    raw = key.encode()
    if len(raw) > 64:  # HMAC hashes long keys first
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(64, b"\0")
    con.execute("create or replace temp table _pseudonym_pads (ipad blob, opad blob)")
    con.execute(
        "insert into _pseudonym_pads values ($i, $o)",
        {"i": bytes(b ^ 0x36 for b in raw), "o": bytes(b ^ 0x5C for b in raw)},
    )


def sql_pseudonym(expr: str) -> str:
    """SQL for the learner_key of VARCHAR `expr`; the query must cross join `_pseudonym_pads`."""
    inner = f"unhex(sha256(ipad || encode({expr})))"
    return f"substr(sha256(opad || {inner}), 1, {KEY_HEX_DIGITS})"


def sql_session_key(expr: str) -> str:
    """SQL for the session_key of VARCHAR `expr` (cross join `_pseudonym_pads`, as above)."""
    return sql_pseudonym(f"'session' || chr(31) || {expr}")


def sql_app_learner_key(expr: str) -> str:
    """SQL: the learner_key inside an `app_user_id` whose tag checks out, else null (cross join
    `_pseudonym_pads`)."""
    lk = f"regexp_extract({expr}, '^{APP_ID_PREFIX}([0-9a-f]{{{KEY_HEX_DIGITS}}}):', 1)"
    tag = f"regexp_extract({expr}, ':([0-9a-f]{{{KEY_HEX_DIGITS}}})$', 1)"
    expected = sql_pseudonym("'app' || chr(31) || " + lk)
    return (
        f"case when starts_with({expr}, '{APP_ID_PREFIX}') and {lk} <> '' "
        f"and {tag} = {expected} then {lk} end"
    )


def sql_tombstone(expr: str) -> str:
    """SQL for the tombstone of user_id `expr` (cross join `_pseudonym_pads`, as above)."""
    return sql_pseudonym(f"'erased' || chr(31) || {expr}")


def sql_redact_capped(expr: str, chars: int) -> str:
    """SQL: `expr` redacted, then cut to `chars`. A window a little longer than what is kept is
    redacted first, so no e-mail address (<= 254 chars) or phone number straddles the cut and
    survives in part."""
    return f"left({sql_redact(f'left({expr}, {chars + 300})')}, {chars})"
