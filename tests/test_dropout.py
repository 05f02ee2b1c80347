"""The dropout model end to end: simulated platform (plus hand-made rows) and OULAD -> ingest ->
dbt (`marts.ml_*`) -> ml/dropout/. Real DuckDB files, the real dbt build, no mocks.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from _ml_warehouse import HB_COURSE, build_once
from sklearn.metrics import brier_score_loss, roc_auc_score

from flows.build import build_flow
from flows.ingest import ingest_flow
from ml import dropout, fairness, model_cards
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
        "hb-overdue": False,
    }  # hb-dropped left before the checkpoint: not registered, no row
    late = p10.filter(pl.col("learner_key") == "hb-late").row(0, named=True)
    assert (late["quiz_submissions"], late["quiz_average"], late["days_inactive"]) == (1, 0.3, 8)
    assert p10.filter(pl.col("learner_key") == "hb-silent")["days_inactive"].item() == 10


def test_overdue_work_counts_as_of_the_checkpoint_and_not_after(sim):
    """hb-overdue (_ml_warehouse.py): A1 due Feb 6 done Feb 5, A2 due Feb 9 done Feb 12, A3 due
    Feb 11 and A4 due Feb 15 never done. At 10% (Feb 11) A2 is overdue though handed in later,
    A3 is not due yet; at the latest event A2 is late, A3 and A4 are overdue."""
    rows = features(f"learner_key = 'hb-overdue' and course_id = '{HB_COURSE}'")
    by_checkpoint = {r["checkpoint"]: r for r in rows.iter_rows(named=True)}
    assert set(by_checkpoint) == {"p10", "current"}  # the data ends before 25% of the course
    p10, now = by_checkpoint["p10"], by_checkpoint["current"]
    assert now["as_of_at"].date() > date(2026, 2, 15)  # all four due dates have passed
    deadlines = (
        "assessments_due", "assessments_overdue", "submitted_late", "submitted_ahead",
        "days_overdue", "days_to_next_due",
    )  # fmt: skip
    assert [p10[f] for f in deadlines] == [2, 1, 0, 0, 2, 0]
    days_since_a3 = (now["as_of_at"].date() - date(2026, 2, 11)).days
    assert [now[f] for f in deadlines] == [4, 2, 1, 0, days_since_a3, None]
    # What the enrolment said, and the peers: hb-dropped left the 8 who started before Feb 11.
    assert (p10["previous_attempts"], p10["studied_credits"]) == (1, 90)
    assert p10["peer_drop_share"] == pytest.approx(1 / 8)
    others = features(f"course_id = '{HB_COURSE}' and checkpoint = 'p10'")
    assert p10["peer_overdue_mean"] == pytest.approx(others["assessments_overdue"].mean())
    assert others.filter(pl.col("learner_key") != "hb-overdue")["assessments_overdue"].to_list() == [
        2, 2, 2, 2, 2, 2
    ]  # fmt: skip


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


def test_learns_from_earlier_cohorts_better_than_the_baselines(sim):
    df = dropout.with_groups(features())
    platform = dropout.labelled(df.filter(pl.col("dataset") == "platform"))
    train, test = dropout.temporal_split(platform)
    assert train["cohort"].max() < test["cohort"].min()
    model = dropout.fit(train, min_auc=0.5)
    # Forward validation: fitted on the earlier cohorts of `train`, validated on its latest.
    assert model.params["validation_fit_rows"] + model.params["validation_rows"] == train.height
    assert set(model.validation) == set(dropout.CHECKPOINTS)
    y = test["dropped"].cast(pl.Int8).to_numpy()
    p = model.predict(test)

    assert p.min() >= 0 and p.max() <= 1
    base_rate = train["dropped"].cast(pl.Float64).mean()
    assert brier_score_loss(y, p) < brier_score_loss(y, np.full(len(y), base_rate))
    assert roc_auc_score(y, p) > roc_auc_score(y, dropout.rule_at_risk(test)) + 0.1


@pytest.mark.parametrize(
    ("model", "logistic", "rule", "min_auc", "used"),
    [
        (0.80, 0.78, 0.60, 0.7, True),
        (0.80, 0.81, 0.60, 0.7, False),  # the logistic regression alone does better
        (0.80, 0.80, 0.60, 0.7, False),  # a tie is not a gain
        (0.80, 0.70, 0.82, 0.7, False),  # the at-risk rule does better
        (0.68, 0.60, 0.55, 0.7, False),  # beats both, under the minimum
    ],
)
def test_gate_needs_the_model_to_beat_both_baselines(model, logistic, rule, min_auc, used):
    figures = {"rows": 100, "drop_rate": 0.2}
    for method, auc in (("model", model), ("logistic", logistic), ("rule", rule)):
        figures[method] = {"roc_auc": auc, "brier": 0.1}
    validation = {"p10": figures}  # p25..p75 unmeasured (one class only): never used
    assert dropout.gate(validation, min_auc) == {
        "p10": used, "p25": False, "p50": False, "p75": False
    }  # fmt: skip


def test_scores_open_enrolments_with_the_gate_of_their_checkpoint(sim, monkeypatch):
    current = features("checkpoint = 'current' and course_id not like 'oulad:%'").height
    assert current > 0
    for min_auc in ("0.999", "0.5"):
        monkeypatch.setenv("PATHWISE_DROPOUT_MIN_AUC", min_auc)
        get_settings.cache_clear()
        with connect() as con:
            summary = dropout.train_and_score(con)
            risk = pl.from_arrow(con.execute("select * from ml.dropout_risk").to_arrow_table())
            recorded = con.execute(
                "select k, method, value from ml.evaluations where kind = 'dropout' "
                "and metric = 'validation_roc_auc' and evaluated_at = "
                "(select max(evaluated_at) from ml.evaluations where kind = 'dropout')"
            ).fetchall()
            cards = model_cards.build(con)
        assert "skipped" in summary["oulad"]  # the hand-made course alone cannot train a model
        assert risk.height == current == summary["rows_written"]
        assert risk["risk"].is_between(0, 1).all()
        # The gate, re-derived from the recorded forward validation, decides every row.
        auc = {(k, method): v for k, method, v in recorded}
        used = {
            c: auc[pct, "model"] >= float(min_auc)
            and auc[pct, "model"] > max(auc[pct, "logistic"], auc[pct, "rule"])
            for c, pct in dropout.CHECKPOINTS.items()
        }
        assert summary["platform"]["used_for_decisions"] == [c for c in used if used[c]]
        assert risk["checkpoint"].n_unique() > 1
        for row in (
            risk.select("checkpoint", "used_for_decisions", "validation_auc").unique().rows()
        ):
            checkpoint, used_here, validation_auc = row
            assert used_here is used[checkpoint]
            assert validation_auc == pytest.approx(auc[dropout.CHECKPOINTS[checkpoint], "model"])
            # The model card published with these risks says which checkpoints people see.
            card = cards.filter(pl.col("model") == "dropout")["card"].item()
            said = "used for decisions" if used_here else "not shown (failed its gate)"
            assert (
                f"at {checkpoint}: forward-validation ROC-AUC {validation_auc:.3f}, {said}" in card
            )
    assert summary["platform"]["used_for_decisions"]  # at 0.5 the model is used somewhere
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
    rows, model, info = dropout.evaluate(df, min_auc=0.7)
    _, test = dropout.temporal_split(dropout.labelled(df))
    return {
        "df": df, "rows": rows, "model": model, "info": info, "test": test,
        "latest": starts[0][0],
    }  # fmt: skip


def figures(rows: list[dict]) -> dict[tuple, float]:
    return {(x["method"], x["metric"], x["k"]): x["value"] for x in rows}


def test_oulad_model_beats_both_baselines_on_the_latest_presentation(oulad_evaluation):
    r = oulad_evaluation
    # Tested on the latest presentations present (their cohort: the week they start in).
    latest = r["latest"]
    assert [c[:10] for c in r["info"]["test_cohorts"]] == [
        str(latest.date() - timedelta(days=latest.weekday()))
    ]
    assert set(r["test"]["course_id"].str.slice(-5)) == {
        f"{latest.year}{'B' if latest.month == 2 else 'J'}"
    }
    v = figures(r["rows"])
    for pct in dropout.CHECKPOINTS.values():
        assert (
            v["model", "roc_auc", pct] > v["logistic", "roc_auc", pct] > v["rule", "roc_auc", pct]
        )
        assert v["model", "brier", pct] < v["logistic", "brier", pct] < v["rule", "brier", pct]
    # Where the model is used for decisions, it beat both baselines in forward validation.
    for pct in dropout.CHECKPOINTS.values():
        if v["model", "used_for_decisions", pct]:
            assert v["model", "validation_roc_auc", pct] >= 0.7
            assert v["model", "validation_roc_auc", pct] > v["logistic", "validation_roc_auc", pct]


def test_oulad_evaluation_is_reproducible(oulad_evaluation):
    """The same data in another row order (as the warehouse may return it) and a second run:
    identical figures, to the last digit."""
    shuffled = oulad_evaluation["df"].sample(fraction=1.0, shuffle=True, seed=7)
    rows, _, info = dropout.evaluate(shuffled, min_auc=0.7)
    assert rows == oulad_evaluation["rows"]
    assert info == oulad_evaluation["info"]


def test_oulad_risks_are_calibrated_on_the_latest_presentation(oulad_evaluation):
    model, test = oulad_evaluation["model"], oulad_evaluation["test"]
    y = test["dropped"].cast(pl.Int8).to_numpy()
    p = model.predict(test)
    # Expected calibration error over risk quintiles.
    idx = np.digitize(p, np.quantile(p, [0.2, 0.4, 0.6, 0.8]))
    ece = sum(
        abs(p[idx == b].mean() - y[idx == b].mean()) * (idx == b).mean() for b in np.unique(idx)
    )
    assert abs(p.mean() - y.mean()) < 0.03
    assert ece < 0.03


def oulad_segments() -> pl.DataFrame:
    key = get_settings().pseudonym_key.get_secret_value()
    return fairness.oulad_segments(SHARED_DATA / "oulad" / "studentInfo.csv", key)


def test_oulad_figures_per_segment_cover_every_test_learner(oulad_evaluation):
    """studentInfo's ids, keyed like the door keys them, find every test row; no segment under
    k is reported; and the per-segment AUCs are those of the served model on those rows."""
    model, test = oulad_evaluation["model"], oulad_evaluation["test"]
    figures = dropout.segment_figures(oulad_evaluation["df"], model, oulad_segments())
    k = get_settings().k_anonymity
    assert figures["learners"].min() >= k
    assert set(figures["attribute"]) == {"gender", "age band", "disability", "deprivation band"}
    checkpoints = dropout.checkpoint_of(test)
    for (checkpoint,), part in figures.filter(pl.col("attribute") == "gender").group_by(
        "checkpoint"
    ):
        assert part["rows"].sum() == (checkpoints == checkpoint).sum()
    women = figures.filter(pl.col("segment") == "F", pl.col("checkpoint") == "p50")
    keys = oulad_segments().filter(pl.col("segment") == "F").select("learner_key", "course_id")
    rows = test.join(keys, on=["learner_key", "course_id"]).filter(pl.col("checkpoint") == "p50")
    expected = roc_auc_score(dropout.labels(rows), model.fitted.predictions(rows)["model"])
    assert women["roc_auc"].item() == pytest.approx(expected)


def test_the_fairness_check_alerts_on_a_planted_gap(oulad_evaluation):
    """The served model's figures raise no alert; the same model made blind to disabled
    learners (its scores shuffled among them) raises one for them at every checkpoint (and may
    for a segment they are over-represented in, such as the most deprived band), none by gender."""
    model, test = oulad_evaluation["model"], oulad_evaluation["test"]
    segments = oulad_segments()
    y, checkpoints = dropout.labels(test), dropout.checkpoint_of(test).to_numpy()
    predictions = model.fitted.predictions(test)
    disabled = segments.filter(pl.col("attribute") == "disability", pl.col("segment") == "Y")
    blind = (
        test.select("learner_key", "course_id")
        .join(disabled, on=["learner_key", "course_id"], how="left")["segment"]
        .is_not_null()
        .to_numpy()
    )
    planted = predictions["model"].copy()
    planted[blind] = np.random.default_rng(0).permutation(planted[blind])
    k = get_settings().k_anonymity

    def check(scores: np.ndarray, evaluation_id: str) -> dict:
        figures = fairness.segment_figures(
            test, {**predictions, "model": scores}, y, checkpoints, segments, k
        )
        with connect() as con:
            fairness.record(
                con, figures, evaluation_id=evaluation_id, kind="dropout", dataset="oulad",
                model_version=model.version, checkpoint_pct=dropout.CHECKPOINTS,
            )  # fmt: skip
            return fairness.check(con, max_gap=0.05)

    assert check(predictions["model"], "served")["alerts"] == 0
    alerted = check(planted, "planted")["alerted"]
    assert [a for a in alerted if "disability" in a] == [
        f"oulad dropout: disability = Y at {p}%" for p in (10, 25, 50, 75)
    ]
    assert not [a for a in alerted if "gender" in a or "disability = N" in a]
    with connect(read_only=True) as con:
        stored = con.execute(
            "select * from ml.drift_alerts where kind = 'fairness' and is_alert order by value"
        ).pl()
    assert stored.height == len(alerted)
    # The Control Tower says it in a sentence with the figures and what to do.
    from apps.ui import drift_sentence

    said = drift_sentence(
        stored.filter(pl.col("check_name").str.contains("disability")).row(0, named=True)
    )
    assert said.startswith("**oulad dropout: disability = Y at") and "for all learners" in said
    assert "model card" in said


def test_an_auc_standard_error_matches_the_bootstrap():
    rng = np.random.default_rng(1)
    y = rng.random(600) < 0.2
    scores = y * 0.8 + rng.normal(size=600)
    auc = roc_auc_score(y, scores)
    boot = []
    for _ in range(150):
        i = rng.integers(0, 600, 600)
        boot.append(roc_auc_score(y[i], scores[i]))
    se = fairness.auc_standard_error(auc, int(y.sum()), int((~y).sum()))
    assert se == pytest.approx(np.std(boot), rel=0.2)
