"""The real labelled catalogs the metadata models learn from and are evaluated on.

Each reader returns one frame in the same shape: `source`, `course_id`, `text` (what a course
page shows: title, summary, description, syllabus, whatever the catalog has), `level` (0
beginner, 1 intermediate, 2 advanced; null where the catalog states none, e.g. "All Levels" or
"Mixed") and `skills` (the catalog's own skill labels, empty where it has none).

- edX (974): title, summary, description, syllabus; levels Introductory / Intermediate / Advanced.
- Udemy (3,672): titles only; Beginner / Intermediate / Expert Level.
- Coursera 2023 (623): title, organisation; the `Skills` field; level first in `Metadata`.
- COCO (8k Udemy courses, through our importer pathwise/sources/coco.py): title from the URL
  slug, categories; `related_to_concept` facts as skills; the level sentence the importer writes
  into the description is removed (it is the label).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import polars as pl

from pathwise.sources.coco import import_coco

LEVELS = ("beginner", "intermediate", "advanced")
_LEVEL_OF = {
    "introductory": 0,
    "beginner": 0,
    "beginner level": 0,
    "intermediate": 1,
    "intermediate level": 1,
    "advanced": 2,
    "expert level": 2,
}
COLUMNS = ("source", "course_id", "text", "level", "skills")


def _level(column: str) -> pl.Expr:
    return (
        pl.col(column)
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict(_LEVEL_OF, default=None, return_dtype=pl.Int8)
    )


def _text(*columns: str) -> pl.Expr:
    return pl.concat_str([pl.col(c).fill_null("") for c in columns], separator=". ")


def read_edx(shared_data: Path) -> pl.DataFrame:
    edx = pl.read_csv(shared_data / "catalogs/edx/edx_courses.csv", infer_schema=False)
    return edx.with_row_index("n").select(
        source=pl.lit("edx"),
        course_id=pl.format("edx:{}", "n"),
        text=_text("title", "summary", "course_description", "course_syllabus"),
        level=_level("Level"),
        skills=pl.lit([], pl.List(pl.String)),
    )


def read_udemy(shared_data: Path) -> pl.DataFrame:
    udemy = pl.read_csv(shared_data / "catalogs/udemy/udemy_courses.csv", infer_schema=False)
    return udemy.unique("course_id", keep="first", maintain_order=True).select(
        source=pl.lit("udemy"),
        course_id=pl.format("udemy:{}", "course_id"),
        text=_text("course_title", "subject"),
        level=_level("level"),
        skills=pl.lit([], pl.List(pl.String)),
    )


def read_coursera(shared_data: Path) -> pl.DataFrame:
    path = shared_data / "catalogs/coursera_2023/coursera_course_dataset_v2_no_null.csv"
    coursera = pl.read_csv(path, infer_schema=False)
    return (
        coursera.with_row_index("n")
        .with_columns(first_level=pl.col("Metadata").str.split("·").list.first())
        .select(
            source=pl.lit("coursera"),
            course_id=pl.format("coursera:{}", "n"),
            text=_text("Title", "Organization"),
            level=_level("first_level"),
            skills=pl.col("Skills")
            .str.split(",")
            .list.eval(pl.element().str.strip_chars())
            .list.filter(pl.element() != ""),
        )
    )


def read_coco(shared_data: Path) -> pl.DataFrame:
    """COCO's catalog as our importer writes it (the same courses and skills the platform loads)."""
    with tempfile.TemporaryDirectory(prefix="pathwise-coco-") as out:
        import_coco(shared_data / "coco", Path(out), "parquet")
        courses = pl.read_csv(Path(out) / "catalog/courses.csv", infer_schema=False)
        skills = pl.read_csv(Path(out) / "catalog/course_skills.csv", infer_schema=False)
    skills = skills.group_by("course_id").agg(skills=pl.col("skill").sort())
    level_sentence = r"(?i)level: [a-z ]+(\. |$)"
    return (
        courses.join(skills, on="course_id", how="left")
        .select(
            source=pl.lit("coco"),
            course_id="course_id",
            text=pl.concat_str(
                "title",
                pl.col("description").fill_null("").str.replace(level_sentence, ""),
                separator=". ",
            ),
            level=(pl.col("difficulty").cast(pl.Int8) - 1),
            skills=pl.col("skills").fill_null([]),
        )
        .sort("course_id")
    )


READERS = {"edx": read_edx, "udemy": read_udemy, "coursera": read_coursera, "coco": read_coco}


def read_all(shared_data: Path, sources: tuple[str, ...] = tuple(READERS)) -> pl.DataFrame:
    """Every labelled catalog in one frame (COLUMNS)."""
    return pl.concat([READERS[s](shared_data).select(COLUMNS) for s in sources], how="vertical")


def split_of(course_id: str, *, test: float = 0.3, dev: float = 0.15) -> str:
    """'train', 'dev' or 'test' for a course, fixed by a hash of its id (split by course: the
    same course is never on both sides, whatever the order or the other catalogs)."""
    import hashlib

    u = int.from_bytes(hashlib.sha256(course_id.encode()).digest()[:8], "big") / 2**64
    return "test" if u < test else "dev" if u < test + dev else "train"


def sentences(text: str) -> list[str]:
    """Sentences (or syllabus lines) of a course text, for the tag that quotes one."""
    parts = re.split(r"(?<=[.!?])\s+|\n+|\s*[•·;]\s*", text or "")
    return [p.strip() for p in parts if len(p.strip()) > 2]
