"""The delivery worker: every due message through its channel, at least once, each at most once
per success (see `pathwise/outbox.py` for the states, retries, backoff and dead letters).

A campaign's queued messages go only while it is approved or scheduled: paused, they wait (and
go once it is approved again); stopped, they are dead-lettered with that reason.

Contact details are looked up in the vault for the messages being sent now, in one query, and
dropped with this call; errors kept in the outbox are redacted (an SMTP server's answer can name
the address).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from agents.channels import Channel, PermanentError, configured
from agents.guardrails import quiet_until
from pathwise.campaigns import CampaignStore
from pathwise.contacts import Contact, lookup
from pathwise.controls import ControlStore
from pathwise.outbox import Outbox
from pathwise.privacy import redact
from pathwise.settings import get_settings
from pathwise.warehouse import connect

log = logging.getLogger("pathwise.agents")
BATCH = 10_000
SENDING = ("approved", "scheduled")  # a campaign's queued messages go only while it is one of these
PAUSED_RECHECK = timedelta(minutes=5)  # a paused campaign's messages wait for a later delivery


def deliver(
    outbox: Outbox | None = None,
    channels: dict[str, Channel] | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Attempt every due message once; returns how many were sent, retried, dead, deferred."""
    outbox = outbox or Outbox()
    channels = configured() if channels is None else channels
    now = now or datetime.now(UTC)
    counts = {"sent": 0, "failed": 0, "dead": 0, "deferred": 0, "paused": 0}
    if ControlStore().agents_paused():
        counts["paused"] = len(outbox.due(now))  # they stay due: resuming sends them
        return counts
    # Batches: what was attempted is no longer due at `now` (sent, dead, or rescheduled later).
    while due := outbox.due(now, limit=BATCH):
        _deliver_batch(outbox, channels, due, now, counts)
        if len(due) < BATCH:
            break
    log.info("delivery: %s", counts)
    return counts


def _held_by_campaign(outbox: Outbox, due: list, now: datetime, counts: dict) -> list:
    """The due messages whose campaign still sends. An admin's pause holds a campaign's queued
    messages (sent once it is approved again); a stop ends them (dead, with the reason)."""
    if not any(m.campaign_id for m in due):
        return due
    status = CampaignStore().statuses()
    go = []
    for m in due:
        state = status.get(int(m.campaign_id)) if m.campaign_id else None
        if m.campaign_id is None or state in SENDING:
            go.append(m)
        elif state == "paused":
            outbox.defer(m.message_id, now + PAUSED_RECHECK)
            counts["deferred"] += 1
        else:
            error = f"campaign {m.campaign_id} is {state or 'gone'}: not sent"
            outbox.mark_failed(m.message_id, error, now, permanent=True)
            counts["dead"] += 1
    return go


def _deliver_batch(
    outbox: Outbox, channels: dict[str, Channel], due: list, now: datetime, counts: dict
) -> None:
    due = _held_by_campaign(outbox, due, now, counts)
    contacts = _contacts([m.learner_key for m in due if _needs_contact(channels, m.channel)])
    sent = []
    for m in due:
        channel = channels.get(m.channel)
        if channel is None:
            outbox.mark_failed(m.message_id, f"channel {m.channel} is not configured", now)
            counts["failed"] += 1
            continue
        contact = contacts.get(m.learner_key)
        if channel.quiet_hours:
            until = quiet_until(now, contact and contact.timezone)
            if until is not None:
                outbox.defer(m.message_id, until)
                counts["deferred"] += 1
                continue
        try:
            channel.send(m, contact)
        except PermanentError as exc:
            outbox.mark_failed(m.message_id, redact(str(exc)), now, permanent=True)
            counts["dead"] += 1
        except Exception as exc:  # any other failure may pass: retried with backoff
            state = outbox.mark_failed(m.message_id, redact(f"{type(exc).__name__}: {exc}"), now)
            counts[state] += 1
        else:
            sent.append(m.message_id)
            if channel.leaves_pathwise:  # recorded at once: a crash repeats at most this one
                outbox.mark_sent(sent, now)
                sent = []
            counts["sent"] += 1
    outbox.mark_sent(sent, now)  # in-app: accepted in memory, recorded together


def _needs_contact(channels: dict[str, Channel], name: str) -> bool:
    channel = channels.get(name)
    return bool(channel and channel.needs_contact)


def _contacts(learner_keys: list[str]) -> dict[str, Contact]:
    if not learner_keys:
        return {}
    s = get_settings()
    with connect(vault=True) as con:
        return lookup(con, sorted(set(learner_keys)), s)
