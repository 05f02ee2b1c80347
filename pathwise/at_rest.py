"""Everything Pathwise keeps under PATHWISE_HOME is private to its user and, with a key, encrypted.

Modes: folders 0700, files 0600. The composition roots (the `pathwise` command, the app) call
`private_process()` first: it sets the umask to 0o077, so files that DuckDB, dbt, SQLite and LanceDB
create are private too, and tightens a home made before this rule. Pathwise's own writers also
create their files with `private_dir` / `write_private` / `open_private_append`, so they are private
whatever the caller's umask.

Keys (docs/privacy.md, "At rest"):
    PATHWISE_WAREHOUSE_KEY  the warehouse (DuckDB's own AES-GCM) and, through keys derived from it
                            with HKDF-SHA256 (one per store, so a leaked store key opens one
                            store): snapshots (Parquet modular encryption), the recommendation log
                            and api_keys.json (AES-GCM records, below), users.sqlite,
                            controls.sqlite, outbox.sqlite and
                            learning_paths.sqlite (SQLCipher 4)
    PATHWISE_VAULT_KEY      the identity vault only (its own key: the warehouse key never opens it)

A sealed record is `pathwise-sealed-v1:` + base64url(nonce || AES-256-GCM ciphertext and tag), with
the store's name as associated data: one ASCII line, so the hourly recommendation log stays
append-only (one record per write) and a record moved to another store does not decrypt. Readers
accept plain content too (files written before a key was set), so setting a key needs no
migration step; SQLite stores are encrypted in place on first open with the key (`sqlite_connect`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import sqlite3
import stat
import uuid
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pathwise.settings import Settings, get_settings

PRIVATE_UMASK = 0o077
DIR_MODE, FILE_MODE = 0o700, 0o600
SEALED = b"pathwise-sealed-v1:"
SQLITE_HEADER = b"SQLite format 3\x00"
# Stores whose keys derive from the warehouse key (HKDF `info`); renaming one changes its key.
STORES = ("snapshots", "rec_log", "api_keys", "users", "controls", "outbox", "learning_paths")


class AtRestError(RuntimeError):
    """A store that cannot be read with the key in force; the message says which key to set."""


# ------------------------------------------------------------------------------------ file modes
def private_process(settings: Settings | None = None) -> None:
    """At a composition root, before anything is written: new files 0600 and folders 0700 (also
    those DuckDB, dbt, SQLite and LanceDB create), and a home made before this rule made private.
    Creates nothing (`pathwise --help` leaves no home behind); walks a home once per process
    (the app re-runs its script on every interaction)."""
    os.umask(PRIVATE_UMASK)
    home = (settings or get_settings()).home
    if home not in _TIGHTENED and home.exists():
        tighten(home)
        _TIGHTENED.add(home)


_TIGHTENED: set[Path] = set()


def private_dir(path: Path) -> Path:
    """`path` (and any missing parents) created 0700; an existing one is made 0700 too."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for p in [path, *missing]:  # mkdir's mode is masked by the umask, and parents get defaults
        os.chmod(p, DIR_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically with `data`, mode 0600 (also over a file with wider rights)."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def open_private_append(path: Path):
    """`path` opened for appending bytes, created 0600 if new."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE), "ab")


def tighten(root: Path) -> None:
    """Make `root` and everything under it private (a home made before this rule, or by a
    process with a wider umask). Symlinks are left alone."""
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, DIR_MODE)
        for name in files:
            path = os.path.join(folder, name)
            with contextlib.suppress(FileNotFoundError):  # removed meanwhile (a rotated temp)
                if not os.path.islink(path) and stat.S_IMODE(os.stat(path).st_mode) & 0o077:
                    os.chmod(path, FILE_MODE)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]


# ------------------------------------------------------------------------------------ volumes
def volume_encrypted(path: Path, sys_block: Path = Path("/sys/dev/block")) -> bool | None:
    """Is `path` on a dm-crypt (LUKS) block device, directly or below LVM/RAID? None when the
    machine cannot tell (tmpfs, overlay, network file systems: no block device of their own).

    A disk encrypted below what the machine sees (a cloud provider's volume encryption) looks
    plain here: the operator says so with PATHWISE_LANDING_VOLUME_ENCRYPTED (docs/privacy.md)."""
    dev = os.stat(path).st_dev
    device = sys_block / f"{os.major(dev)}:{os.minor(dev)}"
    if not device.exists():
        return None
    return _crypt_below(device.resolve())


def _crypt_below(device: Path) -> bool:
    uuid_file = device / "dm" / "uuid"
    if uuid_file.exists() and uuid_file.read_text().startswith("CRYPT-"):
        return True
    # A partition's parent is its disk; a device-mapper or md device lists what it sits on.
    below = list((device / "slaves").glob("*")) if (device / "slaves").exists() else []
    if (device / "partition").exists():
        below.append(device.parent)
    return any(_crypt_below(d.resolve()) for d in below)


# ------------------------------------------------------------------------------------ keys
def store_key(store: str, settings: Settings | None = None) -> bytes | None:
    """The 256-bit key of one store, derived from PATHWISE_WAREHOUSE_KEY; None without a key."""
    if store not in STORES:
        raise ValueError(f"unknown store {store!r}; one of {', '.join(STORES)}")
    secret = (settings or get_settings()).encryption_key
    if secret is None:
        return None
    hkdf = HKDF(
        hashes.SHA256(), length=32, salt=None, info=b"pathwise at rest v1: " + store.encode()
    )
    return hkdf.derive(secret.encode())


def seal(data: bytes, store: str, settings: Settings | None = None) -> bytes:
    """`data` as one sealed ASCII record for `store`, or unchanged when no key is set."""
    key = store_key(store, settings)
    if key is None:
        return data
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, data, store.encode())
    return SEALED + base64.urlsafe_b64encode(nonce + sealed)


def unseal(record: bytes, store: str, settings: Settings | None = None) -> bytes:
    """The plaintext of a sealed record; plain content (written without a key) is returned as is."""
    record = record.strip()
    if not record.startswith(SEALED):
        return record
    key = store_key(store, settings)
    if key is None:
        raise AtRestError(
            f"the {store} store is encrypted: set PATHWISE_WAREHOUSE_KEY to the key it was "
            "written with"
        )
    try:
        raw = base64.urlsafe_b64decode(record[len(SEALED) :])
        return AESGCM(key).decrypt(raw[:12], raw[12:], store.encode())
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise AtRestError(
            f"a {store} record does not decrypt: PATHWISE_WAREHOUSE_KEY is not the key it was "
            "written with (or the record was altered)"
        ) from exc


# ------------------------------------------------------------------------------------ SQLite
def sqlite_connect(path: Path, store: str, **kwargs: Any) -> sqlite3.Connection:
    """A connection to a SQLite store: SQLCipher keyed with the store's key when one is set, plain
    SQLite otherwise. A plain store met with a key is encrypted in place first (stop the app and
    the API before setting the key on a home that has accounts or controls)."""
    private_dir(path.parent)
    if not path.exists():  # created private (SQLite's journals copy its mode); no locks on it yet
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    os.chmod(path, FILE_MODE)  # also a store made before this rule (chmod opens no descriptor)
    key = store_key(store)
    if (path, key) not in _PREPARED:
        _prepare(path, key)
        _PREPARED.add((path, key))
    if key is None:
        return sqlite3.connect(path, **kwargs)
    from sqlcipher3 import dbapi2 as sqlcipher

    db = sqlcipher.connect(str(path), **kwargs)
    # A raw 256-bit key: no passphrase derivation (PBKDF2) on every connection.
    db.execute(f"pragma key = \"x'{key.hex()}'\"")
    try:
        db.execute("select count(*) from sqlite_master").fetchall()
    except sqlcipher.DatabaseError as exc:
        db.close()
        raise AtRestError(
            f"{path} does not open with PATHWISE_WAREHOUSE_KEY: set it to the key the store was "
            "written with"
        ) from exc
    return db  # the same DB-API as sqlite3's


# Stores this process has checked for a key. The file is opened outside SQLite only
# then, before this process connects to it: closing any descriptor of a database drops every POSIX
# lock the process's open connections hold on it (SQLite's own warning), and the read API's
# watcher stopped seeing the app's commits when each new connection re-read the header.
_PREPARED: set[tuple[Path, bytes | None]] = set()


def _prepare(path: Path, key: bytes | None) -> None:
    """Refuse an encrypted store without a key; encrypt a plain one met with a key."""
    plain = not _has_data(path) or _header(path) == SQLITE_HEADER
    if key is None and not plain:
        raise AtRestError(
            f"{path} is encrypted: set PATHWISE_WAREHOUSE_KEY to the key it was written with"
        )
    if key is not None and _has_data(path) and plain:
        _encrypt_in_place(path, key)


def _has_data(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _header(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(len(SQLITE_HEADER))


def _encrypt_in_place(path: Path, key: bytes) -> None:
    """Copy a plain SQLite store into an encrypted one (`sqlcipher_export`), then swap them."""
    from sqlcipher3 import dbapi2 as sqlcipher

    tmp = path.with_name(f".{path.name}.encrypting")
    tmp.unlink(missing_ok=True)
    db = sqlcipher.connect(str(path), isolation_level=None)
    try:
        db.execute("pragma wal_checkpoint(truncate)")
        db.execute("attach database ? as sealed key ?", (str(tmp), f"x'{key.hex()}'"))
        db.execute("select sqlcipher_export('sealed')")
        db.execute("detach database sealed")
    finally:
        db.close()
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)
    for side in ("-wal", "-shm"):  # the plain store's journal: checkpointed above, now stale
        Path(f"{path}{side}").unlink(missing_ok=True)
