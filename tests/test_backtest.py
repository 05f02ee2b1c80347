"""The cohort finder's backtest (cli/cohort_backtest.py) end to end on the simulated ML warehouse
(tests/_ml_warehouse.py, the real dbt build): fitted on the earlier cohorts, flagged on the
latest with as-of attributes, figures that agree with the labels counted here. The OULAD
figures in the README come from `pathwise evaluate cohorts` on an OULAD warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from _ml_warehouse import build_once

from cli import cohort_backtest as backtest
from ml import dropout
from pathwise.settings import get_settings
from pathwise.warehouse import connect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory, prefect_harness) -> Iterator[Path]:
    """The shared warehouse, which holds the catalog marts the finder reads."""
    root = build_once(tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(root / "home"))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        yield root / "home"
    get_settings.cache_clear()


def test_backtest_flags_on_the_latest_cohorts_and_counts_right(home):
    with connect() as con:
        result = backtest.run(con, dataset="platform")
        df = dropout.load_features(con).filter(pl.col("dataset") == "platform")
        recorded = con.execute(
            "select count(*) from ml.evaluations where kind = 'cohorts' and dataset = 'platform'"
        ).fetchall()[0][0]
    assert recorded == len(backtest.metric_rows(result)) > 0
    _, test = dropout.temporal_split(dropout.labelled(df))
    assert [c["checkpoint"] for c in result["checkpoints"]] == list(backtest.REPORTED)
    for c in result["checkpoints"]:
        at = test.filter(pl.col("checkpoint") == c["checkpoint"])
        y = at["dropped"].to_numpy().astype(bool)
        assert c["open_enrolments"] == at.height
        assert c["base_rate"] == pytest.approx(y.mean())
        cohorts, individual = c["cohorts_all"], c["individual_all"]
        assert individual["flagged"] == cohorts["flagged"] <= at.height
        assert c[f"cohorts_top{backtest.TOP}"]["flagged"] <= cohorts["flagged"]
        if c["cohorts"]:
            assert cohorts["flagged"] >= get_settings().k_anonymity
            drops = cohorts["recall"] * y.sum()
            assert drops == pytest.approx(round(drops))
            assert cohorts["precision"] == pytest.approx(drops / cohorts["flagged"])
        rule = dropout.rule_at_risk(at)
        assert c["rule"]["flagged"] == int(rule.sum())
        assert c["rule"]["recall"] == pytest.approx(y[rule].sum() / y.sum())
    text = backtest.render(result)
    assert "one by one by risk" in text and "Aspects at-risk rule" in text
    assert np.isfinite(result["checkpoints"][0]["base_rate"])
