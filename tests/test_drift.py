"""Monitoring that does not cry wolf: the drift check's KPIs on a platform of the demo's size.

The demo's own simulation (`flows.demo.DEMO`), with its completion rate shifted by 20% from day 15
on, is ingested and built (the KPI marts) by the real pipeline; the drift check must raise the
fixed-horizon completion alert there, and nothing on the unchanged platform of
tests/test_serving.py's nightly run (asserted there).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flows.build import build_flow
from flows.demo import DEMO
from flows.ingest import ingest_flow
from pathwise.settings import get_settings
from pathwise.sources.simulator import simulate
from pathwise.warehouse import connect

pytestmark = pytest.mark.slow

SHIFT_FROM_DAY = 15


@pytest.fixture(scope="module")
def shifted(tmp_path_factory, prefect_harness) -> Iterator[None]:
    root = tmp_path_factory.mktemp("drift")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(root / "home"))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        simulate(**DEMO, out=root / "land", fmt="parquet", bad_share=0.0,
                 completion_factor=0.8, shift_from_day=SHIFT_FROM_DAY)  # fmt: skip
        ingest_flow(paths=[str(root / "land")])
        assert build_flow(select="+completion_horizon_kpis +recommendation_kpis")["failures"] == []
        yield
    get_settings.cache_clear()


def test_a_20_percent_completion_shift_raises_the_fixed_horizon_alert(shifted):
    from ml.drift import check

    with connect() as con:
        result = check(con)
        checks = {
            name: (baseline, current, alert)
            for name, baseline, current, alert in con.execute(
                "select check_name, baseline, current, is_alert from ml.drift_checks "
                "where run_id = ?",
                [result["run_id"]],
            ).fetchall()
        }
        alert = (
            con.execute("select * from ml.drift_alerts where run_id = ?", [result["run_id"]])
            .pl()
            .to_dicts()
        )
        judged = con.execute(
            "select any_value(horizon_days), max(enrolment_date) - min(enrolment_date) "
            "from marts.completion_horizon_kpis"
        ).fetchall()[0]
    assert result["alerted"] == ["completion rate (fixed horizon)"]
    baseline, current, _ = checks["completion rate (fixed horizon)"]
    assert current < baseline * 0.9
    # Every other KPI holds: the shift only takes completions away.
    assert {name for name, (_, _, alert) in checks.items() if not alert} >= {
        "ctr", "enrolment rate", "average rating"
    }  # fmt: skip
    # The Control Tower says it in a sentence, with the figures an admin can check.
    from apps.ui import drift_sentence

    said = drift_sentence(alert[0])
    assert said.startswith("**Completion rate (fixed horizon)** fell")
    assert f"{baseline:.1%} → {current:.1%}" in said and "Interventions" in said
    # Only enrolments old enough to judge are counted: the last `horizon` days are not.
    horizon, span = judged
    assert span == DEMO["days"] - 1 - horizon
