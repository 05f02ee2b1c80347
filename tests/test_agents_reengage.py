"""The re-engagement agent on platforms that ran the real nightly flow (its `agents` step included):
the shared app platform (tests/_app_platform.py); plus the decision rule on a hand-built frame with
a known answer, and the holdout's assignment. Consent and privacy: tests/test_agents_privacy.py.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime

import polars as pl
import pytest
from _app_platform import served

from agents import reengage
from agents.guardrails import in_holdout
from pathwise.outbox import Outbox
from pathwise.settings import get_settings
from pathwise.warehouse import connect

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_the_rule_picks_inactive_or_risky_enrolments_one_per_learner():
    frame = pl.DataFrame(
        {
            "learner_key": ["a", "a", "b", "c", "d", "e"],
            "course_id": ["C1", "C2", "C1", "C9", "C1", "C1"],
            "days_inactive": [8, 3, 6, 8, 2, 7],
            "risk": [None, 0.71, 0.35, None, 0.9, None],
            "risk_band": [None, "high", "medium", None, "high", None],
        }
    )
    t = reengage.Thresholds(inactive_days=7, by_course={"C9": 10}, risk_band="high")
    got = reengage.candidates(frame, t)
    rows = {r["learner_key"]: r for r in got.iter_rows(named=True)}
    # a: the risky course first (urgency: risk before inactivity); b: medium risk, 6 days: no;
    # c: 8 days but its course allows 10; d: high risk; e: exactly the threshold.
    assert set(rows) == {"a", "d", "e"}
    assert (rows["a"]["course_id"], rows["a"]["reason"]) == ("C2", "dropout_risk")
    assert rows["e"]["reason"] == "inactive" and rows["e"]["inactive_threshold"] == 7
    medium = reengage.candidates(frame, reengage.Thresholds(7, {"C9": 10}, "medium"))
    assert "b" in set(medium["learner_key"])


def test_the_holdout_is_a_stable_uniform_share():
    keys = [hashlib.sha256(str(i).encode()).hexdigest()[:32] for i in range(20_000)]
    share = sum(in_holdout(k, 0.2) for k in keys) / len(keys)
    assert abs(share - 0.2) < 0.01  # binomial sd 0.0028
    assert [in_holdout(k, 0.2) for k in keys[:50]] == [in_holdout(k, 0.2) for k in keys[:50]]
    assert not any(in_holdout(k, 0.0) for k in keys)


def marts_context(con) -> dict[tuple[str, str], dict]:
    rows = con.execute(
        "select learner_key, course_id, percent_complete, next_module_position, "
        "next_module_title, next_module_duration_minutes, days_inactive "
        "from marts.learner_course_progress"
    ).fetchall()
    return {
        (r[0], r[1]): dict(zip(("pct", "pos", "title", "minutes", "idle"), r[2:], strict=True))
        for r in rows
    }


def test_every_nudge_carries_real_context_and_why_it_was_sent(tmp_path_factory):
    with served(tmp_path_factory):
        outbox = Outbox()
        messages = outbox.messages()
        with connect(read_only=True) as con:
            context = marts_context(con)
    assert len(messages) >= 5, "the nightly agents step sent too few nudges to judge"
    for m in messages:
        facts = context[(m.learner_key, m.course_id)]
        assert f"{facts['pct']:g}% through" in m.body
        assert (
            f'Module {facts["pos"]}, "{facts["title"]}", about {round(facts["minutes"])} min'
            in (m.body)
        )
        assert f"ask a question about module {facts['pos']}" in m.body.lower()
        signals, thresholds = m.evidence["signals"], m.evidence["thresholds"]
        assert signals["days_inactive"] == facts["idle"]
        assert m.reason in ("inactive", "dropout_risk")
        if m.reason == "inactive":
            assert signals["days_inactive"] >= thresholds["inactive_days"]


def test_holdout_learners_are_recorded_and_never_contacted(tmp_path_factory):
    with served(tmp_path_factory):
        share = get_settings().agents_holdout_share
        outbox = Outbox()
        decisions, messages = outbox.decisions("reengage"), outbox.messages()
    outcomes = Counter(d.outcome for d in decisions)
    assert outcomes["holdout"] >= 1 and outcomes["treated"] >= 5
    contacted = {m.learner_key for m in messages}
    held = {d.learner_key for d in decisions if d.outcome == "holdout"}
    assert held and not held & contacted
    assert all(in_holdout(d.learner_key, share) == (d.outcome == "holdout") for d in decisions)
    # Treated decisions and messages are the same set, id for id: every message has its why.
    assert {d.decision_id for d in decisions if d.outcome == "treated"} == {
        m.message_id for m in messages
    }


def test_a_rerun_the_same_day_sends_nothing_twice(tmp_path_factory, tmp_path):
    with served(tmp_path_factory):
        outbox = Outbox(tmp_path / "outbox.sqlite")
        now = datetime.now(UTC)
        with connect(read_only=True) as con:
            first = reengage.run(con, outbox, now=now)
            again = reengage.run(con, outbox, now=now)
    assert first["enqueued"] >= 5 and again["enqueued"] == 0
    assert again.get("treated", 0) == 0  # the cap sees tonight's messages: all capped
    assert len(outbox.messages()) == first["enqueued"]
