"""Campaign proposals (agents/campaigns.py): the cohorts of a real run in a DuckDB warehouse get
a live session, a course bundle or a nudge sequence as their shape calls for; admin actions
follow the allowed transitions, and every one lands in the Control Tower's audit log."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from _cohort_marts import course_a, enrolments, write_catalog, write_marts

from agents import campaigns, cohorts
from pathwise.controls import ControlError, ControlStore
from pathwise.settings import get_settings
from pathwise.warehouse import connect

K = 10


def _warehouse(con) -> None:
    """Three courses with one risky group each: 30 learners stalled in a (a live session), 12 in
    b, which has a prerequisite the recommender suggests (a bundle), 12 in c (nudges)."""
    rows = course_a(30, "a") + course_a(12, "b") + course_a(12, "c")
    write_marts(con, enrolments(rows))
    write_catalog(con)
    cohorts.run(con, k=K)


@pytest.fixture
def proposed(pathwise_home):
    store = campaigns.CampaignStore()
    with connect() as con:
        _warehouse(con)
        summary = campaigns.propose(con, store)
        again = campaigns.propose(con, store)
    return store, summary, again


def test_each_cohort_gets_the_campaign_its_shape_calls_for(proposed):
    store, summary, again = proposed
    assert summary == {
        "cohorts": 3,
        "proposed": 3,
        "by_type": {"nudge_sequence": 1, "course_bundle": 1, "live_session": 1},
    }
    assert again["proposed"] == 0  # one proposal per cohort, however often it runs
    by_course = {c["course_id"]: c for c in store.list()}
    assert {c["status"] for c in by_course.values()} == {"proposed"}
    live, bundle, nudge = by_course["a"], by_course["b"], by_course["c"]
    assert live["campaign_type"] == "live_session" and live["module_id"] == "m3"
    assert live["message"].startswith("Stuck before Module m3 in Course a?")
    assert live["explanation"].startswith("30 learners in Course a")
    assert bundle["campaign_type"] == "course_bundle" and bundle["refresher_course_id"] == "p"
    assert "Python basics" in bundle["message"]
    assert nudge["campaign_type"] == "nudge_sequence"
    assert "Module m3 (about 18 minutes)" in nudge["message"]
    share = get_settings().campaign_holdout_share
    assert nudge["audience_size"] == 12 and nudge["holdout_share"] == share
    expected = 12 * (1 - share) * 0.8 * cohorts.EXPECTED_LIFT
    assert nudge["expected_prevented"] == pytest.approx(expected)
    assert nudge["explanation"].startswith("12 learners in Course c")
    # the preview is built from the catalog: no learner key in any campaign row
    text = " ".join(str(v) for c in store.list() for v in c.values())
    assert "s0c" not in text and "o0c" not in text


def test_admin_actions_follow_the_lifecycle_and_are_audited(proposed):
    store = proposed[0]
    cid = store.list()[0]["campaign_id"]
    by = {"actor": "ada", "reason": "looks right"}
    assert store.act(cid, "approve", **by)["status"] == "approved"
    edited = store.edit_message(cid, "Module m3 is 18 minutes: back at it?", **by)
    assert edited["message"] == "Module m3 is 18 minutes: back at it?"
    start = datetime(2026, 12, 8, 9, tzinfo=UTC)
    row = store.act(cid, "schedule", scheduled_for=start, **by)
    assert (row["status"], row["scheduled_for"]) == ("scheduled", start.isoformat())
    with pytest.raises(campaigns.CampaignError, match="pause it before editing"):
        store.edit_message(cid, "changed", **by)
    assert store.act(cid, "pause", **by)["status"] == "paused"
    assert store.act(cid, "approve", **by)["status"] == "approved"
    assert store.act(cid, "stop", **by)["status"] == "stopped"
    with pytest.raises(campaigns.CampaignError, match="is stopped: 'approve' works only"):
        store.act(cid, "approve", **by)
    with pytest.raises(ControlError, match="needs a reason"):
        store.act(cid, "stop", actor="ada", reason=" ")
    trail = store.audit(cid)
    assert [a["action"] for a in trail] == [
        "campaign_propose", "campaign_approve", "campaign_edit", "campaign_schedule",
        "campaign_pause", "campaign_approve", "campaign_stop",
    ]  # fmt: skip
    assert {a["actor"] for a in trail[1:]} == {"ada"}
    # the Control Tower's one audit log shows them
    assert sum(a["target"] == f"campaign:{cid}" for a in ControlStore().audit()) == len(trail)


def test_a_type_set_to_auto_is_approved_on_proposal_and_says_so(pathwise_home):
    store = campaigns.CampaignStore()
    store.set_auto("nudge_sequence", True, actor="ada", reason="nudges are routine here")
    with connect() as con:
        _warehouse(con)
        campaigns.propose(con, store)
    status = {c["campaign_type"]: c for c in store.list()}
    assert status["nudge_sequence"]["status"] == "approved"
    assert status["live_session"]["status"] == status["course_bundle"]["status"] == "proposed"
    trail = store.audit(status["nudge_sequence"]["campaign_id"])
    assert trail[-1]["actor"] == "auto" and "set to auto" in trail[-1]["reason"]
    assert pl.DataFrame(ControlStore().audit())["action"].to_list().count("campaign_set_auto") == 1
