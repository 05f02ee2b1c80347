"""The learning-style detector on a simulated platform with planted styles: simulate -> ingest ->
dbt (`marts.ml_learner_style_signals`) -> ml/styles.py. Real DuckDB files and dbt build.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from _ml_warehouse import build_once

from ml import styles
from pathwise.settings import get_settings
from pathwise.warehouse import connect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim(tmp_path_factory, prefect_harness) -> Iterator[Path]:
    root = build_once(tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(root / "home"))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        yield root
    get_settings.cache_clear()


def frame(sql: str) -> pl.DataFrame:
    with connect(read_only=True) as con:
        return pl.from_arrow(con.execute(sql).fetch_arrow_table())


def test_styles_match_the_planted_ones(sim):
    with connect() as con:
        result = styles.evaluate_and_record(con, str(sim / "land" / "truth" / "learners.parquet"))
        recorded = con.execute(
            "select metric, value from ml.evaluations where kind = 'styles'"
        ).fetchall()
    consenting = frame("select count(*) n from marts.learners where has_fine_consent")["n"][0]
    assert result["consenting"] == consenting
    assert result["accuracy"] >= 0.85
    assert result["coverage"] >= 0.5  # the others have too little video yet
    assert ("accuracy", pytest.approx(result["accuracy"])) in recorded


def test_unknown_without_fine_consent(sim):
    with connect() as con:
        summary = styles.detect_and_write(con)
    detected = frame(
        "select s.*, l.has_fine_consent from ml.learning_styles s "
        "join marts.learners l using (learner_key)"
    )
    assert summary["rows_written"] == detected.height
    refused = detected.filter(~pl.col("has_fine_consent"))
    assert refused.height > 50
    assert refused["style"].unique().to_list() == ["unknown"]
    assert (refused["confidence"] == 0).all()
    assert refused["evidence"].str.contains("consent").all()
    named = detected.filter(pl.col("style") != "unknown")
    assert named["confidence"].is_between(1 / 3, 1).all()
    assert set(named["style"]) == {"watcher", "reader", "hands-on"}

    # Learners who granted and later withdrew consent have fine signals stored from before:
    # the mart hides them, so they are never used.
    revoked = frame(
        "select distinct f.learner_key from raw.fine_signals_daily f "
        "join marts.learners l using (learner_key) where not l.has_fine_consent"
    )
    assert revoked.height > 0
    signals = frame("select * from marts.ml_learner_style_signals").join(revoked, on="learner_key")
    signal_columns = [c for c in signals.columns if c not in ("learner_key", "has_fine_consent")]
    assert signals.select(pl.all_horizontal(pl.col(signal_columns).is_null())).to_series().all()


def test_consent_gates_the_detector_itself(sim):
    """Even if signals reached it, a learner without consent is unknown."""
    signals = frame("select * from marts.ml_learner_style_signals order by learner_key")
    consenting = signals.filter("has_fine_consent")["learner_key"].head(25)
    withdrawn = signals.with_columns(
        has_fine_consent=pl.when(pl.col("learner_key").is_in(consenting.implode()))
        .then(False)
        .otherwise("has_fine_consent")
    )
    before = styles.detect(signals).filter(pl.col("learner_key").is_in(consenting.implode()))
    after = styles.detect(withdrawn).filter(pl.col("learner_key").is_in(consenting.implode()))
    assert (before["style"] != "unknown").sum() > 10
    assert after["style"].unique().to_list() == ["unknown"]
