"""The planner's catalog, read from the catalog marts: each course's skills, hours (the sum of its
modules' minutes), prerequisites, level, format, and quality (its completion rate where at least
k learners enrolled, else the neutral 0.5: a course is not penalized for being new)."""

from __future__ import annotations

import duckdb
import polars as pl

from agents.paths.planner import Catalog, Course, skill_key

NEUTRAL_QUALITY = 0.5
DEFAULT_HOURS = 10.0  # a course whose catalog lists no module durations


def load_catalog(con: duckdb.DuckDBPyConnection, k: int, schema: str = "marts") -> Catalog:
    """From `marts.courses`, `course_modules`, `course_skills`, `course_prerequisites` and
    `course_kpis` (completion per enrolment week; weeks pooled, courses under k learners
    neutral). `schema="main"` reads the same tables from a published snapshot."""
    courses = con.sql(
        f"""
        select c.course_id, c.course_title as title, c.difficulty as level,
               coalesce(c.primary_format, c.module_format) as format,
               sum(m.duration_minutes) / 60 as hours
        from {schema}.courses c left join {schema}.course_modules m using (course_id)
        group by all
        """
    ).pl()
    quality = con.sql(
        f"""
        select course_id, sum(completion_count) / sum(enrolment_count) as quality
        from {schema}.course_kpis group by 1 having sum(enrolment_count) >= {int(k)}
        """
    ).pl()
    return build_catalog(
        courses.join(quality, on="course_id", how="left"),
        con.sql(f"select course_id, skill_name as skill from {schema}.course_skills").pl(),
        con.sql(
            f"select course_id, prerequisite_course_id from {schema}.course_prerequisites"
        ).pl(),
    )


def build_catalog(
    courses: pl.DataFrame, skills: pl.DataFrame, prerequisites: pl.DataFrame
) -> Catalog:
    """`courses`: course_id, title, level, format, hours, quality (nulls allowed);
    `skills`: course_id, skill; `prerequisites`: course_id, prerequisite_course_id."""
    taught = skills.group_by("course_id").agg(pl.col("skill"))
    needs = prerequisites.group_by("course_id").agg(pl.col("prerequisite_course_id"))
    rows = courses.join(taught, on="course_id", how="left").join(needs, on="course_id", how="left")
    return Catalog(
        Course(
            course_id=r["course_id"],
            title=r["title"],
            skills=frozenset(skill_key(s) for s in r["skill"] or ()),
            hours=r["hours"] if r["hours"] else DEFAULT_HOURS,
            prerequisites=tuple(r["prerequisite_course_id"] or ()),
            level=r["level"],
            format=r["format"],
            quality=NEUTRAL_QUALITY if r["quality"] is None else r["quality"],
        )
        for r in rows.iter_rows(named=True)
    )
