"""The loop closed on one small simulated platform: the nightly flow's agents nudge its learners,
the simulated platform responds for a week with a planted effect (pathwise/sources/simulator/
loop.py), the next nightly run measures the uplift against the holdout (agents/uplift.py), and the
planted effect lies within the measured 95% interval. Holdout learners get nothing; the nudges
come back as contract events and land in `marts.nudge_engagement` and the snapshot.

The simulated learners are steady (about 3 in 4 of those idle for 3 days come back within a week
anyway), so a planted effect is a few points: the holdout share is 50% here (10% by default) and
the agent nudges after 3 idle days (7 by default), so that a 1,500-learner platform gives both
arms a few hundred learners and an interval narrow enough to tell the effect from none.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from _loop import night, run_loop

from agents.uplift import HORIZONS
from pathwise import snapshots
from pathwise.outbox import Decision, Message, Outbox, message_id
from pathwise.settings import get_settings
from pathwise.sources.simulator import simulate
from pathwise.sources.simulator.loop import respond_to_outbox
from pathwise.sources.simulator.run import build_platform
from pathwise.warehouse import connect

PLATFORM = {
    "learners": 1500, "courses": 20, "days": 21, "seed": 5, "start": "2026-02-02",
    "fmt": "parquet", "bad_share": 0.0,
}  # fmt: skip
EXTRA_DAYS = 8  # the 7-day return is known for the nudges of the first night after them
# What the re-engagement agent and the uplift step need; the rest is tested elsewhere.
SKIP = ["index", "styles", "recommend", "drift"]


@pytest.fixture(scope="module")
def loop(tmp_path_factory, prefect_harness):
    home = tmp_path_factory.mktemp("loop") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        mp.setenv("PATHWISE_AGENTS_HOLDOUT_SHARE", "0.5")
        mp.setenv("PATHWISE_REENGAGE_INACTIVE_DAYS", "3")
        get_settings.cache_clear()
        try:
            nights = run_loop(home, PLATFORM, EXTRA_DAYS, SKIP)
            outbox = Outbox()
            with connect(read_only=True) as con:
                uplift = con.sql("select * from agents.uplift").pl()
                engagement = con.sql("select * from marts.nudge_engagement").pl()
                nudges = con.sql("select * from staging.stg_pathwise__nudges").pl()
            published = snapshots.require_current().connect()
            try:
                served = published.sql("select * from campaign_uplift").pl()
            finally:
                published.close()
            yield {
                **nights, "uplift": uplift,
                "engagement": engagement, "nudges": nudges, "served": served,
                "decisions": outbox.decisions(), "messages": outbox.messages(),
            }  # fmt: skip
        finally:
            get_settings.cache_clear()


def test_the_planted_effect_is_recovered_within_the_measured_interval(loop):
    truth = loop["truth"]["true_effect"]["reengage"]["returned_7d"]
    row = loop["uplift"].filter(campaign_id="reengage", outcome="returned_7d").row(0, named=True)
    # The same population: every treated decision of the first night, 7 days on.
    assert row["treated_n"] == truth["treated_n"] > 100
    assert row["holdout_n"] > 100
    assert row["ci_low"] <= truth["effect"] <= row["ci_high"], (truth, row)
    # A real effect was planted (a few points: most of these learners come back anyway).
    assert truth["effect"] > 3 * truth["effect_se"] > 0, truth
    # Each arm measures what the simulator knows: the treated rate with the nudges, and the
    # holdout's the treated learners' rate without them, each within the interval's half-width.
    half = (row["ci_high"] - row["ci_low"]) / 2
    assert half < 0.12, row
    assert abs(row["treated_rate"] - truth["rate_with_messages"]) < half, (truth, row)
    assert abs(row["holdout_rate"] - truth["rate_without"]) < half, (truth, row)
    assert loop["second"]["steps"]["uplift"]["uplift"]["reengage/returned_7d"][0] == (
        pytest.approx(row["difference"])
    )


def test_holdout_learners_got_no_message_and_did_not_hear_from_the_platform(loop):
    held = {d.learner_key for d in loop["decisions"] if d.outcome == "holdout"}
    assert len(held) > 100
    assert not held & {m.learner_key for m in loop["messages"]}
    assert loop["truth"]["assignments"]["holdout_messaged"] == 0
    from_agents = loop["nudges"].filter(agent="reengage")
    assert from_agents.height > 0 and not held & set(from_agents["learner_key"])


def test_sent_opened_and_clicked_come_back_as_events_and_land_in_the_marts(loop):
    delivered = loop["truth"]["messages"]["reengage"]
    sent_on = night(PLATFORM, PLATFORM["days"]).date()
    day = loop["engagement"].filter(sender="reengage", sent_on=sent_on).row(0, named=True)
    assert day["channel"] == "in_app" and day["campaign_id"] is None
    assert day["sent_count"] == day["learner_count"] == delivered["delivered"]
    assert (day["opened_count"], day["clicked_count"]) == (
        delivered["opened"],
        delivered["clicked"],
    )
    assert 0 < day["click_rate"] < day["open_rate"] < 1
    # The nudge ids are the outbox's message ids: each event traces back to its decision.
    sent_ids = set(loop["nudges"].filter(agent="reengage", nudge_action="sent")["nudge_id"])
    first_night = {
        m.message_id for m in loop["messages"] if m.sent_at.date() == sent_on
    }  # fmt: skip
    assert sent_ids == first_night
    # The platform's own nudges stay apart from the agents'.
    assert set(loop["engagement"]["sender"]) <= {"reengage", "platform"}


def test_measured_uplift_is_published_for_the_control_tower(loop):
    served = loop["served"].filter(campaign_id="reengage", outcome="returned_7d")
    assert served.height == 1
    assert served["difference"][0] == pytest.approx(
        loop["uplift"].filter(campaign_id="reengage", outcome="returned_7d")["difference"][0]
    )


def test_only_delivered_messages_get_a_response_and_the_effect_is_planted(tmp_path, pathwise_home):
    """The loop alone, on a hand-made outbox (no warehouse): every delivered message comes back
    as a `nudge_sent` with its id and agent, opens and clicks only of those, nothing for the
    held-out learners, a true effect clearly above zero, and the days written before the loop
    are left as they were."""
    small = {**PLATFORM, "learners": 400, "days": 14}
    landing = tmp_path / "land"
    simulate(**small, out=landing)
    before = {p.name: p.read_bytes() for p in (landing / "events").iterdir()}
    platform = build_platform(
        seed=small["seed"], catalog_seed=small["seed"], courses=small["courses"],
        learners=small["learners"], days=small["days"], first_day=dt.date(2026, 2, 2),
        completion_factor=1.0, shift_from_day=0,
    )  # fmt: skip
    for d in range(small["days"]):
        platform.day(d)
    users, courses = platform.lrn.user_id, platform.cat.courses["course_id"]
    now = night(small, small["days"])
    outbox, decisions, messages = Outbox(tmp_path / "outbox.sqlite"), [], []
    enrolled = np.flatnonzero(platform.course >= 0)
    for i, u in enumerate(enrolled):
        key, course = f"k-{users[int(u)]}", courses[int(platform.course[u])]
        if i % 7 == 6:  # about a course the learner is not in
            course = courses[(int(platform.course[u]) + 1) % len(courses)]
        mid = message_id("reengage", key, course, now.date().isoformat())
        outcome = "holdout" if i % 2 else "treated"
        decisions.append(Decision(mid, key, "reengage", str(now.date()), "inactive", outcome, {},
                                  course))  # fmt: skip
        if outcome == "treated":
            messages.append(Message(mid, key, "reengage", "in_app", "t", f"Module {platform.pos[u] + 1} is next",
                                    "", "inactive", {}, course_id=course, created_at=now))  # fmt: skip
    outbox.decide(decisions, now)
    outbox.enqueue(messages)
    outbox.mark_sent([m.message_id for m in messages], now)

    truth = respond_to_outbox(
        **small, out=landing, extra_days=EXTRA_DAYS, outbox=outbox,
        learner_key=lambda user_id: f"k-{user_id}", horizons=HORIZONS, replications=8,
    )  # fmt: skip
    assert {p.name: p.read_bytes() for p in (landing / "events").iterdir() if p.name in before} == (
        before
    )
    events = pl.concat(
        pl.read_parquet(p) for p in (landing / "events").iterdir() if p.name not in before
    ).filter(pl.col("event_type").str.starts_with("nudge_"))
    ids = events.with_columns(
        nudge_id=pl.col("properties").str.json_path_match("$.nudge_id"),
        agent=pl.col("properties").str.json_path_match("$.agent"),
    )
    ours = ids.filter(pl.col("nudge_id").is_in([m.message_id for m in messages]))
    sent = ours.filter(event_type="nudge_sent")
    assert sorted(sent["nudge_id"]) == sorted(m.message_id for m in messages)
    assert set(sent["agent"]) == {"reengage"}
    opened = set(ours.filter(event_type="nudge_opened")["nudge_id"])
    clicked = set(ours.filter(event_type="nudge_clicked")["nudge_id"])
    assert clicked and clicked <= opened <= set(sent["nudge_id"])
    held = {users[int(u)] for i, u in enumerate(enrolled) if i % 2}
    assert not held & set(ids.filter(pl.col("agent") == "reengage")["user_id"])
    summary = truth["messages"]["reengage"]
    assert summary["delivered"] == len(messages) and summary["brought_back"] > 0
    assert truth["assignments"] == {
        "treated": len(messages), "holdout": len(decisions) - len(messages), "holdout_messaged": 0,
    }  # fmt: skip
    effect = truth["true_effect"]["reengage"]["returned_7d"]
    assert effect["effect"] > 3 * effect["effect_se"] > 0
