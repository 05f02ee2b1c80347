"""The loop closed for the cohort campaign agent: after 30 simulated days (two labelled cohorts,
so the dropout model is trained and the cohort finder has risks), the nightly flow runs, the
campaign agent proposes and, every campaign type set to auto as an admin may, sends; the
simulated platform responds for 8 days with its planted effect; the next nightly run measures
each campaign against its holdout. The largest campaign's planted effect lies within its
measured 95% interval, and no held-out learner heard from it.

Only the campaign agent acts here (`run_agents(["campaigns"])`, as the nightly `agents` step
calls it), with no common holdout and half of each audience held out (20% by default), so the
arms are as large as this platform's cohorts allow: about 30 learners each in the largest
campaign, so its interval is wide (this checks the measurement holds the truth on a campaign,
not its precision; the re-engagement agent's loop test, tests/test_simulated_uplift.py, has
arms of a few hundred).
"""

from __future__ import annotations

import polars as pl
import pytest
from _loop import run_loop

from agents.run import run_agents
from pathwise.campaigns import TYPES, CampaignStore
from pathwise.outbox import Outbox
from pathwise.settings import get_settings
from pathwise.warehouse import connect

pytestmark = pytest.mark.slow

PLATFORM = {
    "learners": 1500, "courses": 20, "days": 30, "seed": 5, "start": "2026-02-02",
    "fmt": "parquet", "bad_share": 0.0,
}  # fmt: skip
EXTRA_DAYS = 8
SKIP = ["index", "styles", "recommend", "drift", "benchmarks", "agents"]


@pytest.fixture(scope="module")
def loop(tmp_path_factory, prefect_harness):
    home = tmp_path_factory.mktemp("campaign-loop") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        mp.setenv("PATHWISE_AGENTS_HOLDOUT_SHARE", "0")
        mp.setenv("PATHWISE_CAMPAIGN_HOLDOUT_SHARE", "0.5")
        get_settings.cache_clear()
        try:
            for kind in TYPES:
                CampaignStore().set_auto(kind, True, actor="test", reason="the loop, unattended")
            nights = run_loop(
                home, PLATFORM, EXTRA_DAYS, SKIP, act=lambda now: run_agents(["campaigns"], now=now)
            )
            with connect(read_only=True) as con:
                uplift = con.sql("select * from agents.uplift").pl()
            outbox = Outbox()
            yield {
                **nights, "uplift": uplift,
                "decisions": outbox.decisions(), "messages": outbox.messages(),
            }  # fmt: skip
        finally:
            get_settings.cache_clear()


def test_the_largest_campaigns_planted_effect_is_within_its_measured_interval(loop):
    sends = loop["acted"]["agents"]["campaigns"]["sends"]
    assert sends["campaigns_due"] >= 2 and sends["treated"] > 0, sends
    measured = loop["uplift"].filter(
        pl.col("campaign_id").str.starts_with("campaign:"), outcome="returned_7d"
    )
    row = measured.sort("treated_n", "campaign_id", descending=True).row(0, named=True)
    truth = loop["truth"]["true_effect"][row["campaign_id"]]["returned_7d"]
    # The same population: every treated decision of the campaign, 7 days on.
    assert row["treated_n"] == truth["treated_n"] >= 25, (truth, row)
    assert row["holdout_n"] >= 25, row
    assert row["ci_low"] <= truth["effect"] <= row["ci_high"], (truth, row)
    # Something was planted across the campaigns (each one's is a few points at most).
    effects = [e["returned_7d"]["effect"] for a, e in loop["truth"]["true_effect"].items()
               if a.startswith("campaign:") and "returned_7d" in e]  # fmt: skip
    assert sum(effects) > 0, effects


def test_a_campaigns_holdout_hears_nothing_from_it(loop):
    held = {(d.agent, d.learner_key) for d in loop["decisions"] if d.outcome == "holdout"}
    assert held and all(agent.startswith("campaign:") for agent, _ in held)
    assert not held & {(m.agent, m.learner_key) for m in loop["messages"]}
    assert loop["truth"]["assignments"]["holdout_messaged"] == 0
