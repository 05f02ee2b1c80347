"""The cohort campaign agent wired into the agent run (agents/campaign_sends.py through
agents/run.py): cohorts and proposals from a real DuckDB warehouse, an approved campaign becomes
outbox messages for its audience minus its holdout, a paused or stopped one sends nothing, a
re-run sends nothing twice, and the cohort members (learner keys) are kept only while needed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from _cohort_marts import course_a, enrolments, write_catalog, write_marts

from agents.campaign_sends import agent_name
from agents.channels import InApp
from agents.delivery import deliver
from agents.guardrails import in_holdout
from agents.run import run_agents
from pathwise.campaigns import CampaignStore
from pathwise.outbox import Outbox
from pathwise.settings import get_settings
from pathwise.warehouse import connect

CHANNELS = {"in_app": InApp()}
BY = {"actor": "ada", "reason": "worth a try"}
OPTED_OUT = "s1a"  # a member of course a's cohort who withdrew consent to messages


@pytest.fixture
def home(pathwise_home):
    """Three courses with one risky group each (30 stalled in a, 12 in b, 12 in c), as the dbt
    build and the dropout step leave them, and one night's proposals."""
    with connect() as con:
        write_marts(con, enrolments(course_a(30, "a") + course_a(12, "b") + course_a(12, "c")))
        write_catalog(con)
        con.execute(
            "alter table warehouse.marts.learners add column has_message_consent boolean;"
            "update warehouse.marts.learners set has_message_consent = learner_key <> ?",
            [OPTED_OUT],
        )
    summary = run_agents(["campaigns"], channels=CHANNELS)
    assert summary["agents"]["campaigns"]["proposals"]["proposed"] == 3
    return pathwise_home


def campaign(course: str) -> dict:
    return next(c for c in CampaignStore().list() if c["course_id"] == course)


def members(cohort_id: str) -> set[str]:
    with connect(read_only=True) as con:
        rows = con.execute(
            "select learner_key from warehouse.agents.cohort_members where cohort_id = ?",
            [cohort_id],
        ).fetchall()
    return {r[0] for r in rows}


def test_nothing_is_sent_before_an_admin_approves(home):
    outbox = Outbox()
    assert outbox.messages() == [] and outbox.decisions() == []
    assert {c["status"] for c in CampaignStore().list()} == {"proposed"}


def test_an_approved_campaign_reaches_its_audience_minus_the_holdout(home):
    c = campaign("a")
    audience = members(c["cohort_id"])
    assert len(audience) == 30
    CampaignStore().act(c["campaign_id"], "approve", **BY)
    summary = run_agents(["campaigns"], channels=CHANNELS)
    sends = summary["agents"]["campaigns"]["sends"]
    outbox = Outbox()
    agent = agent_name(c["campaign_id"])
    decisions = {d.learner_key: d for d in outbox.decisions(agent)}
    messages = {m.learner_key: m for m in outbox.messages()}
    assert set(decisions) == audience  # every member decided, once
    assert decisions[OPTED_OUT].outcome == "opted_out" and OPTED_OUT not in messages
    share = get_settings().agents_holdout_share
    for lk, d in decisions.items():
        own = in_holdout(lk, c["holdout_share"], salt=agent)
        held = lk != OPTED_OUT and (own or in_holdout(lk, share))
        assert (d.outcome == "holdout") == held, lk
        if held:
            assert d.evidence["holdout"] == ("campaign" if own else "agents")
    held = {lk for lk, d in decisions.items() if d.outcome == "holdout"}
    assert held and not held & set(messages)  # the holdout is recorded and never contacted
    treated = {lk for lk, d in decisions.items() if d.outcome == "treated"}
    assert treated == set(messages) and len(treated) == sends["enqueued"] >= 15
    for lk in treated:  # decision and message share the id: every message has its why
        m = messages[lk]
        assert m.message_id == decisions[lk].decision_id
        assert (m.campaign_id, m.agent, m.course_id) == (str(c["campaign_id"]), agent, "a")
        assert m.body == c["message"] and m.state == "sent"  # delivered in-app by the same run
    assert Counter(d.outcome for d in decisions.values()) == {
        k: sends[k] for k in ("treated", "holdout", "opted_out") if k in sends
    }


def test_a_rerun_sends_nothing_twice_and_proposes_nothing_again(home):
    c = campaign("a")
    CampaignStore().act(c["campaign_id"], "approve", **BY)
    first = run_agents(["campaigns"], channels=CHANNELS)["agents"]["campaigns"]
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    again = run_agents(["campaigns"], channels=CHANNELS)["agents"]["campaigns"]
    later = run_agents(["campaigns"], now=tomorrow, channels=CHANNELS)["agents"]["campaigns"]
    assert first["sends"]["enqueued"] >= 15
    assert again["cohorts"]["reused"] and again["proposals"]["proposed"] == 0
    assert again["sends"] == later["sends"] == {"campaigns_due": 1, "enqueued": 0}
    outbox = Outbox()
    assert len(outbox.messages()) == first["sends"]["enqueued"]
    assert len(outbox.decisions()) == 30 and len(CampaignStore().list()) == 3


def test_paused_and_stopped_campaigns_send_nothing(home):
    store = CampaignStore()
    b, c = campaign("b"), campaign("c")
    store.act(b["campaign_id"], "approve", **BY)
    store.act(b["campaign_id"], "pause", **BY)
    # c's messages are queued (no delivery), then c is paused: they wait, and go once approved.
    store.act(c["campaign_id"], "approve", **BY)
    queued = run_agents(["campaigns"], channels=CHANNELS, send=False)["agents"]["campaigns"]
    assert queued["sends"]["campaigns_due"] == 1 and queued["sends"]["enqueued"] >= 5
    assert Outbox().decisions(agent_name(b["campaign_id"])) == []  # paused: no one decided
    store.act(c["campaign_id"], "pause", **BY)
    now = datetime.now(UTC)
    assert deliver(Outbox(), CHANNELS, now)["sent"] == 0
    assert {m.state for m in Outbox().messages()} == {"scheduled"}
    store.act(c["campaign_id"], "approve", **BY)
    store.act(c["campaign_id"], "stop", **BY)
    later = deliver(Outbox(), CHANNELS, now + timedelta(hours=1))
    assert later["sent"] == 0 and later["dead"] == queued["sends"]["enqueued"]
    dead = Outbox().messages("dead")
    assert dead and all("is stopped: not sent" in m.last_error for m in dead)
    assert Outbox().messages("sent") == []


def test_a_scheduled_campaign_waits_for_its_time(home):
    c = campaign("b")
    start = datetime.now(UTC) + timedelta(days=2)
    CampaignStore().act(c["campaign_id"], "schedule", scheduled_for=start, **BY)
    early = run_agents(["campaigns"], channels=CHANNELS)["agents"]["campaigns"]
    assert early["sends"] == {"campaigns_due": 0, "enqueued": 0}
    on_time = run_agents(["campaigns"], now=start, channels=CHANNELS)["agents"]["campaigns"]
    assert on_time["sends"]["campaigns_due"] == 1 and on_time["sends"]["enqueued"] >= 5


def test_cohort_members_are_kept_only_while_a_campaign_may_contact_them(home):
    a, b = campaign("a"), campaign("b")
    with connect(read_only=True) as con:
        kept = {r[0] for r in con.execute(
            "select distinct cohort_id from warehouse.agents.cohort_members").fetchall()}  # fmt: skip
    assert kept == {c["cohort_id"] for c in CampaignStore().list()}  # every proposal, nothing else
    store = CampaignStore()
    store.act(a["campaign_id"], "approve", **BY)
    store.act(b["campaign_id"], "stop", **BY)
    pruned = run_agents(["campaigns"], channels=CHANNELS)["agents"]["campaigns"]["members_pruned"]
    assert pruned == 30 + 12  # a sent (the outbox keeps its decisions), b stopped
    assert members(a["cohort_id"]) == members(b["cohort_id"]) == set()
    assert len(members(campaign("c")["cohort_id"])) == 12  # still proposed: may yet be sent


def test_old_cohort_members_go_with_retention_and_erasure_covers_them(home):
    from pathwise.rights.retention import purge
    from pathwise.rights.stores import covering

    assert covering("warehouse", "agents", "cohort_members", {"learner_key"}).name == "warehouse"
    old = campaign("c")["cohort_id"]
    with connect() as con:
        con.execute(
            "update warehouse.agents.cohorts set found_at = now() - interval 30 month "
            "where cohort_id = ?",
            [old],
        )
    before = {c: len(members(c)) for c in (old, campaign("a")["cohort_id"])}
    purge(stores=["warehouse"])
    assert before[old] == 12 and members(old) == set()
    assert len(members(campaign("a")["cohort_id"])) == 30  # this run's: kept
