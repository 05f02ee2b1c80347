"""A small simulated platform whose last days arrive later, shared by the recommender's tests and
the incremental build's (test_recommender, test_incremental). Built once per pytest session: its
first days are ingested, built by the real dbt build (every model and test), ranked by the
recommender and published; the later days wait in the simulator's folder. Then, on a copy, the
night after them: the later days ingested and the incremental build the nightly runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pathwise.settings import get_settings

FIRST_DAYS = 15  # ingested before the build; the 6 others arrive later
_grown: dict = {}


def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding `home/` (PATHWISE_HOME) and `sim/` (the simulator's files)."""
    root = tmp_path_factory.getbasetemp() / "growing-platform"
    if (root / "home" / "snapshots" / "CURRENT").exists():
        return root
    from flows.build import build_flow
    from flows.ingest import ingest_flow
    from ml.recommender import train_and_recommend
    from pathwise import snapshots
    from pathwise.sources.simulator import simulate
    from pathwise.warehouse import connect

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(root / "home"))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        try:
            simulate(
                learners=300,
                courses=24,
                days=21,
                seed=5,
                out=root / "sim",
                fmt="parquet",
                start="2026-02-02",
                bad_share=0.01,  # flawed lines too: the door quarantines them
            )
            ingest_flow(paths=[str(root / "sim" / "catalog"), *map(str, days(root)[:FIRST_DAYS])])
            assert build_flow()["failures"] == []
            with connect() as con:
                summary = train_and_recommend(con, candidates=10)
            assert summary["recommendations"] > 0
            with connect(read_only=True) as con:
                snapshots.publish(con)
        finally:
            get_settings.cache_clear()
    return root


def grown(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the platform after its later days were ingested, then built by the nightly's
    incremental build (nothing else: the served snapshot is still the first days'). Its `home`,
    and what the ingest and the build returned."""
    if _grown:
        return _grown
    from flows.build import build_flow
    from flows.ingest import ingest_flow

    root = build(tmp_path_factory)
    home = copy_home(root / "home", root / "grown" / "home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        try:
            ingested = ingest_flow(paths=[str(d) for d in days(root)[FIRST_DAYS:]])
            _grown.update(home=home, ingest=ingested, build=build_flow())
        finally:
            get_settings.cache_clear()
    return _grown


def days(root: Path) -> list[Path]:
    """The simulator's event files, one a day, in order."""
    return sorted((root / "sim" / "events").iterdir())


def copy_home(home: Path, dest: Path) -> Path:
    """A private copy of `home` at `dest`."""
    shutil.copytree(home, dest)
    return dest
