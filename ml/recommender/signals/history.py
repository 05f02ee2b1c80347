"""The reason part shared by the signals that follow the learner's history: "you completed X".

The collaborative and the content signal both recommend a course because of courses the learner
took; the course named is the one that best stands for that history: of the recommended course's
category if the learner took one, else overall, the most engaged with (highest confidence), then
the most recent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from ml.recommender.signals.base import Reason

if TYPE_CHECKING:
    from ml.recommender.model import Hybrid

ANCHOR = ["anchor_id", "anchor_title", "anchor_completed"]


def with_anchor(model: Hybrid, long: pl.DataFrame) -> pl.DataFrame:
    """`long` (with learner_key, course_id, category) plus the anchor course of each row."""
    if "anchor_id" in long.columns:  # the other history signal joined it already
        return long
    history = (
        model.pairs.filter(pl.col("enrolled") | pl.col("completed"))
        .join(model.courses.select("course_id", "title", "category"), on="course_id")
        .select(
            "learner_key",
            anchor_id="course_id",
            anchor_title="title",
            anchor_category="category",
            # "completed" in a sentence means passed: a failed course is only "took", as the
            # learner's progress page says (status dropped).
            anchor_completed="passed",
            anchor_confidence="confidence",
            anchor_at="last_at",
        )
        .sort(
            ["anchor_confidence", "anchor_at", "anchor_id"],
            descending=[True, True, False],
            nulls_last=True,
        )
    )
    by_category = history.group_by("learner_key", "anchor_category", maintain_order=True).first()
    overall = history.group_by("learner_key", maintain_order=True).first()
    anchors = (
        long.select("learner_key", "course_id", "category")
        .join(
            by_category.select("learner_key", "anchor_category", *ANCHOR),
            left_on=["learner_key", "category"],
            right_on=["learner_key", "anchor_category"],
            how="left",
            maintain_order="left",
        )
        .join(
            overall.select("learner_key", *ANCHOR),
            on="learner_key",
            how="left",
            suffix="_any",
            maintain_order="left",
        )
        .select("learner_key", "course_id", *[pl.coalesce(c, f"{c}_any").alias(c) for c in ANCHOR])
    )
    return long.join(anchors, on=["learner_key", "course_id"], how="left", maintain_order="left")


def history_reason(model: Hybrid, long: pl.DataFrame, signal: str) -> tuple[pl.DataFrame, Reason]:
    """ "you completed / took <anchor>", where `signal` contributed to the row."""
    long = with_anchor(model, long)
    verb = pl.when(pl.col("anchor_completed")).then(pl.lit("completed")).otherwise(pl.lit("took"))
    return long, Reason(
        key="history",
        applies=pl.col("anchor_id").is_not_null() & (pl.col(f"contrib_{signal}") > 0),
        text=pl.format("you {} {}", verb, pl.col("anchor_title")),
        courses=pl.concat_list("anchor_id"),
    )
