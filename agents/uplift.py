"""Uplift against a holdout: per campaign (or agent) and outcome, the treated and holdout rates,
their difference and its 95% confidence interval.

Outcomes are proportions (returned within 7 days, completed a module, completed the course), so
the interval is Newcombe's hybrid score interval for a difference of independent proportions
(Newcombe 1998, Statistics in Medicine 17:873, method 10), built from each arm's Wilson score
interval. Unlike the textbook Wald interval it stays inside [-1, 1], behaves at rates near 0 or 1
and with small holdouts (a 10% holdout of a 50-learner cohort is 5 learners), where Wald's
coverage falls well below 95%. `tests/test_uplift.py` checks that a planted effect is recovered
within its interval and that, with no effect, the interval covers 0 about 95% of the time.

Input (`measure`): one row per learner assigned to a campaign, with `campaign_id`, `treated`
(False: in the holdout) and one boolean column per outcome (null: not yet known, left out).
Who was assigned, and when, comes from the outbox's decisions (`assigned`): every `treated` or
`holdout` decision of an agent, keyed by the agent's name (`reengage`, a campaign's
`campaign:<id>`), at the time it was decided; intention to treat, so a treated learner whose
message was never delivered still counts as treated. `outcomes` reads what happened next from
`marts.ml_course_interactions` (the marts' only timestamped record of learning work): returned =
any module completion, quiz or course end in the course within 7 days; module completed = a
module's first completion within `MODULE_DAYS`; course completed = passed within `COURSE_DAYS`.
An outcome is null until its horizon has passed by the warehouse's latest interaction ("today"
as the marts define it: reproducible). `run` writes `agents.uplift` (figures per campaign and
outcome: aggregates, no learner); the nightly flow runs `run_nightly` before it publishes, so
the snapshot serves last night's figures. On the simulated platform the effect is planted and
known (pathwise/sources/simulator/loop.py), and tests/test_simulated_uplift.py checks that these
intervals recover it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import numpy as np
import polars as pl
from scipy.stats import norm

from pathwise.outbox import Outbox
from pathwise.warehouse import connect, table_exists

OUTCOMES = ("returned_7d", "module_completed", "course_completed")
CONFIDENCE = 0.95
RETURN_DAYS = 7
MODULE_DAYS = 14  # a module takes a learner a week or two; a later one is not this nudge's doing
COURSE_DAYS = 60
# Fewer learners than this in either arm: "too few to tell", whatever the interval says. With a
# handful per arm one learner moves a rate by 15 points or more, and the interval's 95% holds
# only on average, so an extreme difference (7 nudged, +100 points) is no finding to act on.
MIN_ARM = 20
VERDICTS = ("too few to tell", "helps", "hurts", "no clear effect")
HORIZONS = {
    "returned_7d": RETURN_DAYS,
    "module_completed": MODULE_DAYS,
    "course_completed": COURSE_DAYS,
}
_OUTCOMES_SQL = f"""
    with today as (select max(interacted_at) as now from warehouse.marts.ml_course_interactions),
    hits as (
        select a.campaign_id, a.learner_key, a.course_id,
            bool_or(i.interaction_kind in ('progress', 'quiz', 'passed', 'failed')
                    and i.interacted_at <= a.assigned_at + interval {RETURN_DAYS} day)
                as returned,
            bool_or(i.interaction_kind = 'progress'
                    and i.interacted_at <= a.assigned_at + interval {MODULE_DAYS} day) as module,
            bool_or(i.interaction_kind = 'passed'
                    and i.interacted_at <= a.assigned_at + interval {COURSE_DAYS} day) as course
        from _assigned a
        join warehouse.marts.ml_course_interactions i
            on i.learner_key = a.learner_key and i.course_id = a.course_id
            and i.interacted_at > a.assigned_at
        group by all
    )
    select a.campaign_id, a.learner_key, a.course_id, a.treated,
        case when a.assigned_at + interval {RETURN_DAYS} day <= today.now
             then coalesce(h.returned, false) end as returned_7d,
        case when a.assigned_at + interval {MODULE_DAYS} day <= today.now
             then coalesce(h.module, false) end as module_completed,
        case when a.assigned_at + interval {COURSE_DAYS} day <= today.now
             then coalesce(h.course, false) end as course_completed
    from _assigned a
    cross join today
    left join hits h using (campaign_id, learner_key, course_id)
"""


def wilson(successes: np.ndarray, n: np.ndarray, confidence: float = CONFIDENCE):
    """Wilson score interval (low, high) of a proportion, elementwise; NaN where n = 0."""
    x, n = np.asarray(successes, float), np.asarray(n, float)
    z = norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def newcombe(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, confidence: float = CONFIDENCE
):
    """(difference p1 - p2, low, high): Newcombe's hybrid score interval, elementwise."""
    x1, n1, x2, n2 = (np.asarray(a, float) for a in (x1, n1, x2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    d = p1 - p2
    return (
        d,
        d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


def measure(
    assigned: pl.DataFrame, by: str = "campaign_id", outcomes: tuple[str, ...] = OUTCOMES
) -> pl.DataFrame:
    """Per `by` value and outcome: treated and holdout counts and rates, the difference
    (treated - holdout) and its interval. A group with an empty arm has null figures."""
    long = assigned.unpivot(
        index=[by, "treated"], on=list(outcomes), variable_name="outcome", value_name="hit"
    ).drop_nulls("hit")
    counts = long.group_by(by, "outcome").agg(
        treated_n=pl.col("treated").sum(),
        treated_hits=(pl.col("hit") & pl.col("treated")).sum(),
        holdout_n=(~pl.col("treated")).sum(),
        holdout_hits=(pl.col("hit") & ~pl.col("treated")).sum(),
    )
    d, low, high = newcombe(
        counts["treated_hits"].to_numpy(),
        counts["treated_n"].to_numpy(),
        counts["holdout_hits"].to_numpy(),
        counts["holdout_n"].to_numpy(),
    )
    return (
        counts.with_columns(
            treated_rate=pl.col("treated_hits") / pl.col("treated_n"),
            holdout_rate=pl.col("holdout_hits") / pl.col("holdout_n"),
            difference=pl.Series(d),
            ci_low=pl.Series(low),
            ci_high=pl.Series(high),
            confidence=pl.lit(CONFIDENCE),
        )
        .with_columns(pl.col(pl.Float64).fill_nan(None))
        .with_columns(verdict=_verdict())
        .sort(by, "outcome")
    )


def _verdict() -> pl.Expr:
    """What a row lets one say (VERDICTS): too few learners in an arm, else whether the interval
    lies above 0 (helps), below it (hurts) or holds it."""
    return (
        pl.when(pl.min_horizontal("treated_n", "holdout_n") < MIN_ARM)
        .then(pl.lit(VERDICTS[0]))
        .when(pl.col("ci_low") > 0)
        .then(pl.lit(VERDICTS[1]))
        .when(pl.col("ci_high") < 0)
        .then(pl.lit(VERDICTS[2]))
        .otherwise(pl.lit(VERDICTS[3]))
    )


def outcomes(con: duckdb.DuckDBPyConnection, assigned: pl.DataFrame) -> pl.DataFrame:
    """`assigned` (campaign_id, learner_key, course_id, treated, assigned_at) with the three
    outcomes from the marts (null while their horizon is still open)."""
    con.register("_assigned", assigned.select(
        "campaign_id", "learner_key", "course_id", "treated",
        pl.col("assigned_at").cast(pl.Datetime("us")),
    ).to_arrow())  # fmt: skip
    try:
        return con.execute(_OUTCOMES_SQL).pl()
    finally:
        con.unregister("_assigned")


def run(con: duckdb.DuckDBPyConnection, assigned: pl.DataFrame) -> pl.DataFrame:
    """Nightly: measure every campaign's uplift and replace `agents.uplift` with it."""
    table = measure(outcomes(con, assigned)).with_columns(measured_at=pl.lit(datetime.now(UTC)))
    con.execute("create schema if not exists warehouse.agents")
    con.register("_uplift", table.to_arrow())
    try:
        con.execute("create or replace table warehouse.agents.uplift as select * from _uplift")
    finally:
        con.unregister("_uplift")
    return table


def assigned(outbox: Outbox) -> pl.DataFrame:
    """The outbox's treated and holdout decisions as `outcomes` takes them: campaign_id (the
    agent's name: `reengage`, `campaign:<id>`), learner_key, course_id, treated, assigned_at."""
    rows = outbox.assignments()
    schema = {
        "campaign_id": pl.String, "learner_key": pl.String, "course_id": pl.String,
        "treated": pl.Boolean, "assigned_at": pl.Datetime("us", "UTC"),
    }  # fmt: skip
    return pl.DataFrame(
        [(r["agent"], r["learner_key"], r["course_id"], r["treated"], r["decided_at"])
         for r in rows],
        schema=schema,
        orient="row",
    ).with_columns(pl.col("assigned_at").dt.replace_time_zone(None))  # fmt: skip


def run_nightly(outbox: Outbox | None = None) -> dict:
    """The nightly step: every agent's uplift from the outbox's assignments into
    `agents.uplift`; a summary per agent and outcome (difference, interval and verdict)."""
    rows = assigned(outbox or Outbox())
    with connect() as con:
        if rows.is_empty() or not table_exists(con, "marts", "ml_course_interactions"):
            return {"assignments": rows.height, "rows": 0}
        table = run(con, rows)
    figures = {
        f"{r['campaign_id']}/{r['outcome']}": [
            r["difference"],
            r["ci_low"],
            r["ci_high"],
            r["verdict"],
        ]
        for r in table.iter_rows(named=True)
    }
    return {"assignments": rows.height, "rows": table.height, "uplift": figures}


def render(table: pl.DataFrame, by: str = "campaign_id") -> str:
    """One line per campaign and outcome: rates, difference and interval in points."""
    lines = []
    for r in table.iter_rows(named=True):
        if r["difference"] is None:
            lines.append(f"{r[by]}  {r['outcome']}: an arm is empty, no estimate")
            continue
        lines.append(
            f"{r[by]}  {r['outcome']}: treated {r['treated_rate']:.1%} (n={r['treated_n']}) vs "
            f"holdout {r['holdout_rate']:.1%} (n={r['holdout_n']}): "
            f"{100 * r['difference']:+.1f} points, 95% CI {100 * r['ci_low']:+.1f} to "
            f"{100 * r['ci_high']:+.1f}: {r['verdict']}"
        )
    return "\n".join(lines)
