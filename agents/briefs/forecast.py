"""Weekly demand forecasts with an interval, and their back-test on held-out weeks.

Two methods, both pure functions of a weekly count series (oldest first):

- `trend`: a least-squares line through the last `window` weeks, projected ahead (never below 0).
  Its interval is the line's prediction interval (residual variance times 1 + leverage), and never
  narrower than Poisson noise around the forecast: with three weeks of data the residuals alone
  would claim a certainty counts never have.
- `naive`: the last week's value (the baseline every forecast must beat). Its interval spreads
  with the week-to-week changes seen (a random walk: variance h times theirs), and at least
  Poisson noise.

`backtest` holds out the last weeks one at a time (rolling origin, one week ahead: what a brief
states is next week's demand) and reports each method's mean absolute error, MASE (scaled by the
in-sample one-step naive error, Hyndman & Koehler 2006) and how often the interval held the
truth. The window was chosen on a dev half of the Coursera courses' weekly ratings and reported
on the other half (`agents/briefs/backtest.py`, README "Content briefs").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from statistics import NormalDist

LEVEL = 0.8  # the interval every brief states
WINDOW = 13  # weeks the trend line is fitted on (backtest.py: chosen on the dev courses)


@dataclass(frozen=True)
class Forecast:
    method: str
    points: tuple[float, ...]  # weeks 1..h ahead
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    level: float

    @property
    def total(self) -> tuple[float, float, float]:
        """Sum over the horizon: point, low, high (bounds summed: a conservative interval)."""
        return sum(self.points), sum(self.lows), sum(self.highs)


def z_score(level: float) -> float:
    """The normal quantile of a central interval holding `level`."""
    return NormalDist().inv_cdf(0.5 + level / 2)


def _bounded(method: str, points: list[float], variances: list[float], level: float) -> Forecast:
    z = z_score(level)
    points = [max(p, 0.0) for p in points]
    # Counts: at least Poisson noise around the forecast (variance = mean), and at least 1.
    sds = [math.sqrt(max(v, p, 1.0)) for v, p in zip(variances, points, strict=True)]
    return Forecast(
        method,
        tuple(points),
        tuple(max(p - z * s, 0.0) for p, s in zip(points, sds, strict=True)),
        tuple(p + z * s for p, s in zip(points, sds, strict=True)),
        level,
    )


def trend(
    history: Sequence[float], horizon: int = 1, window: int = WINDOW, level: float = LEVEL
) -> Forecast:
    """A straight line through the last `window` weeks, `horizon` weeks ahead."""
    y = [float(v) for v in history[-window:]]
    n = len(y)
    if n == 0:
        raise ValueError("no history to forecast from")
    if n == 1:
        return _bounded("trend", [y[0]] * horizon, [y[0]] * horizon, level)
    xbar, ybar = (n - 1) / 2, sum(y) / n
    sxx = sum((x - xbar) ** 2 for x in range(n))
    slope = sum((x - xbar) * (v - ybar) for x, v in enumerate(y)) / sxx
    intercept = ybar - slope * xbar
    sse = sum((v - intercept - slope * x) ** 2 for x, v in enumerate(y))
    s2 = sse / (n - 2) if n > 2 else 0.0
    xs = [n - 1 + h for h in range(1, horizon + 1)]
    points = [intercept + slope * x for x in xs]
    variances = [s2 * (1 + 1 / n + (x - xbar) ** 2 / sxx) for x in xs]
    return _bounded("trend", points, variances, level)


def naive(
    history: Sequence[float], horizon: int = 1, window: int = WINDOW, level: float = LEVEL
) -> Forecast:
    """Last week's value, `horizon` weeks ahead."""
    y = [float(v) for v in history[-window:]]
    if not y:
        raise ValueError("no history to forecast from")
    diffs = [b - a for a, b in pairwise(y)]
    s2 = sum(d * d for d in diffs) / len(diffs) if diffs else 0.0
    return _bounded("naive", [y[-1]] * horizon, [s2 * h for h in range(1, horizon + 1)], level)


METHODS = {"trend": trend, "naive": naive}


def naive_scale(train: Sequence[float]) -> float:
    """MASE's denominator: the mean absolute one-week change within the training weeks."""
    return sum(abs(b - a) for a, b in pairwise(train)) / (len(train) - 1)


@dataclass(frozen=True)
class Backtest:
    method: str
    weeks: int  # held-out weeks forecast
    mae: float
    mase: float | None  # None when the in-sample naive error is 0 (a flat history)
    coverage: float  # share of held-out weeks inside the interval


def backtest(
    series: Sequence[float], holdout: int, window: int = WINDOW, level: float = LEVEL
) -> dict[str, Backtest]:
    """Each method forecasts each of the last `holdout` weeks from the weeks before it."""
    if holdout < 1 or len(series) < holdout + 2:
        raise ValueError(f"need at least {holdout + 2} weeks to hold out {holdout}")
    start = len(series) - holdout
    scale = naive_scale(series[:start])
    out = {}
    for name, method in METHODS.items():
        errors, inside = [], 0
        for t in range(start, len(series)):
            f = method(series[:t], 1, window, level)
            errors.append(abs(series[t] - f.points[0]))
            inside += f.lows[0] <= series[t] <= f.highs[0]
        mae = sum(errors) / holdout
        out[name] = Backtest(
            name, holdout, mae, mae / scale if scale > 0 else None, inside / holdout
        )
    return out
