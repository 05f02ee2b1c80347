"""Suggestions for catalog courses: skill tags, a difficulty score, prerequisites and a duration.

Read from the catalog marts (`courses`, `course_modules`, `course_skills`) and the skill taxonomy
(`reference.skills`: O*NET technology skills and ESCO digital / transversal skills). The models
(agents/metadata/models.py) are fitted on the real labelled catalogs (when
`PATHWISE_SHARED_DATA` has them) and on the platform's own catalog where it names skills and
levels, once per set of training inputs (cached in `$PATHWISE_HOME/models/`, see `train`).

- Skill tags: the tagger's best tags for the course text (title, description, module titles), kept
  only where the label is a taxonomy skill or a skill the catalog already teaches (so a tag always
  names a skill the recommender and the gap reports know), and not already on the course.
- Difficulty (1-5 and its catalog level): suggested where the catalog has none, or where the
  model's level differs from the catalog's.
- Prerequisites: skills a sentence says the learner should already know ("you should know",
  "familiarity with", "prior experience in", ...), or uses without teaching ("using Excel") when
  the course does not teach it; each with the catalog course that teaches it (lowest level first).
- Duration, where no module has one: the course's module count x the catalog's median module
  length (or the median course length, for a course with no modules).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import polars as pl
import sklearn

from agents.metadata import labelled
from agents.metadata import models as models_module
from agents.metadata.models import (
    DifficultyModel,
    SkillTagger,
    catalog_difficulty,
    level_of_score,
    normalise,
    sentence_grams,
    variants,
)
from pathwise.metadata_queue import Suggestion
from pathwise.settings import get_settings
from pathwise.warehouse import table_exists

log = logging.getLogger("pathwise.agents.metadata")

TOP_TAGS = 5
# Chosen on the dev split of COCO (the larger labelled catalog, concept labels like ours):
# python -m agents.metadata.evaluate; Coursera's dev split preferred k=20, weight 0.6, no floor.
TAGGER = {"k": 5, "lexical_weight": 0.3, "min_score": 0.45}
DIFFICULTY_ALPHA = 1e-5
ASSUMED = re.compile(
    r"\b(you should (already )?(know|be familiar|have)|should be (comfortable|familiar)|"
    r"familiarity with|prior (knowledge|experience)|previous experience|knowledge of|"
    r"experience (with|in)|prerequisites?|assumes?|required|basic understanding of|"
    r"comfortable (with|using)|you('ll| will) need)\b",
    re.IGNORECASE,
)
USED = re.compile(r"\b(using|with|in)\s+(.{2,40})", re.IGNORECASE)


@dataclass
class Catalog:
    courses: pl.DataFrame  # course_id, title, description, difficulty, text, fingerprint
    modules: pl.DataFrame  # course_id, module_count, minutes (null: no module has a duration)
    skills: pl.DataFrame  # course_id, skill
    taxonomy: pl.DataFrame  # skill_id, skill_name


def read_catalog(con: duckdb.DuckDBPyConnection) -> Catalog:
    """The catalog marts and the taxonomy seeds."""
    return build_catalog(
        courses=con.sql(
            # The catalog's own level: an accepted difficulty must not read as a changed course.
            "select course_id, course_title as title, course_description as description, "
            "catalog_difficulty as difficulty from marts.courses"
        ).pl(),
        modules=con.sql(
            "select course_id, module_position, module_title, duration_minutes "
            "from marts.course_modules"
        ).pl(),
        skills=con.sql("select course_id, skill_name as skill from marts.course_skills").pl(),
        taxonomy=(
            con.sql("select skill_id, skill_name from reference.skills").pl()
            if table_exists(con, "reference", "skills")
            else pl.DataFrame(schema={"skill_id": pl.String, "skill_name": pl.String})
        ),
    )


def build_catalog(
    courses: pl.DataFrame, modules: pl.DataFrame, skills: pl.DataFrame, taxonomy: pl.DataFrame
) -> Catalog:
    """`courses`: course_id, title, description, difficulty (1-3 or null); `modules`: course_id,
    module_position, module_title, duration_minutes; `skills`: course_id, skill; `taxonomy`:
    skill_id, skill_name. Adds each course's text and the fingerprint of what it is made from."""
    per_course = modules.group_by("course_id").agg(
        module_count=pl.len(),
        minutes=pl.col("duration_minutes").cast(pl.Float64).sum(),
        module_titles=pl.col("module_title").sort_by("module_position").str.join(". "),
    )
    text = pl.concat_str(
        [pl.col(c).fill_null("") for c in ("title", "description", "module_titles")],
        separator=". ",
    )
    with_text = (
        courses.with_columns(difficulty=pl.col("difficulty").cast(pl.Int64))
        .join(per_course.select("course_id", "module_titles"), on="course_id", how="left")
        .with_columns(text=text)
        .with_columns(
            fingerprint=pl.concat_str(
                "text", pl.col("difficulty").cast(pl.String).fill_null(""), separator="|"
            ).map_elements(
                lambda t: hashlib.sha256(t.encode()).hexdigest()[:16], return_dtype=pl.String
            )
        )
        .drop("module_titles")
        .sort("course_id")
    )
    return Catalog(
        courses=with_text,
        modules=per_course.drop("module_titles"),
        skills=skills.select("course_id", "skill"),
        taxonomy=taxonomy.select("skill_id", "skill_name"),
    )


@dataclass
class Models:
    tagger: SkillTagger
    difficulty: DifficultyModel
    known: dict[str, tuple[str, str | None]]  # written form -> (skill name, taxonomy id)


def train(catalog: Catalog, shared_data: Path | None, cache: bool = True) -> Models:
    """Fit the tagger and the difficulty model on the labelled catalogs (if present) and the
    platform's catalog; the vocabulary a tag may name = taxonomy + the catalog's skills.

    The fitted pair is kept in this process and on disk (`$PATHWISE_HOME/models/`), keyed by a
    fingerprint of exactly what it is fitted from (training texts, labels, vocabulary, settings,
    model code): the same inputs are fitted once, a changed input fits anew. `cache=False`
    fits without reading or writing either (benchmarks/metadata.py times a cold fit)."""
    own = catalog.courses.join(
        catalog.skills.group_by("course_id").agg(skills="skill"), on="course_id", how="left"
    ).select(
        "text",
        level=(pl.col("difficulty") - 1).cast(pl.Int8),
        skills=pl.col("skills").fill_null([]),
    )
    frames = [own]
    if shared_data is not None and (shared_data / "catalogs").exists():
        frames.append(_labelled(shared_data).select("text", "level", "skills"))
    data = pl.concat(frames)
    labelled_skills = data.filter(pl.col("skills").list.len() > 0)
    levels = data.filter(pl.col("level").is_not_null())
    vocabulary = catalog.taxonomy["skill_name"].to_list()
    if not cache:
        tagger, difficulty = _fit(labelled_skills, levels, vocabulary)
        return Models(tagger=tagger, difficulty=difficulty, known=_known(catalog))
    key = _fingerprint(labelled_skills, levels, vocabulary)
    if key not in FITTED:
        FITTED.clear()  # one fitted pair per process is enough: the catalog moves forward
        FITTED[key] = _load_or_fit(key, labelled_skills, levels, vocabulary)
    tagger, difficulty = FITTED[key]
    return Models(tagger=tagger, difficulty=difficulty, known=_known(catalog))


def _known(catalog: Catalog) -> dict[str, tuple[str, str | None]]:
    """Written form -> (skill name, taxonomy id): the taxonomy first, then the catalog's skills."""
    known: dict[str, tuple[str, str | None]] = {}
    for skill_id, name in catalog.taxonomy.select("skill_id", "skill_name").iter_rows():
        for form in variants(name):
            known.setdefault(form, (name, skill_id))
    for name in catalog.skills["skill"].unique().sort().to_list():
        for form in variants(name):
            known.setdefault(form, (name, None))
    return known


FITTED: dict[str, tuple[SkillTagger, DifficultyModel]] = {}
CACHE_PREFIX = "metadata-models-"


@lru_cache(maxsize=2)
def _labelled_read(shared_data: Path, stamp: tuple) -> pl.DataFrame:
    return labelled.read_all(shared_data)


def _labelled(shared_data: Path) -> pl.DataFrame:
    """The labelled catalogs, read once per process while their files stay the same."""
    files = sorted(
        p for d in ("catalogs", "coco") for p in (shared_data / d).rglob("*") if p.is_file()
    )
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _labelled_read(shared_data, stamp)


def _fingerprint(skills: pl.DataFrame, levels: pl.DataFrame, vocabulary: list[str]) -> str:
    h = hashlib.sha256()
    code = Path(models_module.__file__).read_bytes()
    h.update(repr((TAGGER, DIFFICULTY_ALPHA, sklearn.__version__, vocabulary)).encode() + code)
    for frame, label in ((skills, "skills"), (levels, "level")):
        for row in frame.select("text", label).iter_rows():
            h.update(repr(row).encode())
    return h.hexdigest()[:24]


def _load_or_fit(
    key: str, skills: pl.DataFrame, levels: pl.DataFrame, vocabulary: list[str]
) -> tuple[SkillTagger, DifficultyModel]:
    """The fitted pair from the disk cache, else fitted and written there (the older ones go:
    they were fitted from inputs that are gone)."""
    folder = get_settings().home / "models"
    path = folder / f"{CACHE_PREFIX}{key}.pkl"
    if path.exists():
        try:
            with path.open("rb") as f:
                return pickle.load(f)
        except Exception:  # a torn or foreign file: fit again and overwrite it
            log.warning("refitting the metadata models: %s is unreadable", path)
    tagger, difficulty = _fit(skills, levels, vocabulary)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{CACHE_PREFIX}*.pkl"):
        old.unlink(missing_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump((tagger, difficulty), f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return tagger, difficulty


def _fit(
    skills: pl.DataFrame, levels: pl.DataFrame, vocabulary: list[str]
) -> tuple[SkillTagger, DifficultyModel]:
    tagger = SkillTagger(**TAGGER, vocabulary=vocabulary).fit(
        skills["text"].to_list(), skills["skills"].to_list()
    )
    difficulty = DifficultyModel(DIFFICULTY_ALPHA).fit(
        levels["text"].to_list(), levels["level"].to_list()
    )
    return tagger, difficulty


def _mapped(models: Models, label: str) -> tuple[str, str | None] | None:
    """A predicted label as a skill we know (taxonomy first), or None."""
    for form in sorted(variants(label), key=len, reverse=True):
        if form in models.known:
            return models.known[form]
    return None


def _teachers(catalog: Catalog) -> dict[str, list[str]]:
    """normalised skill -> catalog courses teaching it, lowest difficulty first."""
    rows = (
        catalog.skills.join(
            catalog.courses.select("course_id", "difficulty", "title"), on="course_id"
        )
        .sort(pl.col("difficulty").fill_null(9), "title", "course_id")
        .group_by(
            pl.col("skill").map_elements(normalise, return_dtype=pl.String), maintain_order=True
        )
        .agg("course_id")
    )
    return dict(rows.iter_rows())


def _prerequisites(
    course_id: str, text: str, taught: set[str], models: Models, teachers: dict[str, list[str]]
) -> list[Suggestion]:
    found: dict[str, Suggestion] = {}
    for sentence, grams in sentence_grams(text):
        assumed = bool(ASSUMED.search(sentence))
        used = {normalise(m.group(2)) for m in USED.finditer(sentence)} if not assumed else set()
        if not (assumed or used):
            continue
        for gram in sorted((g for g in grams if g in models.known), key=len, reverse=True):
            name, skill_id = models.known[gram]
            key = normalise(name)
            by_use = any(u.startswith(gram) for u in used)
            if key in taught or key in found or not (assumed or by_use):
                continue
            courses = [c for c in teachers.get(key, []) if c != course_id]
            if not courses:
                continue
            found[key] = Suggestion(
                course_id,
                "prerequisite",
                courses[0],
                0.8 if assumed else 0.6,
                {
                    "skill": name,
                    "skill_id": skill_id,
                    "sentence": sentence[:300],
                    "why": "assumed" if assumed else "used but not taught",
                    "other_courses": courses[1:4],
                },
            )
    return list(found.values())


def suggest(catalog: Catalog, models: Models, course_ids: list[str] | None = None) -> dict:
    """course_id -> (fingerprint, suggestions) for the courses named (all by default)."""
    courses = catalog.courses
    if course_ids is not None:
        courses = courses.filter(pl.col("course_id").is_in(course_ids))
    if courses.is_empty():
        return {}
    texts = courses["text"].to_list()
    tags = models.tagger.tag(texts, top=TOP_TAGS * 2)
    scores = models.difficulty.score(texts)
    taught_by = dict(
        catalog.skills.group_by("course_id")
        .agg(pl.col("skill").map_elements(normalise, return_dtype=pl.String))
        .iter_rows()
    )
    teachers = _teachers(catalog)
    durations = _durations(catalog)
    out = {}
    for row, course_tags, (score, conf) in zip(
        courses.iter_rows(named=True), tags, scores, strict=True
    ):
        cid, taught = row["course_id"], set(taught_by.get(row["course_id"], []))
        found: list[Suggestion] = []
        for tag in course_tags:
            mapped = _mapped(models, tag.skill)
            if mapped is None or normalise(mapped[0]) in taught:
                continue
            taught.add(normalise(mapped[0]))
            found.append(
                Suggestion(
                    cid,
                    "skill",
                    mapped[0],
                    tag.confidence,
                    {
                        "sentence": tag.sentence,
                        "skill_id": mapped[1],
                        "how": tag.how,
                        "label": tag.skill,
                    },
                )
            )
            if len(found) == TOP_TAGS:
                break
        level = level_of_score(score)
        if row["difficulty"] is None or row["difficulty"] != catalog_difficulty(score):
            found.append(
                Suggestion(
                    cid,
                    "difficulty",
                    str(score),
                    conf,
                    {"level": level, "catalog_difficulty": row["difficulty"]},
                )
            )
        found += _prerequisites(cid, row["text"], taught, models, teachers)
        if cid in durations:
            found.append(durations[cid])
        out[cid] = (row["fingerprint"], found)
    return out


def _durations(catalog: Catalog) -> dict[str, Suggestion]:
    """Estimated minutes for courses whose modules have no duration (or that have no modules)."""
    timed = catalog.modules.filter(pl.col("minutes") > 0)
    if timed.is_empty():
        return {}
    per_module = float((timed["minutes"] / timed["module_count"]).median())
    per_course = float(timed["minutes"].median())
    untimed = (
        catalog.courses.select("course_id")
        .join(timed, on="course_id", how="anti")
        .join(catalog.modules, on="course_id", how="left")
    )
    out = {}
    for cid, n in untimed.select("course_id", "module_count").iter_rows():
        minutes = per_module * n if n else per_course
        basis = (
            f"{n} modules x the catalog's median {per_module:.0f} min"
            if n
            else ("the catalog's median course length")
        )
        out[cid] = Suggestion(
            cid, "duration", str(int(round(minutes / 5) * 5)), 0.5, {"basis": basis}
        )
    return out
