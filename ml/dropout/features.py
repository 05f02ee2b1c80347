"""The dropout model's rows and inputs: checkpoint rows with their dataset and cohort, the
forward (temporal) split, the feature matrix and labels, and Open edX Aspects' at-risk rule."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

FEATURES = (
    "course_fraction",
    "length_days",
    "enrolled_days_from_start",
    "active_days",
    "events",
    "events_last_7d",
    "events_last_14d",
    "days_inactive",
    "modules_total",
    "modules_done",
    "share_done",
    "quiz_submissions",
    "quiz_average",
    "quiz_min",
    "quiz_last",
    "prior_courses_ended",
    "prior_drops",
    "previous_attempts",
    "studied_credits",
    "concurrent_enrolments",
    "assessments_due",
    "assessments_overdue",
    "submitted_late",
    "submitted_ahead",
    "days_overdue",
    "days_to_next_due",
    "peer_drop_share",
    "peer_overdue_mean",
    "days_inactive_vs_peers",
    "submissions_vs_peers",
)
CHECKPOINTS = {"p10": 10, "p25": 25, "p50": 50, "p75": 75}  # checkpoint -> % of the course
# Aspects' rule: a learner is "failing" below the pass mark (OU modules pass at 40%); without any
# graded work yet, their grade is 0, so failing too.
RULE_PASS_MARK = 0.4
RULE_INACTIVE_DAYS = 7
HOLDOUT_SHARE = 0.2  # the latest cohorts holding at least this share of rows are held out
MIN_LABELS = 20  # fewer drops (or non-drops) than this: no model
ROW_ORDER = ("cohort", "course_id", "learner_key", "checkpoint")  # unique per row
# How each feature reads in a "why" (value formatted into it).
WHY = {
    "course_fraction": "{:.0%} of the course time gone",
    "length_days": "a {:.0f}-day course",
    "enrolled_days_from_start": "enrolled {:+.0f} days from the start",
    "active_days": "{:.0f} active days so far",
    "events": "{:.0f} learning events so far",
    "events_last_7d": "{:.0f} events in the last 7 days",
    "events_last_14d": "{:.0f} events in the last 14 days",
    "days_inactive": "inactive for {:.0f} days",
    "modules_total": "{:.0f} modules in the course",
    "modules_done": "{:.0f} modules done",
    "share_done": "{:.0%} of the course done",
    "quiz_submissions": "{:.0f} quizzes submitted",
    "quiz_average": "quiz average {:.0%}",
    "quiz_min": "lowest quiz score {:.0%}",
    "quiz_last": "last quiz score {:.0%}",
    "prior_courses_ended": "{:.0f} earlier courses ended",
    "prior_drops": "{:.0f} earlier courses dropped",
    "previous_attempts": "{:.0f} earlier attempts at this course",
    "studied_credits": "studying {:.0f} credits",
    "concurrent_enrolments": "{:.0f} other courses open",
    "assessments_due": "{:.0f} assessments due so far",
    "assessments_overdue": "{:.0f} assessments overdue",
    "submitted_late": "{:.0f} assessments handed in late",
    "submitted_ahead": "{:.0f} assessments handed in early",
    "days_overdue": "work overdue for {:.0f} days",
    "days_to_next_due": "next assessment due in {:.0f} days",
    "peer_drop_share": "{:.0%} of the course's learners already dropped",
    "peer_overdue_mean": "peers have {:.1f} assessments overdue",
    "days_inactive_vs_peers": "inactive {:+.0f} days vs peers",
    "submissions_vs_peers": "{:+.1f} quizzes vs peers",
}


def dataset_of(course_id: pl.Expr) -> pl.Expr:
    """Which platform a course comes from: the id's prefix (`oulad:`, `coco:`), else 'platform'."""
    return (
        pl.when(course_id.str.contains(":"))
        .then(course_id.str.split(":").list.first())
        .otherwise(pl.lit("platform"))
    )


def load_features(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """All checkpoint rows of the warehouse, with their dataset and cohort (`with_groups`)."""
    try:
        df = pl.from_arrow(
            con.execute("select * from marts.ml_dropout_checkpoint_features").to_arrow_table()
        )
    except duckdb.CatalogException as e:
        raise RuntimeError(
            "marts.ml_dropout_checkpoint_features is missing: run `pathwise build` first."
        ) from e
    return with_groups(df)


def with_groups(df: pl.DataFrame) -> pl.DataFrame:
    """Add `dataset` (the course id's platform) and `cohort` (when the course clock started),
    in a fixed row order (the warehouse returns rows in any order; fits must not depend on it).

    Self-paced clocks start at every enrolment: a cohort is a week of them. Cohort courses
    (OULAD presentations) share one start, so their week is the presentation.
    """
    return df.with_columns(
        dataset=dataset_of(pl.col("course_id")),
        cohort=pl.col("clock_start_at").dt.truncate("1w"),
    ).sort(ROW_ORDER)


def rule_at_risk(df: pl.DataFrame) -> np.ndarray:
    """Open edX Aspects' at-risk rule on checkpoint rows: failing, still registered, inactive >= 7 days.

    Every checkpoint row is an enrolment still open at its checkpoint (still registered).
    """
    failing = (pl.col("quiz_submissions") == 0) | (pl.col("quiz_average") < RULE_PASS_MARK)
    inactive = pl.col("days_inactive") >= RULE_INACTIVE_DAYS
    return df.select((failing.fill_null(True) & inactive).alias("r"))["r"].to_numpy()


def temporal_split(df: pl.DataFrame, share: float = HOLDOUT_SHARE) -> tuple[pl.DataFrame, ...]:
    """(earlier, latest): the latest cohorts holding at least `share` of the rows are held out.

    Both in ROW_ORDER: fits and even sums of figures must not depend on the order rows came in.
    """
    df = df.sort(ROW_ORDER)
    sizes = df.group_by("cohort").len().sort("cohort", descending=True)
    if sizes.height < 2:
        raise ValueError("Need rows from at least two cohorts for a temporal split.")
    held = sizes.filter(pl.col("len").cum_sum().shift(1, fill_value=0) < share * df.height)
    cutoff = held["cohort"].min()
    return df.filter(pl.col("cohort") < cutoff), df.filter(pl.col("cohort") >= cutoff)


def features_matrix(df: pl.DataFrame) -> np.ndarray:
    """The models' input: FEATURES as floats, missing values as NaN."""
    return df.select(pl.col(f).cast(pl.Float64) for f in FEATURES).to_numpy()


def labels(df: pl.DataFrame) -> np.ndarray:
    return df["dropped"].cast(pl.Int8).to_numpy()


def has_labels(df: pl.DataFrame) -> bool:
    drops = int(df["dropped"].sum() or 0)
    return min(drops, df.height - drops) >= MIN_LABELS


def labelled(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col("checkpoint").is_in(list(CHECKPOINTS)), pl.col("is_label_known"))


def checkpoint_of(df: pl.DataFrame) -> pl.Series:
    """The checkpoint whose gate applies to each row: its own, or for `current` rows the last
    checkpoint the course time has passed (the first one before 10%)."""
    names = list(CHECKPOINTS)
    band = pl.lit(names[0])
    for name, pct in list(CHECKPOINTS.items())[1:]:
        band = pl.when(pl.col("course_fraction") >= pct / 100).then(pl.lit(name)).otherwise(band)
    current = pl.col("checkpoint") == "current"
    return df.select(pl.when(current).then(band).otherwise(pl.col("checkpoint")).alias("c"))["c"]
