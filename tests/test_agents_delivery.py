"""The outbox and its three channels, each against a real local server: e-mail through a real SMTP
server (aiosmtpd), the webhook to a real HTTP receiver (one that fails too), in-app through the read
API in a real uvicorn server. Retries, backoff, dead letters, idempotent ids, and the contact
details: looked up in the vault at send time, never written to the outbox, warehouse or logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import httpx
import pytest
from _api_server import api_server
from aiosmtpd.controller import Controller

from agents.channels import SIGNATURE_HEADER, Email, InApp, Webhook
from agents.delivery import deliver
from agents.guardrails import Guardrails
from benchmarks.browser import free_port
from pathwise.contacts import register
from pathwise.controls import ControlStore
from pathwise.outbox import Decision, Message, Outbox, message_id
from pathwise.privacy import pseudonym
from pathwise.settings import get_settings
from pathwise.warehouse import connect

USER, OTHER = "platform-user-8812", "platform-user-3307"
ADDRESS = "wren.delivery.5521@example-mail.org"
SECRET = "a-webhook-secret"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # noon UTC: outside quiet hours in UTC


def lk(user: str) -> str:
    return pseudonym(user, get_settings().pseudonym_key.get_secret_value())


@pytest.fixture
def home(pathwise_home, monkeypatch):
    monkeypatch.setenv("PATHWISE_AGENTS_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("PATHWISE_AGENTS_RETRY_BASE_SECONDS", "60")
    get_settings.cache_clear()
    with connect(vault=True) as con:  # as ingestion leaves them: the learners' platform ids
        for user in (USER, OTHER):
            con.execute("insert into vault.identities values (?, ?, now())", [lk(user), user])
    return get_settings()


def message(user: str, channel: str, reason: str = "inactive", day: str = "2026-03-02"):
    key = lk(user)
    return Message(
        message_id=message_id("reengage", key, reason, day),
        learner_key=key,
        agent="reengage",
        channel=channel,
        template="reengage-v1",
        subject="SQL Basics: Module 5 is next",
        body='You are 60% through SQL Basics.\nNext: Module 5, "Joins", about 18 min.',
        reason=reason,
        evidence={"signals": {"days_inactive": 9}, "thresholds": {"inactive_days": 7}},
        course_id="C0001",
        created_at=NOW,
    )


# ---------------------------------------------------------------- the outbox


def test_ids_are_derived_so_a_rerun_after_a_crash_enqueues_nothing_twice(home):
    outbox = Outbox()
    assert outbox.enqueue([message(USER, "in_app")]) == 1
    assert outbox.enqueue([message(USER, "in_app"), message(OTHER, "in_app")]) == 1  # a re-run
    assert len(outbox.messages()) == 2
    other_day = message(USER, "in_app", day="2026-03-03")
    assert other_day.message_id != message(USER, "in_app").message_id


# ---------------------------------------------------------------- e-mail over real SMTP


class Inbox:
    """An aiosmtpd handler keeping what it receives; `refuse` answers RCPT with that reply."""

    def __init__(self, refuse: str | None = None) -> None:
        self.envelopes: list = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(home, monkeypatch):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("PATHWISE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PATHWISE_SMTP_PORT", str(port))
    get_settings.cache_clear()
    yield inbox
    controller.stop()


def test_email_goes_to_the_vault_address_over_smtp_and_the_address_stays_in_the_vault(
    smtp, home, caplog
):
    with connect(vault=True) as con:
        register(con, USER, ADDRESS, "Europe/Paris")
    outbox = Outbox()
    outbox.enqueue([message(USER, "email"), message(OTHER, "email")])  # OTHER gave no address
    with caplog.at_level(logging.DEBUG):
        counts = deliver(outbox, {"email": Email()}, NOW)
    assert counts["sent"] == 1 and counts["dead"] == 1
    assert len(smtp.envelopes) == 1
    envelope = smtp.envelopes[0]
    assert envelope.rcpt_tos == [ADDRESS]
    mail = envelope.content.decode()
    assert f"<{message(USER, 'email').message_id}@pathwise>" in mail
    assert 'Next: Module 5, "Joins", about 18 min.' in mail
    dead = outbox.get(message(OTHER, "email").message_id)
    assert dead.state == "dead" and "no e-mail address in the vault" in dead.last_error
    # Sent once: a second delivery finds nothing due.
    assert deliver(outbox, {"email": Email()}, NOW + timedelta(hours=1))["sent"] == 0
    assert len(smtp.envelopes) == 1
    # The address and the platform id: nowhere but sealed in the vault.
    for path in (home.outbox_path, home.warehouse_path, home.vault_path):
        data = path.read_bytes()
        assert ADDRESS.encode() not in data, path
    for path in (home.outbox_path, home.warehouse_path):
        assert USER.encode() not in path.read_bytes(), path
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("pathwise"))
    assert "delivery" in ours and ADDRESS not in ours and USER not in ours  # (not the server's)


def test_a_refused_recipient_is_dead_lettered_without_its_address(smtp, home):
    with connect(vault=True) as con:
        register(con, USER, ADDRESS)
    smtp.refuse = "550 5.1.1 <" + ADDRESS + ">: no such mailbox"
    outbox = Outbox()
    outbox.enqueue([message(USER, "email")])
    assert deliver(outbox, {"email": Email()}, NOW)["dead"] == 1
    dead = outbox.get(message(USER, "email").message_id)
    assert dead.state == "dead" and "550" in dead.last_error and ADDRESS not in dead.last_error


def test_quiet_hours_hold_an_email_until_morning_in_the_learners_time_zone(smtp, home):
    with connect(vault=True) as con:
        register(con, USER, ADDRESS, "Asia/Tokyo")  # 22:30 UTC is 07:30 next day in Tokyo
    outbox = Outbox()
    outbox.enqueue([message(USER, "email")])
    late = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)
    assert deliver(outbox, {"email": Email()}, late)["deferred"] == 1
    held = outbox.get(message(USER, "email").message_id)
    assert held.scheduled_at == datetime(2026, 3, 3, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert held.attempts == 0 and smtp.envelopes == []
    assert deliver(outbox, {"email": Email()}, held.scheduled_at)["sent"] == 1
    assert len(smtp.envelopes) == 1
    # The same instant is daytime in UTC (default zone): a learner without a zone gets it then.
    outbox.enqueue([message(OTHER, "email")])
    with connect(vault=True) as con:
        register(con, OTHER, "other.5521@example-mail.org")
    assert deliver(outbox, {"email": Email()}, NOW)["sent"] == 1


# ---------------------------------------------------------------- webhook to a real receiver


class Receiver(ThreadingHTTPServer):
    """A platform endpoint: answers `fail` times 500, then 200; applies each message id once."""

    def __init__(self, fail: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.fail, self.calls, self.applied = fail, [], {}
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/nudges"


class ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Receiver = self.server  # type: ignore[assignment]
        server.calls.append((dict(self.headers), body))
        if server.fail > 0:
            server.fail -= 1
            self.send_response(500)
        else:
            server.applied.setdefault(self.headers["Idempotency-Key"], body)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def webhook(monkeypatch, receiver: Receiver) -> Webhook:
    monkeypatch.setenv("PATHWISE_AGENTS_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("PATHWISE_AGENTS_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    return Webhook()


def test_the_webhook_body_is_signed_and_names_the_learner_by_platform_id(home, monkeypatch):
    receiver = Receiver()
    outbox = Outbox()
    outbox.enqueue([message(USER, "webhook")])
    assert deliver(outbox, {"webhook": webhook(monkeypatch, receiver)}, NOW)["sent"] == 1
    headers, body = receiver.calls[0]
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    sent = json.loads(body)
    assert sent["user_id"] == USER and lk(USER) not in body.decode()
    assert sent["message_id"] == headers["Idempotency-Key"] == message(USER, "webhook").message_id
    receiver.shutdown()


def test_a_failing_receiver_gets_retries_with_backoff_then_a_dead_letter(home, monkeypatch):
    receiver = Receiver(fail=10**6)
    channel = {"webhook": webhook(monkeypatch, receiver)}
    outbox = Outbox()
    m = message(USER, "webhook")
    outbox.enqueue([m])
    at, waits = NOW, []
    for attempt in (1, 2, 3):
        assert deliver(outbox, channel, at)["failed" if attempt < 3 else "dead"] == 1
        assert deliver(outbox, channel, at)["failed"] == 0  # not due again before the backoff
        now_m = outbox.get(m.message_id)
        waits.append(now_m.scheduled_at - at)
        at = now_m.scheduled_at
    assert waits[:2] == [timedelta(seconds=60), timedelta(seconds=120)]  # doubling
    dead = outbox.get(m.message_id)
    assert (dead.state, dead.attempts) == ("dead", 3)
    assert dead.last_error == "RuntimeError: webhook answered HTTP 500"
    assert len(receiver.calls) == 3 and receiver.applied == {}
    assert deliver(outbox, channel, at + timedelta(days=2)) == dict.fromkeys(
        ("sent", "failed", "dead", "deferred", "paused"), 0
    )  # dead letters stay dead, kept for the audit trail
    receiver.shutdown()


def test_a_flaky_receiver_and_a_crash_lose_nothing_and_apply_nothing_twice(home, monkeypatch):
    receiver = Receiver(fail=2)
    channel = {"webhook": webhook(monkeypatch, receiver)}
    outbox = Outbox()
    first, second = message(USER, "webhook"), message(OTHER, "webhook")
    outbox.enqueue([first, second])
    at = NOW
    while outbox.due(at + timedelta(days=1)):
        deliver(outbox, channel, at)
        at += timedelta(minutes=10)
    assert {m.state for m in outbox.messages()} == {"sent"}
    assert set(receiver.applied) == {first.message_id, second.message_id}
    # A crash after the receiver accepted, before the outbox recorded it: sent again on the
    # next run (at least once), with the same Idempotency-Key, so the platform applies it once.
    third = message(USER, "webhook", reason="dropout_risk")
    outbox.enqueue([third])
    from pathwise.contacts import lookup

    with connect(vault=True) as con:
        contact = lookup(con, [third.learner_key])[third.learner_key]
    channel["webhook"].send(third, contact)  # ...and the process dies here
    outbox.enqueue([third])  # the agent's re-run: the same id, nothing new
    assert deliver(outbox, channel, at)["sent"] == 1
    assert [h["Idempotency-Key"] for h, _ in receiver.calls].count(third.message_id) == 2
    assert len(receiver.applied) == 3
    assert deliver(outbox, channel, at + timedelta(days=1))["sent"] == 0
    receiver.shutdown()


# ---------------------------------------------------------------- in-app, through the read API


def test_in_app_nudges_are_served_to_their_learner_only(home):
    from apps.api import create_app
    from pathwise.api_keys import KeyStore

    outbox = Outbox()
    outbox.enqueue([message(USER, "in_app")])
    assert deliver(outbox, {"in_app": InApp()}, datetime.now(UTC))["sent"] == 1
    _, service = KeyStore().create("platform", "service")
    _, own = KeyStore().create("user device", "learner", lk(OTHER))
    with api_server(create_app(watch=False)) as url:

        def get(user: str, token: str) -> httpx.Response:
            return httpx.get(
                f"{url}/v1/learners/{user}/nudges", headers={"Authorization": f"Bearer {token}"}
            )

        got = get(USER, service)
        assert got.status_code == 200, got.text
        [nudge] = got.json()["nudges"]
        assert nudge["body"] == message(USER, "in_app").body and nudge["reason"] == "inactive"
        assert get(OTHER, service).json() == {"nudges": []}
        assert get(OTHER, own).status_code == 200
        assert get(USER, own).status_code == 403  # a learner's key: their own nudges only
        assert httpx.get(f"{url}/v1/learners/{USER}/nudges").status_code == 401


# ---------------------------------------------------------------- guardrails at send time


def test_the_kill_switch_holds_every_message_until_resumed(home):
    outbox = Outbox()
    outbox.enqueue([message(USER, "in_app")])
    controls = ControlStore()
    controls.pause_agents(True, reason="a wrong template went out", actor="ada")
    assert deliver(outbox, {"in_app": InApp()}, NOW)["paused"] == 1
    assert outbox.get(message(USER, "in_app").message_id).state == "scheduled"
    from agents.run import run_agents

    assert run_agents(now=NOW) == {"paused": True}  # no agent decides anything either
    controls.pause_agents(False, reason="template fixed", actor="ada")
    assert deliver(outbox, {"in_app": InApp()}, NOW)["sent"] == 1
    assert [a["action"] for a in controls.audit()][:2] == ["resume_agents", "pause_agents"]


def test_frequency_caps_count_every_agent_per_day_and_week(home, monkeypatch):
    monkeypatch.setenv("PATHWISE_AGENTS_MAX_PER_DAY", "1")
    monkeypatch.setenv("PATHWISE_AGENTS_MAX_PER_WEEK", "2")
    monkeypatch.setenv("PATHWISE_AGENTS_HOLDOUT_SHARE", "0")
    get_settings.cache_clear()
    outbox = Outbox()
    key = lk(USER)
    guard = Guardrails.load(outbox, NOW)
    assert guard.screen(key, True) == "treated"
    assert guard.screen(key, True) == "capped"  # a second agent, the same night
    assert guard.screen(lk(OTHER), True) == "treated"
    # Two messages this week (one from another agent, four days ago): the week's cap is reached.
    earlier = message(USER, "in_app", day="2026-02-27")
    outbox.enqueue([message(USER, "in_app"), Message(**{**earlier.__dict__, "agent": "cohort",
                                                        "created_at": NOW - timedelta(days=4)})])  # fmt: skip
    next_day = Guardrails.load(outbox, NOW + timedelta(days=1, hours=1))
    assert next_day.sent_today[key] == 0 and next_day.screen(key, True) == "capped"
    a_week_on = Guardrails.load(outbox, NOW + timedelta(days=4, hours=1))
    assert a_week_on.screen(key, True) == "treated"


def test_the_caps_screen_the_holdout_as_they_screen_the_treated(home, monkeypatch):
    """A held-out learner is capped exactly when a treated one would be: their holdout decisions
    count as the contacts they stand for. Otherwise an agent running after another loses the
    learners nudged that day from its treated arm only, and its uplift is biased."""
    monkeypatch.setenv("PATHWISE_AGENTS_MAX_PER_DAY", "1")
    monkeypatch.setenv("PATHWISE_AGENTS_MAX_PER_WEEK", "5")
    get_settings.cache_clear()
    outbox, key = Outbox(), lk(USER)
    guard = Guardrails.load(outbox, NOW)
    assert guard.screen(key, True, held_out=True) == "holdout"  # the first agent tonight
    assert guard.screen(key, True, held_out=True) == "capped"  # a second: capped, as if treated
    assert guard.screen(key, True) == "capped"
    # Recorded, the holdout decision counts on the next run the same day too.
    outbox.decide([Decision("d1", key, "reengage", "2026-03-01", "inactive", "holdout", {})], NOW)
    assert Guardrails.load(outbox, NOW + timedelta(hours=1)).screen(key, True) == "capped"
    assert Guardrails.load(outbox, NOW + timedelta(days=1, hours=1)).screen(key, True) == "treated"
