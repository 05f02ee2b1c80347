"""The closed loop on a simulated platform, shared by the loop tests (test_simulated_uplift,
test_simulated_campaign_uplift): simulate `days`, run the nightly flow on the night after them,
let `act` act as an agent run would, let the simulated learners respond to the outbox for
`extra_days` with their planted effect, and run the nightly flow again to measure.

The caller sets PATHWISE_HOME and the agents' settings first; `home` is that PATHWISE_HOME.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.uplift import HORIZONS
from flows.nightly import nightly_flow
from pathwise.outbox import Outbox
from pathwise.privacy import pseudonym
from pathwise.settings import get_settings
from pathwise.sources.simulator import simulate
from pathwise.sources.simulator.loop import respond_to_outbox

REPLICATIONS = 24  # draws of the platform with and without the messages behind the true effect


def night(platform: dict, days: int) -> dt.datetime:
    """02:00 UTC, `days` after the platform's first day: when the nightly flow runs."""
    start = dt.datetime.fromisoformat(platform["start"]).replace(hour=2, tzinfo=dt.UTC)
    return start + dt.timedelta(days=days)


def run_loop(
    home: Path,
    platform: dict,
    extra_days: int,
    skip: list[str],
    act: Callable[[dt.datetime], Any] | None = None,
) -> dict[str, Any]:
    """The loop's nights and the simulator's truth: {first, acted, truth, second}."""
    landing = home / "landing" / "sim"
    simulate(**platform, out=landing)
    first_night = night(platform, platform["days"])
    first = nightly_flow(now=first_night, skip=skip)
    acted = act(first_night) if act else None
    key = get_settings().pseudonym_key.get_secret_value()
    truth = respond_to_outbox(
        **platform,
        out=landing,
        extra_days=extra_days,
        outbox=Outbox(),
        learner_key=lambda user_id: pseudonym(user_id, key),
        horizons=HORIZONS,
        replications=REPLICATIONS,
    )
    second = nightly_flow(now=night(platform, platform["days"] + extra_days), skip=skip)
    return {"first": first, "acted": acted, "truth": truth, "second": second}
