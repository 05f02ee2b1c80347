"""App accounts: bcrypt-hashed passwords, three roles, and the identity that scopes each one.

Accounts live in `Settings.users_path` (`$PATHWISE_HOME/users.sqlite`), beside the controls, never
in the warehouse. Each account has one role and, for instructors and learners, the identity that
scopes their data:

    admin       the Control Tower (KPIs, drift, boosts, weights, audit log)
    instructor  the creator dashboard, for the courses whose `instructor_id` is theirs
    learner     their own recommendations and progress, by `learner_key`

    pathwise users add ada --role admin              # prompts for the password
    pathwise users add ian --role instructor --instructor-id I014
    pathwise users demo                              # DEMO ONLY: admin/instructor/learner accounts

The store is shared by the command line (which manages accounts) and the app (which signs people
in, `apps/auth.py`), so it lives here, in the base package.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bcrypt

from pathwise.settings import get_settings

ROLES = ("admin", "instructor", "learner")
MIN_PASSWORD_LENGTH = 8
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")

SCHEMA = """
create table if not exists users (
    username       text primary key,
    password_hash  text not null,            -- bcrypt, cost 12
    role           text not null check (role in ('admin', 'instructor', 'learner')),
    instructor_id  text,                     -- instructors: the catalog's instructor_id
    learner_key    text,                     -- learners: their pseudonymous learner_key
    created_at     text not null,
    check (role <> 'instructor' or instructor_id is not null),
    check (role <> 'learner' or learner_key is not null)
);
"""

# Compared against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(rounds=12))


class AuthError(ValueError):
    """An account that cannot be created; the message says what to change."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    instructor_id: str | None = None
    learner_key: str | None = None
    signed_in_at: float = 0.0  # time.time() of the sign-in


class UserStore:
    """The accounts database, `$PATHWISE_HOME/users.sqlite` unless a path is given."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path or get_settings().users_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:  # one transaction per use
                yield db
        finally:
            db.close()

    def add(
        self,
        username: str,
        password: str,
        role: str,
        *,
        instructor_id: str | None = None,
        learner_key: str | None = None,
        replace: bool = False,
    ) -> User:
        """Create (or with `replace`, reset) an account; the password is stored only as a bcrypt hash."""
        username = username.strip().lower()
        if not USERNAME_RE.fullmatch(username):
            raise AuthError("username: 2-64 characters, lowercase letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AuthError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        if role == "instructor" and not instructor_id:
            raise AuthError("an instructor account needs --instructor-id (the catalog's id)")
        if role == "learner" and not learner_key:
            raise AuthError("a learner account needs --learner-key")
        # Only the identity the role needs is kept.
        instructor_id = instructor_id if role == "instructor" else None
        learner_key = learner_key if role == "learner" else None
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()
        verb = "insert or replace" if replace else "insert"
        try:
            with self._db() as db:
                db.execute(
                    f"{verb} into users (username, password_hash, role, instructor_id, "
                    "learner_key, created_at) values (?, ?, ?, ?, ?, ?)",
                    (
                        username,
                        hashed,
                        role,
                        instructor_id,
                        learner_key,
                        datetime.now(UTC).isoformat(timespec="seconds"),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise AuthError(f"user {username!r} exists; pass --replace to reset it") from exc
        return User(username, role, instructor_id, learner_key)

    def remove(self, username: str) -> bool:
        with self._db() as db:
            return db.execute("delete from users where username = ?", (username,)).rowcount > 0

    def get(self, username: str) -> User | None:
        with self._db() as db:
            row = db.execute(
                "select username, role, instructor_id, learner_key from users where username = ?",
                (username.strip().lower(),),
            ).fetchall()
        return User(*row[0]) if row else None

    def list(self) -> list[User]:
        with self._db() as db:
            rows = db.execute(
                "select username, role, instructor_id, learner_key from users order by role, username"
            ).fetchall()
        return [User(*r) for r in rows]

    def verify(self, username: str, password: str) -> User | None:
        """The account if the password is right, else None (same cost either way)."""
        with self._db() as db:
            row = db.execute(
                "select username, password_hash, role, instructor_id, learner_key "
                "from users where username = ?",
                (username.strip().lower(),),
            ).fetchall()
        stored = row[0][1].encode() if row else _DUMMY_HASH
        ok = bcrypt.checkpw(password.encode(), stored)
        if not (row and ok):
            return None
        name, _, role, instructor_id, learner_key = row[0]
        return User(name, role, instructor_id, learner_key, signed_in_at=time.time())


def demo_accounts(store: UserStore | None = None) -> list[User]:
    """DEMO ONLY: `admin`, `instructor` (the instructor with most courses) and `learner` (a learner
    with recommendations and progress), all with `PATHWISE_DEMO_PASSWORD`. Needs a snapshot."""
    from pathwise import snapshots

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
    store = store or UserStore()
    password = get_settings().demo_password.get_secret_value()
    return [
        store.add("admin", password, "admin", replace=True),
        store.add(
            "instructor", password, "instructor", instructor_id=instructor[0][0], replace=True
        ),
        store.add("learner", password, "learner", learner_key=learner[0][0], replace=True),
    ]
