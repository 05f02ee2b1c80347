"""A small simulated platform with one planted learner, after a real nightly run; shared by the
erasure and export tests. Built once per pytest session (plain files: scanning ciphertext for a
learner proves nothing); each test works on its own copy.

The planted learner has a unique user_id, e-mail and free text (a forum post and a search, which
the contract declares), consent to fine signals, a quarantined event (its original, e-mail
included, goes to the vault), a served list in the recommendation log, an app account with a
sign-in, a learner API key, an e-mail address in the vault (they agreed to e-mail), from
the nightly agents, a nudge in the outbox (inactivity threshold 1 day here), and a learning path
they made in the onboarding conversation (the path store). Their neighbour
withdrew consent to messages: the agents record them as opted out and send them nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pathwise.settings import get_settings

USER_ID = "planted-learner-5e1f0c9a"
EMAIL = "quokka.planted.7731@example-mail.org"
FORUM_TEXT = "Zanzibar marmalade theorem keeps failing on my laptop"
SEARCH_TEXT = "quixotic velociraptor spreadsheets"
OTHER_ID = "planted-neighbour-44ab"  # a learner in the same files, who must stay
USERNAME = "planted-account"
APP_EVENTS = 1  # the click plant() writes as the app does, in landing/app/events
PASSWORD = "a-test-password"
COURSE, MODULE = "C0001", "C0001-M01"


def planted_lines() -> list[dict]:
    """The planted learner's events (and one of their neighbour's) as the platform sends them."""
    ctx = {"email": EMAIL, "ip": "203.0.113.77", "user_agent": "Mozilla/5.0", "locale": "en-GB"}

    def ev(n: int, kind: str, day: int, props: dict, user: str = USER_ID, **ids: str) -> dict:
        context = ctx if user == USER_ID else {"locale": "en-GB"}
        return {
            # not built from the user_id: the door quarantines such ids (personal_data)
            "event_id": f"evt-{'a' if user == USER_ID else 'b'}-{n:03d}-7c1d",
            "event_type": kind,
            "occurred_at": f"2026-02-{day:02d}T10:{n:02d}:00Z",
            "user_id": user,
            "session_id": f"s-{user}-1",
            "course_id": ids.get("course_id", COURSE),
            "module_id": ids.get("module_id"),
            "schema_version": 1,
            "properties": props,
            "context": context,
        }

    return [
        ev(1, "consent_changed", 3, {"tier": "fine", "granted": True}, course_id=None),
        ev(2, "profile_updated", 3, {"target_role": "Data Scientists"}, course_id=None),
        ev(3, "enroll", 3, {}),
        ev(4, "course_view", 3, {}),
        ev(5, "module_start", 4, {}, module_id=MODULE),
        ev(6, "video_seek", 4, {"from_s": 100, "to_s": 40}, module_id=MODULE),
        ev(7, "video_pause", 4, {"position_s": 40}, module_id=MODULE),
        ev(8, "module_complete", 5, {}, module_id=MODULE),
        ev(9, "search", 5, {"query": f"{SEARCH_TEXT} mail {EMAIL}", "results_count": 0}),
        ev(10, "forum_post", 6, {"thread_id": "t-1", "text": FORUM_TEXT}),
        ev(11, "nudge_sent", 6, {"nudge_id": "n-1", "channel": "email"}, course_id=None),
        # no thread_id: quarantined; the vault keeps the original with the e-mail and the text
        ev(12, "forum_post", 6, {"text": f"{FORUM_TEXT} ({EMAIL})"}),
        ev(1, "enroll", 3, {}, user=OTHER_ID),
    ]


def neighbour_opt_out() -> dict:
    """The neighbour withdraws consent to messages (a line of theirs beside the planted ones)."""
    return {
        "event_id": "evt-b-002-7c1d",
        "event_type": "consent_changed",
        "occurred_at": "2026-02-03T10:02:00Z",
        "user_id": OTHER_ID,
        "session_id": f"s-{OTHER_ID}-1",
        "schema_version": 1,
        "properties": {"tier": "messages", "granted": False},
    }


def plant(home: Path) -> None:
    """The planted learner's landing file, served list, account and API key (before nightly)."""
    from pathwise import served_log
    from pathwise.accounts import UserStore
    from pathwise.api_keys import KeyStore
    from pathwise.privacy import pseudonym

    key = get_settings().pseudonym_key.get_secret_value()
    learner_key, other_key = pseudonym(USER_ID, key), pseudonym(OTHER_ID, key)
    landing = home / "landing" / "planted" / "events-planted.ndjson"
    landing.parent.mkdir(parents=True)
    landing.write_text("".join(json.dumps(e) + "\n" for e in planted_lines()))
    (landing.parent / "events-neighbour.ndjson").write_text(json.dumps(neighbour_opt_out()) + "\n")

    def shown(rid: str, lk: str, via: str, caller: served_log.Caller) -> dict:
        item = {"course_id": "C0002", "rank": 1, "score": 0.9, "boost": 0.0, "format_first": "video",
                "reason": "Because you took Microsoft Excel Fundamentals",
                "contributions": {"collaborative": 0.6, "popularity": 0.3}}  # fmt: skip
        return served_log.served_list(
            learner_key=lk, served_via=via, caller=caller, snapshot_version="v0", model_version="m",
            weights={"collaborative": 1.0, "popularity": 0.5}, items=[item], response_id=rid,
            served_at=datetime(2026, 2, 6, 9, tzinfo=UTC),
        )  # fmt: skip

    # The planted learner's list as the learner page showed it to their own account, their
    # neighbour's as the API served it; one append holding both: erasure splits the record.
    served_log.write([
        shown("r-planted", learner_key, "learner_app", served_log.Caller("app_account", USERNAME, "learner")),
        shown("r-other", other_key, "api", served_log.Caller("api_key", "platform", "service", "k1")),
    ])  # fmt: skip
    # A click in the app, written as the app writes it: its user_id (privacy.app_user_id) holds
    # the learner_key, not the platform's id, so erasure must find it by that too.
    from apps import clicks

    clicks.record_click(learner_key, "C0002", 1, "m", "v0")
    users = UserStore()
    users.add(USERNAME, PASSWORD, "learner", learner_key=learner_key)
    users.authenticate(USERNAME, PASSWORD, client="198.51.100.23")
    KeyStore().create("planted-learner-key", "learner", learner_key)
    from pathwise.contacts import register
    from pathwise.warehouse import connect

    with connect(vault=True) as con:
        register(con, USER_ID, EMAIL, "Europe/London")


def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PATHWISE_HOME of the shared platform (built on first use)."""
    home = tmp_path_factory.getbasetemp() / "privacy-platform" / "home"
    if (home / "snapshots" / "CURRENT").exists():
        return home
    from flows.nightly import nightly_flow
    from pathwise import snapshots
    from pathwise.sources.simulator import simulate
    from pathwise.warehouse import connect

    with _home(home), pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_REENGAGE_INACTIVE_DAYS", "1")  # the planted learner is nudged
        get_settings.cache_clear()
        simulate(
            learners=120,
            courses=30,
            days=10,
            seed=5,
            out=home / "landing" / "sim",
            fmt="ndjson",
            start="2026-02-02",
            bad_share=0.01,
        )
        plant(home)
        nightly_flow(skip=["index"])
        onboard(USER_ID)
        with connect() as con:  # a second version: superseded snapshots hold the learner too
            snapshots.publish(con)
    return home


ONBOARDING = ("I want to become a data scientist", "nothing yet", "5 hours", "no rush", "video")


def onboard(user_id: str) -> None:
    """The learner's onboarding conversation with the learning-path agent, as the app has it."""
    from agents.paths.serving import Served
    from pathwise import snapshots
    from pathwise.privacy import pseudonym

    learner_key = pseudonym(user_id, get_settings().pseudonym_key.get_secret_value())
    served = Served()
    for text in ONBOARDING:
        answer = served.turn(snapshots.require_current(), learner_key, text)
    served.store.close()
    assert answer["done"] and answer["path"], answer


@contextmanager
def _home(home: Path) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        mp.setenv("PATHWISE_VAULT_KEY", "")
        get_settings.cache_clear()
        try:
            yield home
        finally:
            get_settings.cache_clear()


@contextmanager
def copy_of_platform(tmp_path_factory: pytest.TempPathFactory, dest: Path) -> Iterator[Path]:
    """A private copy of the shared platform as PATHWISE_HOME, inside the block. The batches'
    source files are recorded with absolute paths: the copy's point at its own landing files."""
    from pathwise.warehouse import connect

    original = build(tmp_path_factory)
    shutil.copytree(original, dest, symlinks=True)
    with _home(dest) as home:
        with connect() as con:
            con.execute(
                "update raw.ingest_batches set source_file = replace(source_file, $old, $new)",
                {"old": str(original), "new": str(dest)},
            )
        yield home
