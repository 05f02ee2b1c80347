"""Running the agents: the registry (an agent is one module and one line here) and one run.

    pathwise agents run reengage      # decide tonight's nudges, then deliver what is due
    pathwise agents run campaigns     # find cohorts, propose campaigns, send the approved ones
    flows/nightly.py                  # the same, as the nightly step `agents`

An agent is a function `(con, outbox, route, now) -> summary` that reads marts and ML tables
through `con` (never raw events: tests/test_layers.py) and writes decisions and messages to the
outbox. The kill switch is checked here, before any agent decides, and again by the delivery
worker before anything goes out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

from agents import campaign_sends, metadata, reengage
from agents.channels import Channel, configured
from agents.delivery import deliver
from agents.paths import nightly as paths
from pathwise.contacts import with_email
from pathwise.controls import ControlStore
from pathwise.outbox import Outbox
from pathwise.warehouse import connect

log = logging.getLogger("pathwise.agents")

# (warehouse+vault connection, outbox, learner_key -> channel, now) -> summary
Agent = Callable[[duckdb.DuckDBPyConnection, Outbox, Callable[[str], str], datetime], dict]
AGENTS: dict[str, Agent] = {
    "reengage": reengage.run,
    "campaigns": campaign_sends.run,
    "paths": paths.run,
    "metadata": metadata.run,
}


def channel_for(con: duckdb.DuckDBPyConnection, channels: dict[str, Channel]) -> dict[str, str]:
    """Each learner's channel: e-mail where configured and they agreed to it, else the webhook
    where configured; learners not named get in-app."""
    if "email" in channels:
        return dict.fromkeys(with_email(con), "email")
    return {}


def run_agents(
    names: list[str] | None = None,
    *,
    now: datetime | None = None,
    channels: dict[str, Channel] | None = None,
    send: bool = True,
) -> dict:
    """Run the named agents (all by default), then deliver what is due (unless `send` is off)."""
    names = list(AGENTS) if names is None else names
    unknown = sorted(set(names) - set(AGENTS))
    if unknown:
        raise ValueError(f"unknown agent(s) {unknown}; known: {', '.join(AGENTS)}")
    now = now or datetime.now(UTC)
    channels = configured() if channels is None else channels
    if ControlStore().agents_paused():
        log.warning("agents paused by the kill switch (Control Tower): nothing decided or sent")
        return {"paused": True}
    outbox = Outbox()
    summary: dict = {"paused": False, "agents": {}}
    default = "webhook" if "webhook" in channels else "in_app"
    with connect(vault=True) as con:
        chosen = channel_for(con, channels)
        for name in names:
            route = lambda lk: chosen.get(lk, default)  # noqa: E731
            summary["agents"][name] = AGENTS[name](con, outbox, route, now)
    if send:
        summary["delivery"] = deliver(outbox, channels, now)
    summary["outbox"] = outbox.counts()
    return summary
