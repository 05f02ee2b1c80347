"""The dropout model end to end: simulated platform (plus hand-made rows) and OULAD -> ingest ->
dbt (`marts.ml_*`) -> ml/dropout.py. Real DuckDB files, the real dbt build, no mocks.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from _ml_warehouse import HB_COURSE, build_once
from sklearn.metrics import brier_score_loss, roc_auc_score

from flows.build import build_flow
from flows.ingest import ingest_flow
from ml import dropout
from pathwise.settings import SHARED_DATA, get_settings
from pathwise.sources.oulad import import_oulad
from pathwise.warehouse import connect

pytestmark = pytest.mark.slow
SELECT = "+ml_dropout_checkpoint_features"
P10 = datetime(2026, 2, 11, 12)  # the hand-made course's 10% checkpoint (_ml_warehouse.py)


@pytest.fixture(scope="module")
def sim(tmp_path_factory, prefect_harness) -> Iterator[Path]:
    root = build_once(tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(root / "home"))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        yield root


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Tests here switch PATHWISE_HOME or thresholds: never keep another test's settings."""
    yield
    get_settings.cache_clear()


def features(where: str = "true") -> pl.DataFrame:
    with connect(read_only=True) as con:
        return pl.from_arrow(
            con.execute(
                f"select * from marts.ml_dropout_checkpoint_features where {where} "
                "order by learner_key, course_id, checkpoint"
            ).fetch_arrow_table()
        )


def test_rule_baseline_on_hand_made_learners(sim):
    p10 = features(f"course_id = '{HB_COURSE}' and checkpoint = 'p10'")
    assert p10["as_of_at"].unique().to_list() == [P10]
    flags = dict(zip(p10["learner_key"], dropout.rule_at_risk(p10).tolist(), strict=True))
    assert flags == {
        "hb-fail-idle": True,
        "hb-pass-idle": False,
        "hb-fail-active": False,
        "hb-silent": True,  # no graded work yet: failing; idle since the course started
        "hb-late": True,
        "hb-boundary": True,
    }  # hb-dropped left before the checkpoint: not registered, no row
    late = p10.filter(pl.col("learner_key") == "hb-late").row(0, named=True)
    assert (late["quiz_submissions"], late["quiz_average"], late["days_inactive"]) == (1, 0.3, 8)
    assert p10.filter(pl.col("learner_key") == "hb-silent")["days_inactive"].item() == 10


def test_features_ignore_events_at_or_after_the_checkpoint(sim, tmp_path, monkeypatch):
    """Perturb everything from a cut-off on (delete learning events, add failing quizzes and
    visits at the cut-off): every row whose checkpoint is at or before it must not change."""
    keep = ("learner_key", "course_id", "checkpoint")
    before = features("checkpoint != 'current'")
    cutoff = before["as_of_at"].sort()[before.height // 2]

    shutil.copytree(sim / "home", tmp_path / "home")
    monkeypatch.setenv("PATHWISE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    with connect() as con:
        ends = "('enroll', 'course_complete', 'course_drop')"  # the calendar and the labels stay
        con.execute(f"delete from raw.events where occurred_at >= ? and event_type not in {ends}",
                    [cutoff])  # fmt: skip
        con.execute(
            "insert into raw.events select 'x' || row_number() over () || kind, kind, $1, "
            "learner_key, null, course_id, null, 1, props, 'x', $1 from ("
            "  select distinct learner_key, course_id from raw.events where event_type = 'enroll'"
            ') cross join (values (\'quiz_submit\', \'{"quiz_id": "x", "score": 0, '
            "\"attempt\": 1}'), ('course_view', '{}')) as k(kind, props)",
            [cutoff],
        )
    # History was rewritten (not appended to): the incremental models upstream start over.
    rebuilt = build_flow(select="+ml_dropout_checkpoint_features", full_refresh=True)
    assert rebuilt["failures"] == []
    after = features("checkpoint != 'current'")

    early = pl.col("as_of_at") <= cutoff
    assert before.filter(early).height > 100
    assert after.filter(early).equals(before.filter(early))
    # The perturbation does bite later rows (so the comparison above could have failed).
    late_before = before.filter(~early).select(*keep, "events", "quiz_average")
    late_after = after.filter(~early).select(*keep, "events", "quiz_average")
    changed = late_before.join(late_after, on=keep).filter(
        pl.col("events").ne_missing(pl.col("events_right"))
        | pl.col("quiz_average").ne_missing(pl.col("quiz_average_right"))
    )
    assert changed.height > 0.5 * late_before.height


def test_learns_from_earlier_cohorts_better_than_the_rule(sim):
    df = dropout.with_groups(features())
    platform = dropout.labelled(df.filter(pl.col("dataset") == "platform"))
    train, test = dropout.temporal_split(platform)
    assert train["cohort"].max() < test["cohort"].min()
    model = dropout.fit(train)
    y = test["dropped"].cast(pl.Int8).to_numpy()
    p = model.predict(test)

    assert p.min() >= 0 and p.max() <= 1
    base_rate = train["dropped"].cast(pl.Float64).mean()
    assert brier_score_loss(y, p) < brier_score_loss(y, np.full(len(y), base_rate))
    assert roc_auc_score(y, p) > roc_auc_score(y, dropout.rule_at_risk(test)) + 0.1


def test_scores_open_enrolments_and_respects_the_auc_threshold(sim, monkeypatch):
    current = features("checkpoint = 'current' and course_id not like 'oulad:%'").height
    assert current > 0
    for min_auc, used in (("0.999", False), ("0.5", True)):
        monkeypatch.setenv("PATHWISE_DROPOUT_MIN_AUC", min_auc)
        get_settings.cache_clear()
        with connect() as con:
            summary = dropout.train_and_score(con)
            risk = pl.from_arrow(con.execute("select * from ml.dropout_risk").fetch_arrow_table())
            recorded = con.execute(
                "select value from ml.evaluations where kind = 'dropout' "
                "and metric = 'validation_roc_auc' order by evaluated_at desc limit 1"
            ).fetchall()
        assert summary["platform"]["used_for_decisions"] is used
        assert "skipped" in summary["oulad"]  # the hand-made course alone cannot train a model
        assert risk.height == current == summary["rows_written"]
        assert risk["used_for_decisions"].unique().to_list() == [used]
        assert risk["risk"].is_between(0, 1).all()
        assert recorded[0][0] == pytest.approx(summary["platform"]["validation_auc"], abs=1e-4)
    high = risk.filter(pl.col("risk_band") == "high")
    assert (high["risk"] >= 0.5).all()
    risky = risk.filter(pl.col("risk") > 0.3)
    assert risky.height > 0
    assert set(risky["top_features"].explode().drop_nulls()) <= set(dropout.FEATURES)
    assert (risky["top_features"].list.len() > 0).mean() > 0.9
    assert (risky["why"].str.len_chars() > 0).all()


@pytest.fixture(scope="module")
def oulad(tmp_path_factory, prefect_harness) -> Iterator[Path]:
    """All of OULAD here (2014J is withheld: the latest present presentations are 2014B)."""
    if not (SHARED_DATA / "oulad").is_dir():
        pytest.skip(f"OULAD not found in {SHARED_DATA}")
    root = tmp_path_factory.mktemp("dropout-oulad")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(root / "home"))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        import_oulad(SHARED_DATA / "oulad", root / "land", "parquet")
        ingest_flow(paths=[str(root / "land")])
        assert build_flow(select=SELECT)["failures"] == []
        yield root
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def oulad_evaluation(oulad) -> dict:
    """One evaluation run on OULAD (train on earlier presentations, test on the latest)."""
    with connect(read_only=True) as con:
        df = dropout.load_features(con)
        starts = con.execute("select max(starts_at) from marts.ml_course_calendars").fetchall()
    rows, model, info = dropout.evaluate(df)
    _, test = dropout.temporal_split(dropout.labelled(df))
    return {"rows": rows, "model": model, "info": info, "test": test, "latest": starts[0][0]}


def test_oulad_model_beats_the_at_risk_rule_at_every_checkpoint(oulad_evaluation):
    r = oulad_evaluation
    # Tested on the latest presentations present (their cohort: the week they start in).
    latest = r["latest"]
    assert [c[:10] for c in r["info"]["test_cohorts"]] == [
        str(latest.date() - timedelta(days=latest.weekday()))
    ]
    assert set(r["test"]["course_id"].str.slice(-5)) == {
        f"{latest.year}{'B' if latest.month == 2 else 'J'}"
    }
    v = {(x["method"], x["metric"], x["k"]): x["value"] for x in r["rows"]}
    for pct in (10, 25, 50):
        assert v["model", "roc_auc", pct] > v["rule", "roc_auc", pct], pct
        assert v["model", "brier", pct] < v["rule", "brier", pct], pct


def test_oulad_risks_are_calibrated_on_the_latest_presentation(oulad_evaluation):
    model, test = oulad_evaluation["model"], oulad_evaluation["test"]
    y = test["dropped"].cast(pl.Int8).to_numpy()
    calibrated = model.predict(test)
    uncalibrated = model.calibrated.estimator.predict_proba(dropout.features_matrix(test))[:, 1]

    def ece(p: np.ndarray) -> float:  # expected calibration error over risk quintiles
        idx = np.digitize(p, np.quantile(p, [0.2, 0.4, 0.6, 0.8]))
        return sum(abs(p[idx == b].mean() - y[idx == b].mean()) * (idx == b).mean()
                   for b in np.unique(idx))  # fmt: skip

    assert abs(calibrated.mean() - y.mean()) < 0.03
    assert ece(calibrated) < 0.03
    assert ece(calibrated) < ece(uncalibrated)
    assert brier_score_loss(y, calibrated) < brier_score_loss(y, uncalibrated)
