"""Guardrails every agent obeys, decided here once (`Guardrails.screen`, `quiet_until`).

At decision time (the agent's nightly step), in this order, each recorded as the decision's
outcome in the outbox (`decisions`), so the audit trail says why a learner got nothing:
1. kill switch: while an admin has paused the agents (Control Tower, `pathwise/controls.py`),
   no agent decides anything and the delivery worker sends nothing;
2. consent: a learner who withdrew consent to messages (`marts.learners.has_message_consent`)
   is `opted_out`;
3. frequency caps: at most PATHWISE_AGENTS_MAX_PER_DAY messages a day and _PER_WEEK in 7 days
   per learner, from every agent together (counted in the outbox, this run's included): `capped`.
   A holdout decision counts as the contact it stands for, and the caps come before the holdout,
   so they screen both arms alike: a campaign's treated arm would otherwise lose the learners
   another agent nudged that day while its holdout kept them (it measured +44 points where +5
   were planted in the demo);
4. holdout: a stable share (PATHWISE_AGENTS_HOLDOUT_SHARE) of learners, chosen by a hash of the
   learner_key (itself a keyed pseudonym), is never contacted by any agent; they are recorded as
   `holdout` when an agent would have contacted them, so uplift compares like with like (a
   campaign also keeps its own share of its audience out, drawn with its id as the salt).
At send time (`agents/delivery.py`): the kill switch again, and quiet hours (PATHWISE_AGENTS_QUIET_HOURS
in the learner's time zone where the vault knows it) for the channels that interrupt (e-mail,
webhook): such a message waits until the quiet hours end.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pathwise.outbox import Outbox
from pathwise.settings import Settings, get_settings

HOLDOUT_DOMAIN = "holdout\x1f"


def in_holdout(learner_key: str, share: float, salt: str = "") -> bool:
    """Is this learner in the holdout? Stable (a hash), uniform, independent of every agent. A
    `salt` (e.g. a campaign's id) draws an independent holdout of its own."""
    text = HOLDOUT_DOMAIN + (f"{salt}\x1f" if salt else "") + learner_key
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def quiet_until(at: datetime, timezone: str | None, settings: Settings | None = None):
    """When the learner's quiet hours end, if `at` falls in them; None otherwise."""
    s = settings or get_settings()
    start, end = (int(h) for h in s.agents_quiet_hours.split("-"))
    if start == end:
        return None  # no quiet hours
    local = at.astimezone(ZoneInfo(timezone or s.agents_default_timezone))
    h = local.hour
    quiet = (h >= start or h < end) if start > end else (start <= h < end)
    if not quiet:
        return None
    day = local.date() if h < end else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end), tzinfo=local.tzinfo)


@dataclass
class Guardrails:
    """One agent run's view of the guardrails; `screen` decides each candidate's outcome."""

    now: datetime
    settings: Settings = field(default_factory=get_settings)
    sent_today: Counter = field(default_factory=Counter)
    sent_week: Counter = field(default_factory=Counter)

    @classmethod
    def load(cls, outbox: Outbox, now: datetime, settings: Settings | None = None) -> Guardrails:
        s = settings or get_settings()
        return cls(
            now,
            s,
            Counter(outbox.contacts_since(now - timedelta(days=1))),
            Counter(outbox.contacts_since(now - timedelta(days=7))),
        )

    def screen(self, learner_key: str, has_message_consent: bool, held_out: bool = False) -> str:
        """`treated` or `holdout` (both counted against the caps), `opted_out` or `capped`.
        `held_out`: the learner is in the caller's own holdout too (a campaign's)."""
        s = self.settings
        if not has_message_consent:
            return "opted_out"
        if (
            self.sent_today[learner_key] >= s.agents_max_per_day
            or self.sent_week[learner_key] >= s.agents_max_per_week
        ):
            return "capped"
        self.sent_today[learner_key] += 1
        self.sent_week[learner_key] += 1
        if held_out or in_holdout(learner_key, s.agents_holdout_share):
            return "holdout"
        return "treated"
