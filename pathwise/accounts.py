"""App accounts: bcrypt-hashed passwords, three roles, and the identity that scopes each one.

Accounts live in `Settings.users_path` (`$PATHWISE_HOME/users.sqlite`, mode 0600; SQLCipher when
PATHWISE_WAREHOUSE_KEY is set, pathwise/at_rest.py), beside the controls, never in the warehouse. Each account has one role and, for instructors and learners, the
identity that scopes their data:

    admin       the Control Tower (KPIs, drift, boosts, weights, audit log)
    instructor  the creator dashboard, for the courses whose `instructor_id` is theirs
    learner     their own recommendations and progress, by `learner_key`

    pathwise users add ada --role admin              # prompts for the password
    pathwise users add ian --role instructor --instructor-id I014
    pathwise users audit                             # sign-ins, failures, lock-outs, resets
    pathwise users demo                              # DEMO ONLY: admin/instructor/learner accounts

Sign-in is throttled: `signin_max_failures` wrong passwords for one username (or
`signin_client_max_failures` from one client address) within `signin_window_minutes` lock it for
`signin_lockout_minutes`, whether or not the username exists, so the refusal reveals nothing. Every
sign-in, failure, lock-out, creation, reset and removal is written to `sign_in_audit` (never a
password). A reset bumps the account's `session_version` and a removal deletes it; the app checks
both on every page run (`apps/auth.py`), so open sessions end.

The store is shared by the command line (which manages accounts) and the app (which signs people
in), so it lives here, in the base package.
"""

from __future__ import annotations

import builtins
import dataclasses
import math
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bcrypt

from pathwise.at_rest import sqlite_connect
from pathwise.settings import get_settings

ROLES = ("admin", "instructor", "learner")
DEMO_USERNAMES = ROLES  # `demo_accounts` names each demo account after its role
MIN_PASSWORD_LENGTH = 12  # characters
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (5.x: refuses) anything longer
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
WRONG = "Wrong username or password."

SCHEMA = """
create table if not exists users (
    username        text primary key,
    password_hash   text not null,           -- bcrypt, cost 12
    role            text not null check (role in ('admin', 'instructor', 'learner')),
    instructor_id   text,                    -- instructors: the catalog's instructor_id
    learner_key     text,                    -- learners: their pseudonymous learner_key
    created_at      text not null,
    session_version integer not null default 0,  -- +1 on every reset: open sessions end
    demo            integer not null default 0,  -- 1: made by demo_accounts (known password)
    check (role <> 'instructor' or instructor_id is not null),
    check (role <> 'learner' or learner_key is not null)
);
create table if not exists sign_in_failures (
    key text not null,                       -- 'user:<username>' or 'client:<address>'
    at  real not null                        -- unix time
);
create index if not exists sign_in_failures_by_key on sign_in_failures (key, at);
create table if not exists sign_in_locks (
    key   text primary key,
    until real not null
);
create table if not exists sign_in_audit (
    at       text not null,                  -- UTC, ISO 8601
    username text not null,                  -- as typed (lowercased), also when unknown
    event    text not null,                  -- see AUDIT_EVENTS
    client   text,                           -- the client address, when the app knows it
    detail   text
);
"""
AUDIT_EVENTS = ("signed_in", "failed", "locked", "refused_locked", "created", "reset", "removed")
_COLUMNS = "username, role, instructor_id, learner_key, session_version, demo"

# Compared against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(rounds=12))


class AuthError(ValueError):
    """An account that cannot be created; the message says what to change."""


class SignInRefused(AuthError):
    """A refused sign-in; the message is safe to show (it never says whether the user exists)."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    instructor_id: str | None = None
    learner_key: str | None = None
    signed_in_at: float = 0.0  # time.time() of the sign-in
    session_version: int = 0  # the account's version at sign-in; a reset makes it stale
    demo: bool = False


def check_password(password: str) -> None:
    """Raise AuthError unless `password` fits: 12 characters or more, 72 bytes (UTF-8) or fewer."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise AuthError(
            f"password: at most {MAX_PASSWORD_BYTES} bytes in UTF-8 (bcrypt's limit; "
            f"this one has {len(password.encode())}): choose a shorter one"
        )
    if "\0" in password:
        raise AuthError("password: no NUL characters")


def _password_matches(password: str, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), hashed)
    except ValueError:  # longer than bcrypt accepts, or a NUL: no stored password is like that
        return False


def _normalise(username: str) -> str:
    # Stored in failures and the audit also when unknown, so bounded.
    return username.strip().lower()[:64]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class UserStore:
    """The accounts database, `$PATHWISE_HOME/users.sqlite` unless a path is given.

    `clock` (unix seconds) times failures and lock-outs; tests pass their own instead of sleeping.
    """

    def __init__(self, path: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path or get_settings().users_path)
        self.clock = clock
        with self._db() as db:
            db.executescript(SCHEMA)
        self._migrate()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite_connect(self.path, "users", timeout=10)
        try:
            with db:  # one transaction per use
                yield db
        finally:
            db.close()

    def _migrate(self) -> None:
        """Add the columns a store made before sign-in hardening lacks (once, under a write lock)."""
        db = sqlite_connect(self.path, "users", timeout=10, isolation_level=None)
        try:
            if {"session_version", "demo"} <= _columns(db):
                return  # the usual case: no write lock taken
            db.execute("begin immediate")
            cols = _columns(db)  # again, under the lock: another process may have just done it
            if "session_version" not in cols:
                db.execute(
                    "alter table users add column session_version integer not null default 0"
                )
            if "demo" not in cols:
                db.execute("alter table users add column demo integer not null default 0")
                # Demo accounts made before the flag: a demo name with the demo password.
                demo_password = get_settings().demo_password.get_secret_value()
                rows = db.execute(
                    "select username, password_hash from users where username in (?, ?, ?)",
                    DEMO_USERNAMES,
                ).fetchall()
                for name, hashed in rows:
                    if _password_matches(demo_password, hashed.encode()):
                        db.execute("update users set demo = 1 where username = ?", (name,))
            db.execute("commit")
        finally:
            db.close()

    def _audit(
        self,
        db: sqlite3.Connection,
        username: str,
        event: str,
        client: str | None = None,
        detail: str | None = None,
    ) -> None:
        db.execute(
            "insert into sign_in_audit values (?, ?, ?, ?, ?)",
            (_now_iso(), username, event, client, detail),
        )

    def add(
        self,
        username: str,
        password: str,
        role: str,
        *,
        instructor_id: str | None = None,
        learner_key: str | None = None,
        replace: bool = False,
        demo: bool = False,
    ) -> User:
        """Create (or with `replace`, reset) an account; the password is stored only as a bcrypt hash.

        A reset ends the account's open sessions and lifts a lock-out on it."""
        username = username.strip().lower()
        if not USERNAME_RE.fullmatch(username):
            raise AuthError("username: 2-64 characters, lowercase letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
        check_password(password)
        if role == "instructor" and not instructor_id:
            raise AuthError("an instructor account needs --instructor-id (the catalog's id)")
        if role == "learner" and not learner_key:
            raise AuthError("a learner account needs --learner-key")
        # Only the identity the role needs is kept.
        instructor_id = instructor_id if role == "instructor" else None
        learner_key = learner_key if role == "learner" else None
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()
        row = (username, hashed, role, instructor_id, learner_key, _now_iso(), int(demo))
        with self._db() as db:
            exists = db.execute("select 1 from users where username = ?", (username,)).fetchall()
            if exists and not replace:
                raise AuthError(f"user {username!r} exists; pass --replace to reset it")
            db.execute(
                "insert into users (username, password_hash, role, instructor_id, learner_key, "
                "created_at, demo) values (?, ?, ?, ?, ?, ?, ?) on conflict (username) do update "
                "set password_hash = excluded.password_hash, role = excluded.role, "
                "instructor_id = excluded.instructor_id, learner_key = excluded.learner_key, "
                "demo = excluded.demo, session_version = users.session_version + 1",
                row,
            )
            if exists:
                db.execute("delete from sign_in_locks where key = ?", (f"user:{username}",))
                db.execute("delete from sign_in_failures where key = ?", (f"user:{username}",))
            self._audit(db, username, "reset" if exists else "created", detail=role)
            version = db.execute(
                "select session_version from users where username = ?", (username,)
            ).fetchall()[0][0]
        return User(username, role, instructor_id, learner_key, 0.0, version, demo)

    def remove(self, username: str) -> bool:
        """Delete an account (its open sessions end at their next page run)."""
        username = _normalise(username)
        with self._db() as db:
            removed = db.execute("delete from users where username = ?", (username,)).rowcount > 0
            if removed:
                self._audit(db, username, "removed")
        return removed

    def learner_records(self, learner_key: str) -> dict[str, list[dict]]:
        """A learner's accounts (never the password hash) and their sign-in audit (export)."""

        def rows(db: sqlite3.Connection, sql: str, params: builtins.list) -> builtins.list[dict]:
            cur = db.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

        with self._db() as db:
            users = rows(
                db,
                "select username, role, created_at from users where learner_key = ?",
                [learner_key],
            )
            names = [u["username"] for u in users]
            audit = rows(
                db,
                f"select * from sign_in_audit where username in ({','.join('?' * len(names))})",
                names,
            )
        return {"accounts": users, "sign_in_audit": audit}

    def forget_learner(self, learner_key: str) -> int:
        """Erase a learner's accounts with their sign-in failures, locks and audit rows; then
        VACUUM, so the deleted rows leave the file's free pages too. Returns rows deleted."""
        with self._db() as db:
            names = [
                r[0]
                for r in db.execute(
                    "select username from users where learner_key = ?", (learner_key,)
                ).fetchall()
            ]
            deleted = 0
            for name in names:
                user = (f"user:{name}",)
                deleted += db.execute("delete from users where username = ?", (name,)).rowcount
                deleted += db.execute(
                    "delete from sign_in_audit where username = ?", (name,)
                ).rowcount
                deleted += db.execute("delete from sign_in_failures where key = ?", user).rowcount
                deleted += db.execute("delete from sign_in_locks where key = ?", user).rowcount
        self._vacuum()
        return deleted

    def forget_before(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Retention: delete sign-in audit rows and failures (client addresses) from before
        `cutoff` (naive UTC), then VACUUM; accounts stay. Returns rows deleted (or, dry, found)."""
        since = (cutoff.replace(tzinfo=UTC).isoformat(timespec="seconds"),)
        unix = (cutoff.replace(tzinfo=UTC).timestamp(),)
        tables = (("sign_in_audit where at < ?", since), ("sign_in_failures where at < ?", unix))
        with self._db() as db:
            if dry_run:
                return sum(
                    db.execute(f"select count(*) from {t}", a).fetchone()[0] for t, a in tables
                )
            deleted = sum(db.execute(f"delete from {t}", a).rowcount for t, a in tables)
        if deleted:
            self._vacuum()
        return deleted

    def _vacuum(self) -> None:
        """Rewrite the file, so deleted rows leave its free pages too."""
        db = sqlite_connect(self.path, "users", timeout=10, isolation_level=None)
        try:
            db.execute("vacuum")
        finally:
            db.close()

    def get(self, username: str) -> User | None:
        with self._db() as db:
            row = db.execute(
                f"select {_COLUMNS} from users where username = ?", (_normalise(username),)
            ).fetchall()
        return _user(row[0]) if row else None

    def list(self) -> list[User]:
        with self._db() as db:
            rows = db.execute(f"select {_COLUMNS} from users order by role, username").fetchall()
        return [_user(r) for r in rows]

    def authenticate(self, username: str, password: str, client: str | None = None) -> User:
        """The account if the password is right and neither it nor `client` is locked out.

        Raises SignInRefused with a message fit to show: the same for an unknown username as for a
        wrong password, and a lock-out applies to unknown usernames too."""
        name, now = _normalise(username), self.clock()
        keys = [f"user:{name}"] + ([f"client:{client}"] if client else [])
        with self._db() as db:
            until = db.execute(
                f"select max(until) from sign_in_locks where until > ? "
                f"and key in ({', '.join('?' * len(keys))})",
                (now, *keys),
            ).fetchall()[0][0]
            if until is not None:
                self._audit(db, name, "refused_locked", client)
        if until is not None:
            raise SignInRefused(_locked_message(until - now))
        with self._db() as db:
            row = db.execute(
                f"select {_COLUMNS}, password_hash from users where username = ?", (name,)
            ).fetchall()
        ok = _password_matches(password, row[0][-1].encode() if row else _DUMMY_HASH)
        if row and ok:
            with self._db() as db:
                db.execute("delete from sign_in_failures where key = ?", (f"user:{name}",))
                self._audit(db, name, "signed_in", client)
            return dataclasses.replace(_user(row[0][:-1]), signed_in_at=time.time())
        locked_for = self._record_failure(name, client, now)
        raise SignInRefused(_locked_message(locked_for) if locked_for else WRONG)

    def _record_failure(self, name: str, client: str | None, now: float) -> float | None:
        """Count a failed sign-in; lock the username (or client) that reached its limit.

        Returns the lock-out's length in seconds if this failure locked something."""
        s = get_settings()
        limits = {f"user:{name}": s.signin_max_failures}
        if client:
            limits[f"client:{client}"] = s.signin_client_max_failures
        lockout = s.signin_lockout_minutes * 60
        locked = None
        with self._db() as db:
            db.execute(
                "delete from sign_in_failures where at < ?", (now - s.signin_window_minutes * 60,)
            )
            self._audit(db, name, "failed", client)
            for key, limit in limits.items():
                db.execute("insert into sign_in_failures values (?, ?)", (key, now))
                n = db.execute(
                    "select count(*) from sign_in_failures where key = ?", (key,)
                ).fetchall()[0][0]
                if n >= limit:
                    db.execute(
                        "insert or replace into sign_in_locks values (?, ?)", (key, now + lockout)
                    )
                    db.execute("delete from sign_in_failures where key = ?", (key,))
                    self._audit(db, name, "locked", client, f"{key.split(':')[0]}, {n} failures")
                    locked = lockout
        return locked

    def verify(self, username: str, password: str, client: str | None = None) -> User | None:
        """`authenticate`, with None instead of the reason (same throttling and audit)."""
        try:
            return self.authenticate(username, password, client)
        except SignInRefused:
            return None

    def audit(self, limit: int = 100, username: str | None = None) -> builtins.list[dict]:
        """The latest sign-in audit rows, newest first."""
        where, params = ("where username = ?", [_normalise(username)]) if username else ("", [])
        with self._db() as db:
            rows = db.execute(
                f"select at, username, event, client, detail from sign_in_audit {where} "
                "order by rowid desc limit ?",
                (*params, limit),
            ).fetchall()
        return [
            dict(zip(("at", "username", "event", "client", "detail"), r, strict=True)) for r in rows
        ]


def _columns(db: sqlite3.Connection) -> set[str]:
    return {r[1] for r in db.execute("pragma table_info(users)")}


def _user(row: tuple) -> User:
    name, role, instructor_id, learner_key, version, demo = row
    return User(name, role, instructor_id, learner_key, 0.0, version, bool(demo))


def _locked_message(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes != 1)}."


def demo_accounts(store: UserStore | None = None, *, force: bool = False) -> list[User]:
    """DEMO ONLY: `admin`, `instructor` (the instructor with most courses) and `learner` (a learner
    with recommendations and progress), all with `PATHWISE_DEMO_PASSWORD`. Needs a snapshot.

    Refused in production, and (unless `force`) in a home holding accounts that are not demo
    accounts: a known password beside real accounts, or over a real `admin`, is a way in."""
    from pathwise import snapshots

    s = get_settings()
    if s.env == "production":
        raise AuthError("PATHWISE_ENV=production: demo accounts are refused")
    store = store or UserStore()
    real = [u.username for u in store.list() if not u.demo]
    if real and not force:
        raise AuthError(
            f"{store.path} holds accounts that are not demo accounts ({', '.join(real)}); "
            "demo accounts (a known password) would replace or sit beside them. Use another "
            "PATHWISE_HOME, or pass --force to add them anyway."
        )
    snap = snapshots.require_current()
    con = snap.connect()
    try:
        instructor = con.execute(
            "select instructor_id from courses group by 1 order by count(*) desc, 1 limit 1"
        ).fetchall()
        # A learner who has both progress and (when the recommender has run) recommendations.
        with_recs = (
            "where learner_key in (select learner_key from recommendations)"
            if "recommendations" in snap.tables
            else ""
        )
        learner = con.execute(
            "select learner_key from learner_course_progress "
            f"{with_recs} group by 1 order by count(*) desc, 1 limit 1"
        ).fetchall()
    finally:
        con.close()
    if not instructor or not learner:
        raise AuthError("the snapshot has no courses or learners: run `make demo` first")
    password = s.demo_password.get_secret_value()
    return [
        store.add("admin", password, "admin", replace=True, demo=True),
        store.add(
            "instructor",
            password,
            "instructor",
            instructor_id=instructor[0][0],
            replace=True,
            demo=True,
        ),
        store.add(
            "learner", password, "learner", learner_key=learner[0][0], replace=True, demo=True
        ),
    ]
