"""Read-API credentials: random secrets shown once, stored only as SHA-256 hashes.

    pathwise keys create platform --role service     # prints the key once
    curl -H "Authorization: Bearer pw_..." http://127.0.0.1:8000/v1/learners/u42/recommendations

Three kinds of key: `service` (the platform's backend: any learner), `learner` (one learner's own
list: its scope is that learner_key) and `admin`. A key is `pw_<key_id>_<secret>` with 256 random
bits of secret, so a plain SHA-256 is as good as a slow hash (nothing to brute-force) and lets the
API check a key in microseconds. The store is one JSON file (mode 0600) rewritten atomically, sealed
(AES-GCM, pathwise/at_rest.py) when PATHWISE_WAREHOUSE_KEY is set: it names learners' keys. The
API re-reads it when it changes, so a created or revoked key takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pathwise.at_rest import seal, unseal, write_private
from pathwise.settings import get_settings

KEY_ROLES = ("service", "learner", "admin")
PREFIX = "pw"


class ApiKeyError(ValueError):
    """A key request that cannot be honoured; the message says what to do."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    role: str
    learner_key: str | None  # the one learner a `learner` key may ask about
    sha256: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class KeyStore:
    """The key file under PATHWISE_HOME; safe to share between the CLI and a running API."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or get_settings().api_keys_path
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read
        self._by_id: dict[str, ApiKey] = {}

    # -------------------------------------------------------------- reading
    def _load(self) -> dict[str, ApiKey]:
        """The keys, re-read only when the file changed (one stat per call)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._seen, self._by_id = None, {}
            return self._by_id
        if (st.st_mtime_ns, st.st_size) != self._seen:
            rows = json.loads(unseal(self.path.read_bytes(), "api_keys"))["keys"]
            self._by_id = {r["key_id"]: ApiKey(**r) for r in rows}
            self._seen = (st.st_mtime_ns, st.st_size)
        return self._by_id

    def list(self) -> list[ApiKey]:
        return sorted(self._load().values(), key=lambda k: k.created_at)

    def any_active(self) -> bool:
        return any(k.active for k in self._load().values())

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key this token is, or None (unknown, revoked or malformed)."""
        prefix, _, rest = token.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != PREFIX or not key_id or not secret:
            return None
        key = self._load().get(key_id)
        if key is None or not key.active:
            return None
        return key if hmac.compare_digest(key.sha256, _hash(token)) else None

    # -------------------------------------------------------------- writing
    def _save(self, keys: dict[str, ApiKey]) -> None:
        data = json.dumps({"keys": [asdict(k) for k in keys.values()]}, indent=1).encode()
        write_private(self.path, seal(data, "api_keys"))

    def create(self, name: str, role: str, learner_key: str | None = None) -> tuple[ApiKey, str]:
        """A new key and its secret token (shown once: only its hash is kept)."""
        if role not in KEY_ROLES:
            raise ApiKeyError(f"role must be one of {', '.join(KEY_ROLES)}, not {role!r}")
        if (role == "learner") != (learner_key is not None):
            raise ApiKeyError("a learner key needs --learner-key (or --user-id); other roles none")
        with self._lock:
            keys = dict(self._load())
            key_id = secrets.token_hex(4)
            while key_id in keys:
                key_id = secrets.token_hex(4)
            token = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
            key = ApiKey(key_id, name, role, learner_key, _hash(token), _now())
            keys[key_id] = key
            self._save(keys)
        return key, token

    def forget_learner(self, learner_key: str) -> int:
        """Delete (not revoke: erasure keeps nothing) every key scoped to this learner."""
        with self._lock:
            keys = dict(self._load())
            kept = {k: v for k, v in keys.items() if v.learner_key != learner_key}
            if len(kept) < len(keys):
                self._save(kept)
        return len(keys) - len(kept)

    def revoke(self, key_id: str) -> ApiKey:
        with self._lock:
            keys = dict(self._load())
            key = keys.get(key_id)
            if key is None:
                raise ApiKeyError(f"no key {key_id!r}: see `pathwise keys list`")
            if key.active:
                keys[key_id] = key = ApiKey(**{**asdict(key), "revoked_at": _now()})
                self._save(keys)
        return key

    def rotate(self, key_id: str) -> tuple[ApiKey, str]:
        """A new key with the same name, role and scope; the old one is revoked."""
        old = self.revoke(key_id)
        return self.create(old.name, old.role, old.learner_key)


class RateLimiter:
    """A token bucket per key: `per_minute` requests a minute, bursts up to that many."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}  # key_id -> (tokens, at)
        self._lock = threading.Lock()

    def retry_after(self, key_id: str) -> float:
        """0 if this request may go ahead (and is counted), else seconds until it may."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.rate


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost: assume it reaches the network


def check_bind(host: str, store: KeyStore | None = None) -> None:
    """Refuse to serve the API beyond this machine before any key exists to call it with."""
    if is_loopback(host) or (store or KeyStore()).any_active():
        return
    raise ApiKeyError(
        f"Refusing to listen on {host}: no API key exists yet, so nobody could call the API. "
        "Create one first: `pathwise keys create <name> --role service` (or keep the default "
        "--host 127.0.0.1)."
    )
