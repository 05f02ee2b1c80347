"""The demand forecast back-tested on a real dated series: weekly Coursera ratings per course.

A course's ratings a week stand in for its demand (the platform's own series are weeks long; the
1.45M dated ratings of 623 Coursera courses, `../shared/data/catalogs/coursera_623_with_ratings`,
span five years). Each course's series runs from its first rated week to the last whole week of
the data; the last `HOLDOUT` weeks are forecast one week ahead from the weeks before each
(forecast.backtest), for courses with at least `MIN_WEEKS` weeks before them. Courses are split in
two by a hash of their id: the trend's window is chosen on the dev half (lowest mean MASE) and
every figure is reported on the test half, beside the naive last-value forecast and a seasonal
naive one (the same week a year before) measured in the same run. `pathwise brief backtest`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from agents.briefs import forecast
from pathwise.settings import get_settings

RATINGS = Path("catalogs/coursera_623_with_ratings/coursera_ratings.csv.gz")
HOLDOUT = 8
MIN_WEEKS = 52 + 4  # a year for the seasonal naive forecast, and a few weeks more
WINDOWS = (4, 8, 13, 26)
SEASON = 52


def weekly_series(path: Path) -> dict[str, list[int]]:
    """course_id -> ratings per week (Monday weeks), first rated week to the last whole week."""
    ratings = pl.read_csv(path, columns=["date_reviews", "course_id"], try_parse_dates=True)
    weeks = ratings.with_columns(week=pl.col("date_reviews").dt.truncate("1w"))
    last_day = weeks["date_reviews"].max()
    counts = (
        weeks.filter(pl.col("week") + pl.duration(days=6) <= last_day)
        .group_by("course_id", "week")
        .len()
    )
    end = counts["week"].max()
    series = {}
    for (course,), rows in counts.partition_by("course_id", as_dict=True).items():
        by_week = dict(zip(rows["week"], rows["len"], strict=True))
        grid = pl.date_range(min(by_week), end, "1w", eager=True)
        series[str(course)] = [int(by_week.get(w, 0)) for w in grid]
    return series


def is_dev(course_id: str) -> bool:
    return hashlib.sha256(course_id.encode()).digest()[0] % 2 == 0


def seasonal_naive(series: Sequence[float], holdout: int) -> tuple[float, float]:
    """MAE and interval coverage of "the same week a year before" over the held-out weeks (its
    interval: the spread of year-on-year changes seen before each week, at least Poisson)."""
    errors, inside = [], 0
    z = forecast.z_score(forecast.LEVEL)
    for t in range(len(series) - holdout, len(series)):
        point = float(series[t - SEASON])
        diffs = [series[i] - series[i - SEASON] for i in range(SEASON, t)]
        s2 = sum(d * d for d in diffs) / len(diffs) if diffs else 0.0
        sd = max(s2, point, 1.0) ** 0.5
        errors.append(abs(series[t] - point))
        inside += max(point - z * sd, 0) <= series[t] <= point + z * sd
    return sum(errors) / holdout, inside / holdout


def evaluate(series: dict[str, list[int]], window: int, courses: list[str]) -> dict[str, dict]:
    """Mean and median MASE, mean MAE and interval coverage per method over `courses`."""
    rows: dict[str, list[tuple[float, float | None, float]]] = {}
    for course in courses:
        y = series[course]
        results = forecast.backtest(y, HOLDOUT, window)
        scale = forecast.naive_scale(y[: len(y) - HOLDOUT])
        mae, coverage = seasonal_naive(y, HOLDOUT)
        extra = {"seasonal_naive": (mae, mae / scale if scale > 0 else None, coverage)}
        for name, r in {
            **{k: (v.mae, v.mase, v.coverage) for k, v in results.items()},
            **extra,
        }.items():
            rows.setdefault(name, []).append(r)
    out = {}
    for name, values in rows.items():
        mases = sorted(m for _, m, _ in values if m is not None)
        out[name] = {
            "courses": len(values),
            "mae": sum(v[0] for v in values) / len(values),
            "mase_mean": sum(mases) / len(mases),
            "mase_median": mases[len(mases) // 2],
            "coverage": sum(v[2] for v in values) / len(values),
        }
    return out


def run(path: Path | None = None) -> dict:
    """Choose the trend window on the dev courses, report every method on the test courses."""
    path = path or get_settings().shared_data / RATINGS
    series = weekly_series(path)
    eligible = sorted(c for c, y in series.items() if len(y) >= MIN_WEEKS + HOLDOUT)
    dev = [c for c in eligible if is_dev(c)]
    test = [c for c in eligible if not is_dev(c)]
    tuning = {w: evaluate(series, w, dev)["trend"]["mase_mean"] for w in WINDOWS}
    window = min(tuning, key=lambda w: tuning[w])
    return {
        "holdout_weeks": HOLDOUT,
        "level": forecast.LEVEL,
        "dev_courses": len(dev),
        "window_mase_on_dev": tuning,
        "window": window,
        "test": evaluate(series, window, test),
    }
