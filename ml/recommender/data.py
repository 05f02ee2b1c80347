"""What the recommender reads: the catalog, learners, role skills and interaction events.

`load_data` reads them from the warehouse marts into plain polars frames (`RecData`); tests and
benchmarks build a `RecData` in memory instead. `interactions` turns the events into one
confidence per learner x course pair as of a time, which is all the collaborative model sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from pathwise.warehouse import table_exists

FORMATS = ("video", "reading", "hands-on")
STYLE_FORMATS = {"watcher": "video", "reader": "reading", "hands-on": "hands-on"}

# Confidence of one learner-course pair: what each interaction adds (implicit feedback).
CONFIDENCE = {"enroll": 1.0, "progress": 2.0, "completed": 1.0, "passed": 1.0, "click": 0.5}

# Which courses belong to a dataset when several share a warehouse (importers prefix their ids).
DATASETS = {"simulator": "course_id not like '%:%'", "coco": "course_id like 'coco:%'"}


@dataclass
class RecData:
    """Everything the recommender reads, as plain frames (from the warehouse or built in memory)."""

    # course_id, title, description, category, difficulty, language, primary_format
    courses: pl.DataFrame
    course_skills: pl.DataFrame  # course_id, skill
    prerequisites: pl.DataFrame  # course_id, prerequisite_course_id
    # learner_key, target_role, current_skills (list), style_format, preferred_format
    learners: pl.DataFrame
    role_skills: pl.DataFrame  # role, skill
    events: pl.DataFrame  # learner_key, course_id, kind, at, value (`marts.ml_course_interactions`)
    quiz_scores: pl.DataFrame | None = None  # learner_key, course_id, at, score (each attempt)


def _dataset_filter(dataset: str | None) -> str:
    if dataset is None:
        return ""
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    return f"where {DATASETS[dataset]}"


def load_data(con: duckdb.DuckDBPyConnection, dataset: str | None = None) -> RecData:
    """Read the catalog, learners, role skills and interaction events from the warehouse marts.

    `dataset` ('simulator' | 'coco') keeps one source's courses when several share a warehouse.
    """
    if not table_exists(con, "marts", "ml_course_interactions"):
        raise RuntimeError(
            "The warehouse has no marts yet: run `pathwise build` (after `pathwise ingest`)."
        )
    where = _dataset_filter(dataset)
    also = f"and {DATASETS[dataset]}" if dataset else ""

    def frame(sql: str) -> pl.DataFrame:
        return pl.from_arrow(con.execute(sql).to_arrow_table())

    courses = frame(f"""
        select course_id, course_title as title, course_description as description,
               category, difficulty, language,
               coalesce(primary_format, module_format) as primary_format
        from marts.courses {where}
        order by course_id""")
    if courses.is_empty():
        raise RuntimeError(
            f"No courses{f' of the {dataset} data' if dataset else ''} in "
            "the warehouse: import and ingest them first (e.g. `pathwise import coco "
            "../shared/data/coco --out var/landing/coco && pathwise ingest var/landing/coco && "
            "pathwise build`)."
        )
    course_skills = frame(
        f"select course_id, skill_name as skill from marts.course_skills {where} order by all"
    )
    prerequisites = frame(
        f"select course_id, prerequisite_course_id from marts.course_prerequisites {where} "
        "order by all"
    )
    # Sorted, so that a model does not depend on the order DuckDB returns rows in (ALS sums in
    # learner order; the last rating wins).
    interactions_ = frame(f"""
        select learner_key, course_id, interaction_kind as kind, interacted_at as "at",
               interaction_value as value
        from marts.ml_course_interactions where true {also}
        order by "at", learner_key, course_id, kind, value""")
    is_quiz = pl.col("kind") == "quiz"
    events = interactions_.filter(~is_quiz)
    quiz_scores = (
        interactions_.filter(is_quiz)
        .select("learner_key", "course_id", "at", score="value")
        .sort("learner_key", "course_id", "at", "score")
    )
    learners = frame(
        "select learner_key, target_role, current_skills, preferred_format from marts.learners "
        "where not personalization_opted_out"  # no profile is read for those who object
        if table_exists(con, "marts", "learners")
        else "select distinct learner_key, null::varchar as target_role, "
        "null::varchar[] as current_skills, null::varchar as preferred_format "
        "from marts.ml_course_interactions"
    ).sort("learner_key")
    if dataset:  # learners of that source only
        learners = learners.join(events.select("learner_key").unique(), on="learner_key")
    styles = _learning_style_formats(con)
    learners = (
        learners.join(styles, on="learner_key", how="left")
        if styles is not None
        else (learners.with_columns(style_format=pl.lit(None, pl.String)))
    )
    role_skills = frame(
        "select distinct rs.role_title as role, s.skill_name as skill "
        "from reference.role_skills rs join reference.skills s using (skill_id)"
        if table_exists(con, "reference", "role_skills")
        else "select null::varchar as role, null::varchar as skill where false"
    )
    return RecData(
        courses, course_skills, prerequisites, learners, role_skills, events, quiz_scores
    )


def load_opted_out(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The learner_keys of learners who objected to personalization (`marts.learners`); the
    marts the recommender trains on already leave them out."""
    if not table_exists(con, "marts", "learners"):
        return []
    rows = con.execute(
        "select learner_key from marts.learners where personalization_opted_out order by 1"
    ).fetchall()
    return [r[0] for r in rows]


def _learning_style_formats(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    """learner_key -> format of the detected learning style, when `ml.learning_styles` exists."""
    if not table_exists(con, "ml", "learning_styles"):
        return None
    cols = {r[0] for r in con.execute("describe warehouse.ml.learning_styles").fetchall()}
    style = next((c for c in ("learning_style", "style") if c in cols), None)
    if "learner_key" not in cols or style is None:
        return None
    mapping = ", ".join(f"('{k}', '{v}')" for k, v in STYLE_FORMATS.items())
    rows = con.execute(
        f"select s.learner_key, any_value(m.fmt) as style_format "
        f"from warehouse.ml.learning_styles s join (values {mapping}) m(style, fmt) "
        f"on s.{style} = m.style group by s.learner_key"
    ).to_arrow_table()
    return pl.from_arrow(rows)


def interactions(events: pl.DataFrame, as_of: datetime | None = None) -> pl.DataFrame:
    """Learner x course pairs as of a time (events before it only), with a confidence.

    confidence = 1 enrolled + 2 x progress share + 1 completed + 1 passed + 0.5 per click (<= 2)
    + 0.5 x (stars - 3), floored at 0.1 (a disliked course was still taken).
    """
    ev = events if as_of is None else events.filter(pl.col("at") < as_of)
    k = pl.col("kind")
    pairs = ev.group_by("learner_key", "course_id").agg(
        enrolled=(k == "enroll").any(),
        progress=pl.col("value").filter(k == "progress").sum().clip(0, 1),
        completed=k.is_in(["passed", "failed"]).any(),
        passed=(k == "passed").any(),
        clicks=(k == "click").sum(),
        stars=pl.col("value").filter(k == "rating").last(),
        first_at=pl.col("at").min(),
        last_at=pl.col("at").max(),
    )
    c = CONFIDENCE
    return pairs.with_columns(
        confidence=(
            c["enroll"] * pl.col("enrolled")
            + c["progress"] * pl.col("progress")
            + c["completed"] * pl.col("completed")
            + c["passed"] * pl.col("passed")
            + c["click"] * pl.col("clicks").clip(0, 2)
            + 0.5 * (pl.col("stars").fill_null(3.0) - 3.0)
        ).clip(lower_bound=0.1)
    ).sort("learner_key", "course_id")
