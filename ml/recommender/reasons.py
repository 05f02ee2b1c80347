"""Why each course is recommended, in the learner's own terms, and which format to show first.

Each signal explains itself (`Signal.reason`); this module joins the parts: in blend order, at most
`MAX_PARTS` parts that apply to the row (its signal contributed and the part is true), skipping a
part that would only name a course already named. A row no part applies to gets the sentence of an
`alone` part (e.g. "Popular with learners this month").

    "Recommended because you completed Intro to SQL and your target role Data Analysts needs
     Tableau"
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from ml.recommender.data import FORMATS
from ml.recommender.model import Hybrid
from ml.recommender.signals import Reason

MAX_PARTS = 2
NO_NAMES = pl.lit([], pl.List(pl.String))


def explain(model: Hybrid, long: pl.DataFrame) -> pl.DataFrame:
    """Ranked rows (l, c, rank, contrib_*, boost) -> learner_key, course_id, rank, score,
    contributions, boost, reason, reason_courses, reason_skills, reason_role, format_first."""
    contrib_cols = [f"contrib_{s}" for s in model.signals]
    keys = pl.DataFrame(
        {"l": np.arange(len(model.learner_keys)), "learner_key": model.learner_keys}
    )
    courses = model.courses.select(
        pl.col("c").cast(pl.UInt32), "course_id", "title", "category", "primary_format"
    )
    long = (
        long.join(
            keys.with_columns(pl.col("l").cast(long.schema["l"])), on="l", maintain_order="left"
        )
        .join(courses, on="c", maintain_order="left")
        .with_columns(score=pl.sum_horizontal(*contrib_cols, "boost"))
    )
    parts: dict[str, Reason] = {}
    for signal in model.signals.values():
        long, part = signal.reason(long)
        if part is None:
            continue
        same = parts.get(part.key)  # e.g. both history signals: one part, used if either applies
        parts[part.key] = (
            part if same is None else replace(same, applies=same.applies | part.applies)
        )
    regular = [p for p in parts.values() if not p.alone]
    long = _choose(long, regular)
    used = [pl.col(f"use_{i}") for i in range(len(regular))]
    texts = pl.concat_list(
        [pl.when(u).then(p.text) for u, p in zip(used, regular, strict=True)]
        or [pl.lit(None, pl.String)]
    ).list.drop_nulls()
    alone = pl.coalesce(
        *[pl.when(p.applies).then(p.text) for p in parts.values() if p.alone],
        pl.lit(model.popularity_label),
    )
    skills = [
        pl.when(u).then(p.skills).otherwise(NO_NAMES)
        for u, p in zip(used, regular, strict=True)
        if p.skills is not None
    ]
    roles = [
        pl.when(u).then(p.role) for u, p in zip(used, regular, strict=True) if p.role is not None
    ]
    learner_formats = model.data.learners.select("learner_key", "style_format", "preferred_format")
    return (
        long.with_columns(
            reason=pl.when(texts.list.len() > 0)
            .then(pl.lit("Recommended because ") + texts.list.join(" and "))
            .otherwise(alone),
            reason_courses=pl.col("named"),
            reason_skills=pl.concat_list(skills) if skills else NO_NAMES,
            reason_role=pl.coalesce(roles) if roles else pl.lit(None, pl.String),
        )
        .join(learner_formats, on="learner_key", how="left", maintain_order="left")
        .with_columns(
            format_first=pl.coalesce(
                known_format("style_format"),
                known_format("preferred_format"),
                known_format("primary_format"),
            )
        )
        .select(
            "learner_key",
            "course_id",
            "rank",
            "score",
            *contrib_cols,
            "boost",
            "reason",
            "reason_courses",
            "reason_skills",
            "reason_role",
            "format_first",
        )
    )  # rows stay in learner (block) order, then rank


def _choose(long: pl.DataFrame, parts: list[Reason]) -> pl.DataFrame:
    """Columns use_<i> (part i is in the reason) and `named` (the courses the reason names)."""
    long = long.with_columns(n_used=pl.lit(0, pl.Int32), named=NO_NAMES)
    for i, p in enumerate(parts):
        courses = p.courses if p.courses is not None else NO_NAMES
        repeats = (courses.list.len() > 0) & (
            courses.list.set_difference(pl.col("named")).list.len() == 0
        )
        use = (
            p.applies.fill_null(False) & (pl.col("n_used") < MAX_PARTS) & ~repeats.fill_null(False)
        )
        long = long.with_columns(use.alias(f"use_{i}")).with_columns(
            n_used=pl.col("n_used") + pl.col(f"use_{i}").cast(pl.Int32),
            named=pl.when(pl.col(f"use_{i}"))
            .then(pl.concat_list("named", courses))
            .otherwise("named"),
        )
    return long


def known_format(column: str) -> pl.Expr:
    """The column's value where it is one of FORMATS, else null."""
    return pl.when(pl.col(column).is_in(FORMATS)).then(pl.col(column))
