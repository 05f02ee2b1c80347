"""The nightly incremental build equals a full refresh, for every table dbt builds.

A small simulated platform is ingested day by day: every day but the last, a full build; then
the last day (a new batch), the nightly incremental build; then a full refresh. Every table of
the staging, intermediate and marts schemas must hold the same rows after both.
"""

from __future__ import annotations

import math

import pytest

from flows.build import build_flow
from flows.ingest import ingest_flow
from pathwise.sources.simulator import simulate
from pathwise.warehouse import connect

SCHEMAS = ("staging", "intermediate", "marts")


def built_tables() -> dict[str, list[tuple]]:
    """Every base table dbt builds, its rows sorted; doubles rounded to 9 significant digits,
    since a parallel sum may add in another order."""

    def norm(v):
        return float(f"{v:.9g}") if isinstance(v, float) and math.isfinite(v) else v

    with connect(read_only=True) as con:
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_catalog = 'warehouse' and table_schema in {SCHEMAS} "
            "and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
        return {
            name: [
                tuple(norm(v) for v in row)
                for row in con.execute(f"select * from {name} order by all").fetchall()
            ]
            for (name,) in names
        }


@pytest.mark.slow
def test_the_nightly_incremental_build_equals_a_full_refresh(
    prefect_harness, pathwise_home, tmp_path
):
    land = tmp_path / "land"
    simulate(learners=300, courses=20, days=12, seed=5, out=land, fmt="parquet",
             start="2026-01-05", bad_share=0.01)  # fmt: skip
    days = sorted((land / "events").iterdir())
    last = days[-1].rename(tmp_path / days[-1].name)  # held back: the new day
    ingest_flow(paths=[str(land)])
    assert build_flow(full_refresh=True)["failures"] == []

    new_day = ingest_flow(paths=[str(last)])
    incremental = build_flow()
    after_increment = built_tables()
    assert build_flow(full_refresh=True)["failures"] == []
    after_full_refresh = built_tables()

    assert new_day["totals"]["loaded"] > 1000 and incremental["failures"] == []
    # The event staging models are incremental: they hold the new day's events too.
    assert any(name.startswith("staging.stg_pathwise__") for name in after_increment)
    with connect(read_only=True) as con:
        loaded_enrolments = con.execute(
            "select count(*) from raw.events where event_type = 'enroll'"
        ).fetchall()
    assert len(after_increment["staging.stg_pathwise__enrolments"]) == loaded_enrolments[0][0]
    assert after_increment.keys() == after_full_refresh.keys()
    for name in after_increment:
        assert after_increment[name] == after_full_refresh[name], name
