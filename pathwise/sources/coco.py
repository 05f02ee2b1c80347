"""COCO (Dessì et al. 2018) Udemy enrolments and knowledge graph -> contract events and catalog.

- valid.txt (user, item, 1, unix time) -> one `enroll` per line: learner `coco:<uid>`, course
  `coco:<item>`, event id `coco:enr:<uid>:<item>` (a Udemy learner enrols in a course once, so a
  repeated pair is kept at its first time and counted as skipped).
- Catalog: one course per item of i2kg_map.txt (title from its URL slug), plus any enrolled item
  the map lacks (title from its id): later interactions are withheld, so neither side is complete.
  From the knowledge graph (relations looked up by name in r_map.txt):
  category = the first `belong_to_category` edge (the KG lists the top-level category before the
  subcategory; the subcategory goes into the description), difficulty = `taught_in_level`
  (beginner 1, intermediate 2, esperto [expert] 3; 'all' levels states no difficulty: empty),
  language = `taught_in_language` as ISO 639-1, skills = `related_to_concept` names, target
  audiences (ISCO groups) into the description. Udemy courses are video lectures.
- users.txt (gender, age) is personal data: only counted.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pathwise.catalog import write_catalog
from pathwise.contract import SCHEMA_VERSION
from pathwise.events_io import suffix_for, write_events

DIFFICULTY = {"beginner": 1, "intermediate": 2, "esperto": 3}
LEVEL_NAMES = {"all": "all levels", "esperto": "expert"}
LANGUAGES = {
    "english": "en",
    "spanish": "es",
    "portuguese": "pt",
    "arabic": "ar",
    "german": "de",
    "chinese": "zh",
    "french": "fr",
    "italian": "it",
    "russian": "ru",
    "thai": "th",
    "turkish": "tr",
    "hindi": "hi",
    "vietnamese": "vi",
}
ISO = "%Y-%m-%dT%H:%M:%SZ"
# Tab-separated files with a header row; users.txt only to count learners it lacks.
TABLES = ("users.txt", "i2kg_map.txt", "e_map.txt", "r_map.txt", "kg_final.txt")


def import_coco(src: Path, out: Path, fmt: str, holdout_share: float = 0.0) -> dict:
    """Import a COCO folder into `out/events/coco-enrolments.*` and `out/catalog/`; return counts.

    With `holdout_share`, the latest share of enrolments goes to `out/holdout/events/` instead:
    ingest `out`, run the nightly, then ingest `out/holdout` and `pathwise evaluate recs --served`
    scores what was served against what learners did next."""
    if not 0 <= holdout_share < 1:
        raise ValueError(f"holdout_share must be in [0, 1), got {holdout_share}")
    src, out = Path(src), Path(out)
    lines = _read_interactions(src / "valid.txt")
    interactions = lines.filter(pl.col("label") == "1")
    timed = interactions.filter(pl.col("ts").is_not_null())
    enrolments = timed.sort("ts", "uid", "item").unique(["uid", "item"], keep="first")
    tables = {name: _tsv(src / name) for name in TABLES}

    events = _enroll_events(enrolments)
    held = events.tail(int(events.height * holdout_share))  # sorted by time: the latest
    files = _write_enrolments(events.head(events.height - held.height), held, out, fmt)
    items = tables["i2kg_map.txt"].select("eid", "pid", slug="name")
    return {
        "source_rows": {"valid.txt": lines.height} | {n: t.height for n, t in tables.items()},
        "events": {"enroll": events.height - held.height, "held_out_enroll": held.height},
        "skipped": {
            "valid.txt": {
                "not_an_interaction": lines.height - interactions.height,
                "missing_timestamp": interactions.height - timed.height,
                "duplicate_enrolment": timed.height - enrolments.height,
            }
        },
        "notes": _notes(enrolments, items, tables["users.txt"]),
        "catalog": write_catalog(out, _catalog(tables, items, enrolments)),
        "files": [str(f) for f in files],
    }


def _read_interactions(path: Path) -> pl.DataFrame:
    """valid.txt as text (uid, item, label) and a unix time `ts` (null where it is not one)."""
    return pl.read_csv(
        path,
        separator="\t",
        has_header=False,
        schema={"uid": pl.String, "item": pl.String, "label": pl.String, "ts": pl.String},
        quote_char=None,
    ).with_columns(ts=pl.col("ts").cast(pl.Int64, strict=False))


def _enroll_events(enrolments: pl.DataFrame) -> pl.DataFrame:
    """The contract's `enroll` events, in time order."""
    return enrolments.sort("ts", "uid", "item").select(
        event_id=pl.format("coco:enr:{}:{}", "uid", "item"),
        event_type=pl.lit("enroll"),
        occurred_at=pl.from_epoch("ts", time_unit="s").dt.strftime(ISO),
        user_id=pl.format("coco:{}", "uid"),
        session_id=pl.lit(None, pl.String),
        course_id=pl.format("coco:{}", "item"),
        module_id=pl.lit(None, pl.String),
        schema_version=pl.lit(SCHEMA_VERSION, pl.Int32),
        properties=pl.lit("{}"),
        context=pl.lit(None, pl.String),
    )


def _write_enrolments(kept: pl.DataFrame, held: pl.DataFrame, out: Path, fmt: str) -> list[Path]:
    """`kept` into out/events/; `held` (if any) into out/holdout/events/, to ingest later."""
    files = [write_events(kept, out / "events" / f"coco-enrolments{suffix_for(fmt)}", fmt)]
    if held.height:
        later = out / "holdout" / "events" / f"coco-enrolments-later{suffix_for(fmt)}"
        files.append(write_events(held, later, fmt))
    return files


def _catalog(
    tables: dict[str, pl.DataFrame], items: pl.DataFrame, enrolments: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """Catalog courses (every mapped or enrolled item) and their skills from the KG."""
    edges = _kg_edges(tables, items)
    courses = (
        pl.concat([items.select("pid"), enrolments.select(pid="item")])
        .unique()
        .join(items, on="pid", how="left")
        .join(_kg_facts(edges), on="pid", how="left")
    )
    skills = (
        edges.filter(pl.col("relation") == "related_to_concept")
        .select(course_id=pl.format("coco:{}", "pid"), skill="value")
        .unique()
        .sort("course_id", "skill")
    )
    audiences = edges.filter(pl.col("relation") == "has_target_audience")["value"].n_unique()
    return {"courses": _course_rows(courses, audiences), "course_skills": skills}


def _notes(enrolments: pl.DataFrame, items: pl.DataFrame, users: pl.DataFrame) -> dict[str, int]:
    """How many learners and courses were enrolled, and how many of them the side files lack."""
    return {
        "learners": enrolments["uid"].n_unique(),
        "enrolled_courses": enrolments["item"].n_unique(),
        "enrolled_courses_without_kg": enrolments.join(
            items, left_on="item", right_on="pid", how="anti"
        )["item"].n_unique(),
        "learners_not_in_users_txt": enrolments.join(users, on="uid", how="anti")["uid"].n_unique(),
    }


def _tsv(path: Path) -> pl.DataFrame:
    # Names contain quotes and commas: read every column as plain text.
    return pl.read_csv(path, separator="\t", quote_char=None, infer_schema=False)


def _kg_edges(tables: dict[str, pl.DataFrame], items: pl.DataFrame) -> pl.DataFrame:
    """KG edges from an item, in file order: pid, relation name, tail entity name (`value`)."""
    relations = tables["r_map.txt"].select("id", relation_name="kb_relation")
    entities = tables["e_map.txt"].select("eid", value="name")
    return (
        tables["kg_final.txt"]
        .with_row_index("edge")
        .join(items.select("eid", "pid"), left_on="entity_head", right_on="eid")
        .join(relations, left_on="relation", right_on="id")
        .join(entities, left_on="entity_tail", right_on="eid")
        .sort("edge")
        .select("pid", relation="relation_name", value="value")
    )


def _kg_facts(edges: pl.DataFrame) -> pl.DataFrame:
    """One row per item: its categories (file order), level, language and audiences."""

    def values(relation: str) -> pl.Expr:
        return pl.col("value").filter(pl.col("relation") == relation)

    return edges.group_by("pid", maintain_order=True).agg(
        categories=values("belong_to_category"),
        level=values("taught_in_level").first(),
        language=values("taught_in_language").first(),
        audience=values("has_target_audience").unique().sort(),
    )


def _course_rows(courses: pl.DataFrame, audiences: int) -> pl.DataFrame:
    """Catalog rows; `audiences` = how many target audiences the KG knows (all = 'everyone')."""

    def listed(column: str, separator: str) -> pl.Expr:
        # An empty list says nothing: null, so that its sentence is left out.
        joined = pl.col(column).list.join(separator)
        return pl.when(joined != "").then(joined)

    audience = (
        pl.when(pl.col("audience").list.len() == audiences)
        .then(pl.lit("everyone"))
        .otherwise(listed("audience", ", "))
    )

    return courses.select(
        course_id=pl.format("coco:{}", "pid"),
        title=pl.when(pl.col("slug").is_not_null())
        .then(_title_from_slug(pl.col("slug")))
        .otherwise(pl.format("Udemy course {}", "pid")),
        description=pl.concat_str(
            pl.format("Udemy course in {}", listed("categories", " / ")),
            pl.format("Level: {}", pl.col("level").replace(LEVEL_NAMES)),
            pl.format("For: {}", audience),
            separator=". ",
            ignore_nulls=True,
        ).replace("", None),
        category=pl.col("categories").list.first(),
        difficulty=pl.col("level").replace_strict(DIFFICULTY, default=None, return_dtype=pl.Int64),
        instructor_id=pl.lit(None, pl.String),
        language=pl.col("language").replace(LANGUAGES),
        primary_format=pl.lit("video"),
    ).sort("course_id")


def _title_from_slug(slug: pl.Expr) -> pl.Expr:
    """'learn-access-sql-from-scratch' -> 'Learn access sql from scratch'."""
    words = slug.str.replace_all("-", " ")
    return words.str.slice(0, 1).str.to_uppercase() + words.str.slice(1)
