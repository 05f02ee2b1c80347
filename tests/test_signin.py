"""Sign-in hardening on a real SQLite account store: lock-out, password limits, session versions,
the audit, the demo's refusal of a real home and the production start-up checks.

Time is injected (`UserStore(clock=...)`), never slept. The app's side (a reset ending an open
session, the lock-out on the sign-in page) is in test_app_pages.py.
"""

from __future__ import annotations

import logging
import sqlite3
import stat

import pytest
from typer.testing import CliRunner

from cli import app
from pathwise.accounts import WRONG, AuthError, SignInRefused, UserStore, demo_accounts
from pathwise.settings import get_settings

PASSWORD = "a-test-password"
LONG = "ü" * 40  # 40 characters, 80 bytes in UTF-8
runner = CliRunner()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(pathwise_home) -> UserStore:
    s = UserStore(clock=Clock())
    s.add("ada", PASSWORD, "admin")
    return s


def refused(store: UserStore, username: str, password: str, client: str | None = None) -> str:
    with pytest.raises(SignInRefused) as info:
        store.authenticate(username, password, client)
    return str(info.value)


def test_lock_out_after_five_failures_refuses_even_the_right_password_until_it_expires(store):
    clock = store.clock
    assert isinstance(clock, Clock)
    for _ in range(4):
        assert refused(store, "ada", "wrong password!") == WRONG
        clock.now += 10
    assert refused(store, "ada", "wrong password!").startswith("Too many failed sign-ins")
    clock.now += 14 * 60
    assert "Try again in 1 minute" in refused(store, "ada", PASSWORD)
    clock.now += 61
    assert store.authenticate("ada", PASSWORD).username == "ada"


def test_an_unknown_username_locks_the_same_way_so_the_message_reveals_nothing(store):
    messages = {
        name: [refused(store, name, "wrong password!") for _ in range(6)]
        for name in ("ada", "nobody")
    }
    assert messages["ada"] == messages["nobody"]
    assert messages["ada"][:4] == [WRONG] * 4 and "Too many" in messages["ada"][5]


def test_failures_older_than_the_window_do_not_count(store):
    clock = store.clock
    assert isinstance(clock, Clock)
    for _ in range(4):
        refused(store, "ada", "wrong password!")
    clock.now += 16 * 60  # the window is 15 minutes
    for _ in range(4):
        assert refused(store, "ada", "wrong password!") == WRONG
    assert store.authenticate("ada", PASSWORD).username == "ada"


def test_a_success_clears_the_count(store):
    for _ in range(4):
        refused(store, "ada", "wrong password!")
    store.authenticate("ada", PASSWORD)
    for _ in range(4):
        assert refused(store, "ada", "wrong password!") == WRONG


def test_one_client_trying_many_usernames_is_locked(store, monkeypatch):
    monkeypatch.setenv("PATHWISE_SIGNIN_CLIENT_MAX_FAILURES", "3")
    get_settings.cache_clear()
    for name in ("u1", "u2"):
        assert refused(store, name, "wrong password!", client="203.0.113.9") == WRONG
    assert "Too many" in refused(store, "u3", "wrong password!", client="203.0.113.9")
    assert "Too many" in refused(store, "ada", PASSWORD, client="203.0.113.9")
    assert store.authenticate("ada", PASSWORD, client="198.51.100.1").username == "ada"


def test_a_reset_lifts_the_lock_and_moves_the_session_version_on(store):
    for _ in range(5):
        refused(store, "ada", "wrong password!")
    before = store.get("ada")
    assert before is not None
    after = store.add("ada", "another-password", "admin", replace=True)
    assert after.session_version == before.session_version + 1 == store.get("ada").session_version
    assert store.authenticate("ada", "another-password").session_version == after.session_version


def test_password_limits_give_clean_errors(store):
    with pytest.raises(AuthError, match="at most 72 bytes"):
        store.add("bob", LONG, "admin")
    with pytest.raises(AuthError, match="at least 12 characters"):
        store.add("bob", "short-pw", "admin")
    assert store.get("bob") is None
    # Signing in with one is a plain wrong password, not bcrypt's ValueError.
    assert refused(store, "ada", LONG) == WRONG
    assert refused(store, "ada", "nul\0inside-a-password") == WRONG


def test_the_cli_refuses_a_long_password_with_a_message(pathwise_home):
    result = runner.invoke(app, ["users", "add", "bob", "--role", "admin", "--password-stdin"],
                           input=LONG + "\n")  # fmt: skip
    assert result.exit_code == 2
    assert "at most 72 bytes" in result.output and result.exception.__class__ is SystemExit
    assert UserStore().get("bob") is None


def test_every_event_is_audited_without_the_password(store):
    for _ in range(5):
        refused(store, "ada", "wrong password!")
    refused(store, "ada", PASSWORD)
    store.add("ada", PASSWORD, "admin", replace=True)
    store.authenticate("ada", PASSWORD)
    store.remove("ada")
    events = [r["event"] for r in reversed(store.audit())]
    assert events == ["created", *["failed"] * 5, "locked", "refused_locked", "reset",
                      "signed_in", "removed"]  # fmt: skip
    assert store.path.read_bytes().count(b"wrong password!") == 0
    assert store.path.read_bytes().count(PASSWORD.encode()) == 0
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    printed = runner.invoke(app, ["users", "audit", "--user", "ada"])
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    assert len(lines) == 11 and "removed" in lines[0] and "created" in lines[-1]


def test_an_old_store_gains_the_new_columns_and_flags_its_demo_accounts(pathwise_home):
    import bcrypt

    path = pathwise_home.users_path
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.execute("create table users (username text primary key, password_hash text not null, "
               "role text not null, instructor_id text, learner_key text, created_at text not null)")  # fmt: skip
    for name, password in (("admin", "pathwise-demo"), ("ada", PASSWORD)):
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        db.execute(
            "insert into users values (?, ?, 'admin', null, null, '2026-01-01')", (name, hashed)
        )
    db.commit()
    db.close()
    users = {u.username: u for u in UserStore().list()}
    assert users["admin"].demo and not users["ada"].demo
    assert users["ada"].session_version == 0


# -- the demo in a home that is not a demo home ----------------------------------------------------


def test_demo_accounts_refuse_a_home_with_real_accounts(store):
    with pytest.raises(AuthError, match=r"not demo accounts \(ada\).*--force"):
        demo_accounts(store)
    assert store.get("admin") is None


def test_pathwise_demo_refuses_real_accounts_or_data_unless_forced(pathwise_home, tmp_path):
    from flows.demo import DemoRefused, check_demo_home
    from pathwise.ingestion import ingest_file
    from pathwise.sources.simulator import simulate

    check_demo_home()  # an empty home is fine
    simulate(learners=20, courses=4, days=1, seed=1, out=tmp_path / "real", fmt="parquet",
             start="2026-01-05", bad_share=0.0)  # fmt: skip
    ingest_file(sorted((tmp_path / "real" / "events").iterdir())[0])
    UserStore().add("ada", PASSWORD, "admin")
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 2
    assert "accounts that are not demo accounts: ada" in result.output
    assert (
        "ingested files from outside landing/demo" in result.output and "--force" in result.output
    )
    with pytest.raises(DemoRefused):
        check_demo_home()
    check_demo_home(force=True)
    assert UserStore().get("admin") is None  # nothing was reset


# -- production start-up ---------------------------------------------------------------------------


@pytest.fixture
def production(pathwise_home, monkeypatch):
    monkeypatch.setenv("PATHWISE_ENV", "production")
    monkeypatch.delenv("PATHWISE_PSEUDONYM_KEY", raising=False)
    get_settings.cache_clear()
    return monkeypatch


@pytest.mark.parametrize("command", [["serve"], ["nightly"], ["app"]])
def test_production_refuses_development_secrets(production, command):
    result = runner.invoke(app, command)
    assert result.exit_code == 2
    assert "PATHWISE_ENV=production" in result.output and "refuses to start" in result.output
    assert "PATHWISE_PSEUDONYM_KEY is a published default" in result.output
    assert "PATHWISE_WAREHOUSE_KEY is not set" in result.output
    assert "PATHWISE_VAULT_KEY is not set" in result.output


def test_production_names_each_problem_and_starts_when_fixed(production):
    from pathwise.production import check_startup, problems

    production.setenv("PATHWISE_PSEUDONYM_KEY", "too-short-a-key")
    production.setenv("PATHWISE_WAREHOUSE_KEY", "k" * 32)
    production.setenv("PATHWISE_VAULT_KEY", "v" * 31)
    get_settings.cache_clear()
    UserStore().add("admin", PASSWORD, "admin", demo=True)
    found = problems()
    assert len(found) == 3
    assert "PATHWISE_PSEUDONYM_KEY has 15 characters" in found[0]
    assert "PATHWISE_VAULT_KEY has 31 characters: set a random secret of at least 32" in found[1]
    assert "demo accounts with the public demo password exist (admin)" in found[2]
    production.setenv("PATHWISE_VAULT_KEY", "k" * 32)
    get_settings.cache_clear()
    assert "PATHWISE_VAULT_KEY equals PATHWISE_WAREHOUSE_KEY" in problems()[1]
    production.setenv("PATHWISE_PSEUDONYM_KEY", "x" * 32)
    production.setenv("PATHWISE_VAULT_KEY", "v" * 32)
    get_settings.cache_clear()
    UserStore().remove("admin")
    assert problems() == []
    check_startup("pathwise serve")
    with pytest.raises(AuthError, match="production"):
        demo_accounts()


def test_development_warns_about_the_default_pseudonym_key(pathwise_home, monkeypatch, caplog):
    from pathwise import production

    monkeypatch.delenv("PATHWISE_PSEUDONYM_KEY", raising=False)
    get_settings.cache_clear()
    production._warn_default_key.cache_clear()
    with caplog.at_level(logging.WARNING, logger="pathwise"):
        production.check_startup("the app")
    assert "PATHWISE_PSEUDONYM_KEY is a published default" in caplog.text
