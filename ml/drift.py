"""Drift check: did tonight's scores, features or KPIs move away from their baseline?

Two kinds of comparison, each one row of `ml.drift_checks` (all of them, every run) and, when the
shift is large enough, also of `ml.drift_alerts`:
- distributions (recommendation scores, dropout risk, learner features): the population stability
  index (PSI) of tonight's values against the published snapshot's, over the baseline's deciles;
  an alert at `PATHWISE_DRIFT_THRESHOLD` (0.15);
- KPIs (CTR, enrolment rate, average rating, completion rate): relative change of the last 7 days
  against the 28 days before them, from the marts; an alert at `PATHWISE_DRIFT_KPI_THRESHOLD`
  (10%), and for rates only when the change is also beyond chance (two-proportion z >= 3), so a
  small platform's noise does not alert. The completion rate is fixed-horizon (completed within 7
  days of enrolling, `marts.completion_horizon_kpis`, enrolments old enough to judge only), and
  its baseline ends a horizon before the recent days start, so no baseline outcome was observed
  during them: raw completions per day lag enrolments at the end of the data and would alert
  every night.

Alerts are logged and, if `PATHWISE_DRIFT_WEBHOOK_URL` is set, POSTed there as JSON (https, verified;
plain http only to a host in `PATHWISE_ALLOW_PLAINTEXT_HOSTS`: pathwise/tls.py).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import duckdb
import numpy as np
import polars as pl

from pathwise import snapshots
from pathwise.results import append_table
from pathwise.settings import get_settings
from pathwise.tls import OutgoingRefused, post_json
from pathwise.warehouse import table_exists

log = logging.getLogger("pathwise.drift")

# (check name, schema, table, column, model column): distributions compared tonight vs the
# published snapshot. A model column names the model that made each value: its scores are
# compared only with the same model's. A recommender's blended score has no fixed scale, so when
# tuning picks another configuration (demo, 2026-12-08: EASE one night, ALS the next, means 1.07
# vs 1.03) the PSI measures the change of model (0.44), not of the platform; the change itself
# is in the snapshot's `recommender_configs` and the Control Tower. Dropout risk is a calibrated
# probability, comparable across retraining.
DISTRIBUTIONS = (
    ("recommendation score", "ml", "recommendations", "score", "model_version"),
    ("dropout risk", "ml", "dropout_risk", "risk", None),
    ("days inactive", "marts", "learner_course_progress", "days_inactive", None),
    ("percent complete", "marts", "learner_course_progress", "percent_complete", None),
    ("active days (30d)", "marts", "learners", "active_days_last_30d", None),
)
RECENT_DAYS, BASELINE_DAYS = 7, 28


def psi(baseline: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `current` against `baseline` (0 = same; > 0.25 = big shift).

    Bins are the baseline's quantiles; empty bins get a small floor so the log stays finite.
    """
    baseline = baseline[~np.isnan(baseline)]
    current = current[~np.isnan(current)]
    if len(baseline) == 0 or len(current) == 0:
        return float("nan")
    edges = np.unique(np.quantile(baseline, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:  # constant baseline: compare the share equal to it
        same_b, same_c = 1.0, float(np.mean(current == baseline[0]))
        b, c = np.array([same_b, 1 - same_b]), np.array([same_c, 1 - same_c])
    else:
        edges[0], edges[-1] = -np.inf, np.inf
        b = np.histogram(baseline, edges)[0] / len(baseline)
        c = np.histogram(current, edges)[0] / len(current)
    b, c = np.clip(b, 1e-4, None), np.clip(c, 1e-4, None)
    return float(np.sum((c - b) * np.log(c / b)))


def _values(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> np.ndarray:
    return con.execute(f"select {column}::double as v from {relation}").fetchnumpy()["v"]


def _distinct(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> list[str]:
    return [
        r[0] for r in con.execute(f"select distinct {column} from {relation} order by 1").fetchall()
    ]


# name -> (mart, its day column, numerator, denominator, is a rate of events): KPI = num / den.
KPIS = {
    "ctr": ("recommendation_kpis", "activity_date", "click_count", "impression_count", True),
    "enrolment rate": (
        "recommendation_kpis", "activity_date", "enrolment_count", "impression_count", True
    ),
    "average rating": (
        "recommendation_kpis", "activity_date", "avg_rating * rating_count", "rating_count", False
    ),
    "completion rate (fixed horizon)": (
        "completion_horizon_kpis", "enrolment_date", "completed_within_horizon_count",
        "enrolment_count", True,
    ),
}  # fmt: skip
# Three standard errors: four KPIs are checked every night, and at two an unchanged 400-learner
# platform alerted on chance alone (completion 0.285 -> 0.365 on 229 enrolments, z = 2.3); a real
# 20% shift on the demo's platform stands at z = 4.7 (tests/test_drift.py).
Z_BEYOND_CHANCE = 3.0


def _kpis(con: duckdb.DuckDBPyConnection, threshold: float) -> list[dict]:
    """Recent vs baseline window of each KPI, from the daily KPI marts."""
    checks: list[dict] = []
    for name, (mart, day, num, den, is_rate) in KPIS.items():
        if not table_exists(con, "marts", mart):
            continue
        relation = f"warehouse.marts.{mart}"
        # The horizon-judged mart: its baseline ends a horizon before the recent window.
        gap = "max(horizon_days)" if mart == "completion_horizon_kpis" else "0"
        windows = con.execute(
            f"""
                with bounds as (select max({day}) as last_day, {gap} as gap from {relation})
                select {day} > last_day - {RECENT_DAYS} as is_recent,
                       sum({num})::double, sum({den})::double
                from {relation}, bounds
                where {day} > last_day - {RECENT_DAYS}
                   or ({day} <= last_day - {RECENT_DAYS} - gap
                       and {day} > last_day - {RECENT_DAYS + BASELINE_DAYS} - gap)
                group by 1
            """
        ).fetchall()
        sums = {is_recent: (n, d) for is_recent, n, d in windows}
        (n1, d1), (n0, d0) = sums.get(True, (0, 0)), sums.get(False, (0, 0))
        if not d1 or not d0 or not n0:
            continue
        recent, base = n1 / d1, n0 / d0
        change = abs(recent - base) / base
        if is_rate:  # two-proportion z: is the change more than the counts' noise?
            pooled = (n0 + n1) / (d0 + d1)
            se = float(np.sqrt(pooled * (1 - pooled) * (1 / d0 + 1 / d1))) or float("inf")
            beyond_chance = abs(recent - base) / se >= Z_BEYOND_CHANCE
        else:
            beyond_chance = True
        checks.append(
            {
                "check_name": name,
                "kind": "kpi",
                "statistic": "relative_change",
                "baseline": base,
                "current": recent,
                "value": change,
                "threshold": threshold,
                "is_alert": change >= threshold and beyond_chance,
            }
        )
    return checks


def check(con: duckdb.DuckDBPyConnection) -> dict:
    """Compare tonight's warehouse results with the published snapshot; write checks and alerts."""
    settings = get_settings()
    threshold = settings.drift_threshold
    baseline_snap = snapshots.current()
    checks: list[dict] = []
    if baseline_snap is not None:
        base_con = baseline_snap.connect()
        try:
            for name, schema, table, column, model in DISTRIBUTIONS:
                if table not in baseline_snap.tables or not table_exists(con, schema, table):
                    continue
                if model and (
                    (was := _distinct(base_con, table, model))
                    != (now_model := _distinct(con, f"warehouse.{schema}.{table}", model))
                ):
                    log.info("%s not compared: the model changed (%s -> %s), a new baseline",
                             name, ", ".join(was), ", ".join(now_model))  # fmt: skip
                    continue
                base = _values(base_con, table, column)
                now = _values(con, f"warehouse.{schema}.{table}", column)
                checks.append(
                    {
                        "check_name": name,
                        "kind": "distribution",
                        "statistic": "psi",
                        "baseline": float(np.nanmean(base)) if len(base) else None,
                        "current": float(np.nanmean(now)) if len(now) else None,
                        "value": (value := psi(base, now)),
                        "threshold": threshold,
                        "is_alert": bool(np.isfinite(value) and value >= threshold),
                    }
                )
        finally:
            base_con.close()
    checks += _kpis(con, settings.drift_kpi_threshold)
    run_id, checked_at = uuid.uuid4().hex[:12], datetime.now(UTC)
    rows = [
        {
            **c,
            "run_id": run_id,
            "checked_at": checked_at,
            "baseline_version": baseline_snap.version if baseline_snap else None,
        }
        for c in checks
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "run_id": pl.String,
            "checked_at": pl.Datetime("us", "UTC"),
            "check_name": pl.String,
            "kind": pl.String,
            "statistic": pl.String,
            "baseline": pl.Float64,
            "current": pl.Float64,
            "value": pl.Float64,
            "threshold": pl.Float64,
            "baseline_version": pl.String,
            "is_alert": pl.Boolean,
        },
    )
    append_table(con, "drift_checks", frame)
    append_table(con, "drift_alerts", frame.filter(pl.col("is_alert")))
    alerts = [r for r in rows if r["is_alert"]]
    for a in alerts:
        log.warning(
            "drift alert: %s %s %.3f >= %.2f (baseline %s, now %s)",
            a["check_name"],
            a["statistic"],
            a["value"],
            a["threshold"],
            a["baseline"],
            a["current"],
        )
    if alerts and settings.drift_webhook_url:
        _post(settings.drift_webhook_url, {"run_id": run_id, "alerts": alerts})
    return {
        "run_id": run_id,
        "checks": len(rows),
        "alerts": len(alerts),
        "alerted": [a["check_name"] for a in alerts],
    }


def _post(url: str, body: dict) -> None:
    """Best effort: a webhook that is down or refused is logged, never fails the nightly run."""
    try:
        status = post_json(url, body, setting="PATHWISE_DRIFT_WEBHOOK_URL")
        log.info("drift webhook answered %s", status)
    except OutgoingRefused as exc:
        log.error("drift webhook not called: %s", exc)
    except OSError as exc:
        log.error("drift webhook %s failed: %s", url, exc)
