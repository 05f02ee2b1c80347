"""The catalog: what the simulated platform teaches, built from the real O*NET skills taxonomy.

Learners aim for real occupations (target roles) and the catalog serves them, so both come from
the same demand: the ROLE_POOL occupations needing most course-worthy skills are the target
roles (popularity falling with rank), and a skill's demand is the share of learners whose role
needs it. Topics are the most demanded skills, except every GAP_EVERY-th, kept out of the
catalog as a content gap (truth/content_gaps.parquet) that learners still search for.

Every topic gets a fundamentals course (difficulty 1); the most demanded topics then get the
next levels, each requiring the level below; an advanced course also builds on the
fundamentals of a related topic. A course teaches what its title says, as real catalogs pair
them (Coursera's "Introduction to Git and GitHub", Udemy's "Linux and Shell Scripting"): its
topic's skill and, from the intermediate level on, up to one more per level from the same
subject, that is O*NET's category of the topic's skill (Linux with UNIX, SQL with Microsoft SQL
Server, never Python with MATLAB), that often goes with it in occupations (Jaccard >=
RELATED_MIN); the title then names them ("Intermediate SQL with Microsoft SQL Server"). Prerequisite edges
always lead to a lower level, so there are no cycles. Modules follow the course's primary
format 60% of the time; the last module of a course always ends with a quiz.

Conventions: course ids `C0001`, module ids `C0001-M03` (position 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from pathwise.contract import FORMATS
from pathwise.sources.simulator.randomness import random_stream

NON_COURSE_CATEGORIES = (  # everyday tools nobody takes a course on
    "Office suite software",
    "Word processing software",
    "Electronic mail software",
    "Internet browser software",
    "Video conferencing software",
    "Web page creation and editing software",
)
ROLE_POOL = 40  # target roles: the occupations needing most course-worthy skills
GAP_EVERY = 6  # every 6th most demanded skill is kept out of the catalog: a content gap
ROLE_TOP_SKILLS = 12  # learners know and search for their role's most demanded skills
COURSE_TITLES = ("{} Fundamentals", "Intermediate {}", "Advanced {}", "{} in Practice")
# A course's further skills go with its topic's in occupations at least this often (Jaccard over
# O*NET occupations): Linux-UNIX 0.61, SQL-Microsoft SQL Server 0.53, Excel-Google Sheets 0.01.
RELATED_MIN = 0.2
MODULE_TOPICS = (
    "Getting started",
    "Core concepts",
    "Working with real data",
    "Common patterns",
    "Troubleshooting",
    "Automation",
    "Best practices",
    "Case study",
    "Capstone project",
    "Review",
)
FORMAT_LABELS = ("Video", "Reading", "Lab")
MODULE_MINUTES = ((8, 30), (10, 35), (20, 60))  # duration range by format
LANGUAGES = (("en", 0.85), ("es", 0.06), ("de", 0.04), ("fr", 0.03), ("pt", 0.02))


@dataclass
class Catalog:
    courses: pl.DataFrame
    modules: pl.DataFrame
    course_skills: pl.DataFrame
    prerequisites: pl.DataFrame
    content_gaps: pl.DataFrame
    difficulty: np.ndarray  # [course] 1..3
    fmt: np.ndarray  # [course] primary format index
    category: np.ndarray  # [course] category index
    topic: np.ndarray  # [course] index into topic_skill
    popularity: np.ndarray  # [course] log-popularity prior of the logged recommender
    prereqs: np.ndarray  # [course, 2] prerequisite course indices, -1 for none
    first_module: np.ndarray  # [course] index of its first module
    n_modules: np.ndarray  # [course]
    total_minutes: np.ndarray  # [course]
    mod_fmt: np.ndarray  # [module]
    mod_minutes: np.ndarray  # [module]
    mod_quiz: np.ndarray  # [module] ends with a quiz
    role_fit: np.ndarray  # [role, course] share of the course's skills the role needs
    topic_skill: np.ndarray  # [topic] the topic's main skill, index into the seed skills
    n_categories: int


@dataclass
class Roles:
    """The occupations learners aim for (their goals)."""

    codes: list[str]
    titles: list[str]
    weight: np.ndarray  # share of learners aiming for the role
    top_skills: np.ndarray  # [role, ROLE_TOP_SKILLS] most demanded skills, seed skill indices


def short_name(skill: str) -> str:
    """What people call a skill: 'Structured query language SQL' -> 'SQL', 'SAP software' -> 'SAP'.

    A trailing acronym replaces the words before it when it abbreviates them (its letters
    appear in order, starting with their first letter).
    """
    name = skill.removesuffix(" software")
    *words, last = name.split(" ")
    text = " ".join(words).lower()
    if words and len(last) > 1 and last.isupper() and text.startswith(last[0].lower()):
        letters = iter(text)
        if all(ch in letters for ch in last.lower()):
            return last
    return name


class CoursePlan(NamedTuple):
    """Which courses exist (no randomness: the seed files and the catalog size decide)."""

    topic: np.ndarray  # [course] index into the topics
    main: np.ndarray  # [course] the topic's main skill, seed skill index
    level: np.ndarray  # [course] 0-based level within its topic
    difficulty: np.ndarray  # [course] 1..3
    taught: list[list[int]]  # [course] the skills it teaches, main skill first
    prereq_rows: list[tuple[int, int]]  # (course, prerequisite course)


class CourseDraws(NamedTuple):
    """Each course's random traits, drawn in one fixed order (see `_draw_courses`)."""

    fmt: np.ndarray  # [course] primary format index
    n_modules: np.ndarray  # [course]
    mod_fmt: np.ndarray  # [module]
    mod_minutes: np.ndarray  # [module]
    mod_quiz: np.ndarray  # [module] ends with a quiz
    popularity: np.ndarray  # [course] log-popularity prior of the logged recommender
    useful_for: list[list[str]]  # [course] up to two role titles, for its description
    instructor: np.ndarray  # [course] instructor number
    language: np.ndarray  # [course] ISO 639-1 code


def build_catalog(
    seed: int, n_courses: int, seeds_dir: Path
) -> tuple[Catalog, Roles, pl.DataFrame]:
    """Courses on the skills the learners' target roles demand most, leaving some out (gaps).

    Returns the catalog, the target roles and the O*NET skills (row `s` = skill index). Every
    random draw happens in `_draw_courses`, in one fixed order: that order is what makes the
    catalog of a seed the same from run to run.
    """
    rng = random_stream(seed, 1)
    skills, links = _read_skills(seeds_dir)
    names, categories = skills["skill_name"].to_list(), skills["category"].to_list()
    learnable = ~skills["category"].is_in(NON_COURSE_CATEGORIES).to_numpy()
    roles, needs, demand = _target_roles(links, learnable, skills.height)
    topics, gaps = _topics_and_gaps(demand, learnable, n_courses)
    jaccard = _related_skills(links, skills.height, learnable, gaps)
    plan = _course_plan(topics, _same_subject(jaccard, categories), n_courses)
    drawn = _draw_courses(rng, plan, demand, needs, roles)

    category_names = sorted({categories[s] for s in plan.main})
    category = np.searchsorted(category_names, [categories[s] for s in plan.main])
    courses = _course_frame(plan, drawn, names, categories, np.array(category_names)[category])
    course_ids = courses["course_id"].to_list()
    catalog = Catalog(
        courses=courses,
        modules=_module_frame(
            course_ids, names, plan.main, drawn.n_modules, drawn.mod_fmt, drawn.mod_minutes
        ),
        course_skills=pl.DataFrame(
            [(course_ids[c], names[s]) for c, ts in enumerate(plan.taught) for s in ts],
            schema=["course_id", "skill"],
            orient="row",
        ),
        prerequisites=pl.DataFrame(
            [(course_ids[c], course_ids[p]) for c, p in plan.prereq_rows],
            schema=["course_id", "prerequisite_course_id"],
            orient="row",
        ),
        content_gaps=_content_gaps(gaps, names, categories, demand),
        difficulty=plan.difficulty,
        fmt=drawn.fmt,
        category=category,
        topic=plan.topic,
        popularity=drawn.popularity,
        prereqs=_prerequisite_matrix(len(course_ids), plan.prereq_rows),
        first_module=_first_module(drawn.n_modules),
        n_modules=drawn.n_modules,
        total_minutes=np.bincount(_module_course(drawn.n_modules), weights=drawn.mod_minutes),
        mod_fmt=drawn.mod_fmt,
        mod_minutes=drawn.mod_minutes,
        mod_quiz=drawn.mod_quiz,
        role_fit=np.stack([needs[:, t].mean(axis=1) for t in plan.taught], axis=1),
        topic_skill=np.array(topics),
        n_categories=len(category_names),
    )
    return catalog, roles, skills


def _read_skills(seeds_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The O*NET skills (row `s` = skill index) and the occupation -> skill links."""
    skills = (
        pl.read_csv(seeds_dir / "skills.csv").filter(pl.col("source") == "onet").with_row_index("s")
    )
    links = pl.read_csv(seeds_dir / "role_skills.csv").join(
        skills.select("skill_id", "s"), on="skill_id"
    )
    return skills, links


def _draw_courses(
    rng: np.random.Generator,
    plan: CoursePlan,
    demand: np.ndarray,
    needs: np.ndarray,
    roles: Roles,
) -> CourseDraws:
    """All of the catalog's random draws. Their order is part of the seed's catalog: a draw
    moved or added here changes every catalog, so add new ones at the end."""
    n = len(plan.topic)
    fmt = rng.choice(3, n, p=[0.45, 0.25, 0.30])
    n_modules, mod_fmt, mod_minutes, mod_quiz = _draw_modules(rng, fmt)
    popularity = np.log(demand[plan.main]) + 0.5 * (plan.difficulty == 1) + rng.normal(0, 0.3, n)
    useful_for = [  # two roles that need the course's main skill, for its description
        [roles.titles[r] for r in rng.permutation(np.flatnonzero(needs[:, ts[0]]))[:2]]
        for ts in plan.taught
    ]
    instructor = rng.integers(1, n // 3 + 2, n)
    codes, shares = zip(*LANGUAGES, strict=True)
    language = rng.choice(codes, n, p=shares)  # type: ignore[arg-type]  # tuples are array-like
    return CourseDraws(
        fmt, n_modules, mod_fmt, mod_minutes, mod_quiz, popularity, useful_for, instructor, language
    )


def _course_frame(
    plan: CoursePlan,
    drawn: CourseDraws,
    names: list[str],
    categories: list[str],
    category: np.ndarray,
) -> pl.DataFrame:
    """catalog/courses.csv: ids `C0001`..., titles by level, descriptions from what they teach."""
    titles = [
        course_title(lv, [names[s] for s in ts])
        for ts, lv in zip(plan.taught, plan.level, strict=True)
    ]
    return pl.DataFrame(
        {
            "course_id": [f"C{c + 1:04d}" for c in range(len(titles))],
            "title": titles,
            "description": [
                _describe(title, d, [names[s] for s in ts], categories[ts[0]], roles_)
                for title, d, ts, roles_ in zip(
                    titles, plan.difficulty, plan.taught, drawn.useful_for, strict=True
                )
            ],
            "category": category,
            "difficulty": plan.difficulty,
            "instructor_id": [f"I{i:03d}" for i in drawn.instructor],
            "language": drawn.language,
            "primary_format": np.array(FORMATS)[drawn.fmt],
        }
    )


def course_title(level: int, taught: list[str]) -> str:
    """ "Intermediate SQL with Microsoft SQL Server": the level, the topic, every further skill."""
    title = COURSE_TITLES[min(level, len(COURSE_TITLES) - 1)].format(short_name(taught[0]))
    if level >= len(COURSE_TITLES):
        title += f" {level - len(COURSE_TITLES) + 2}"
    if len(taught) > 1:
        title += " with " + " and ".join(short_name(s) for s in taught[1:])
    return title


def _prerequisite_matrix(n_courses: int, prereq_rows: list[tuple[int, int]]) -> np.ndarray:
    """[course, 2] prerequisite course indices, -1 for none (a course has at most two)."""
    prereqs = np.full((n_courses, 2), -1)
    for c, p in prereq_rows:
        prereqs[c, int(prereqs[c, 0] >= 0)] = p
    return prereqs


def _target_roles(
    links: pl.DataFrame, learnable: np.ndarray, n_skills: int
) -> tuple[Roles, np.ndarray, np.ndarray]:
    """The occupations needing most course-worthy skills, popularity by rank; returns them,
    which skills each needs ([role, skill]) and each skill's demand (share of learners)."""
    pool = (
        links.filter(pl.col("s").is_in(np.flatnonzero(learnable).tolist()))
        .group_by("onet_soc_code", "role_title")
        .len()
        .sort(["len", "onet_soc_code"], descending=[True, False])
        .head(ROLE_POOL)
    )
    codes, titles = pool["onet_soc_code"].to_list(), pool["role_title"].to_list()
    weight = 1 / np.arange(1, len(codes) + 1) ** 0.6
    weight /= weight.sum()
    needs = _incidence(links, codes, n_skills)  # [role, skill]
    demand = weight @ needs
    top_skills = np.argsort(-(needs * demand), axis=1, kind="stable")[:, :ROLE_TOP_SKILLS]
    return Roles(codes, titles, weight, top_skills), needs, demand


def _topics_and_gaps(
    demand: np.ndarray, learnable: np.ndarray, n_courses: int
) -> tuple[list[int], list[int]]:
    """Topics: the most demanded skills, except every GAP_EVERY-th (kept out as content gaps)."""
    ranked = [s for s in np.argsort(-demand, kind="stable") if learnable[s] and demand[s] > 0]
    n_topics = min(int(np.ceil(n_courses / 2.5)), len(ranked) * 5 // 6)
    gaps = [s for i, s in enumerate(ranked) if i % GAP_EVERY == GAP_EVERY - 2][
        : max(1, n_topics // 5)
    ]
    topics = [s for s in ranked if s not in gaps][:n_topics]
    return topics, gaps


def _related_skills(
    links: pl.DataFrame, n_skills: int, learnable: np.ndarray, gaps: list[int]
) -> np.ndarray:
    """[skill, skill] relatedness: co-occurrence in occupations (Jaccard over all of them);
    0 towards skills no course may teach (everyday tools, content gaps)."""
    occurs = _incidence(links, links["onet_soc_code"].unique().sort().to_list(), n_skills)
    co = occurs.T.astype(np.float32) @ occurs
    jaccard = co / (co.diagonal()[:, None] + co.diagonal()[None, :] - co + 1e-9)
    np.fill_diagonal(jaccard, 0)
    jaccard[:, ~learnable] = 0
    jaccard[:, gaps] = 0
    return jaccard


def _same_subject(jaccard: np.ndarray, categories: list[str]) -> np.ndarray:
    """Relatedness kept only between skills of one subject (O*NET category) that often go
    together (>= RELATED_MIN): what a course may teach beside its title's skill."""
    codes = np.unique(np.array(categories), return_inverse=True)[1]
    same = codes[:, None] == codes[None, :]
    return np.where(same & (jaccard >= RELATED_MIN), jaccard, 0)


def _course_plan(topics: list[int], jaccard: np.ndarray, n_courses: int) -> CoursePlan:
    """Which courses exist: every topic gets a fundamentals course, then the most demanded
    topics get the next level. Returns per course its topic, main skill, level (0-based) and
    difficulty (1-3), the skills it teaches (main skill first), and the prerequisite edges.
    """
    topic_of = {s: t for t, s in enumerate(topics)}
    per_topic = np.ones(len(topics), dtype=int)
    np.add.at(per_topic, np.arange(n_courses - len(topics)) % len(topics), 1)
    levels = [
        (t, lv) for lv in range(per_topic.max()) for t in range(len(topics)) if per_topic[t] > lv
    ]
    course_of = {tl: c for c, tl in enumerate(levels)}
    topic, level = np.array(levels).T
    difficulty = np.minimum(level + 1, 3).astype(np.int8)
    main = np.array(topics)[topic]
    taught = [
        [s, *[r for r in np.argsort(-jaccard[s], kind="stable")[: d - 1] if jaccard[s, r] > 0]]
        for s, d in zip(main, difficulty, strict=True)
    ]
    prereq_rows: list[tuple] = [
        (c, course_of[t, lv - 1]) for c, (t, lv) in enumerate(levels) if lv > 0
    ]
    # Advanced courses also build on the fundamentals of a related topic (edges always lead to
    # a lower level, so there are no cycles).
    for c in np.flatnonzero(difficulty == 3):
        related = [topic_of[s] for s in taught[c][1:] if s in topic_of]
        if related:
            prereq_rows.append((c, course_of[related[0], 0]))
    return CoursePlan(topic, main, level, difficulty, taught, prereq_rows)


def _module_course(n_modules: np.ndarray) -> np.ndarray:
    """[module] the course each module belongs to (modules are numbered course by course)."""
    return np.repeat(np.arange(len(n_modules)), n_modules)


def _first_module(n_modules: np.ndarray) -> np.ndarray:
    """[course] the index of the course's first module."""
    return np.concatenate([[0], np.cumsum(n_modules)[:-1]])


def _draw_modules(
    rng: np.random.Generator, fmt: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each course's number of modules; each module's format, minutes and whether it ends
    with a quiz (the course's last one always does)."""
    n_modules = rng.integers(4, 13, len(fmt))
    module_course = _module_course(n_modules)
    position = np.arange(len(module_course)) - _first_module(n_modules)[module_course]
    # Modules follow the course's primary format 60% of the time.
    mod_fmt = np.where(
        rng.random(len(module_course)) < 0.6,
        fmt[module_course],
        rng.integers(0, 3, len(module_course)),
    )
    low, high = np.array(MODULE_MINUTES).T
    mod_minutes = rng.integers(low[mod_fmt], high[mod_fmt] + 1)
    mod_quiz = (rng.random(len(module_course)) < 0.4) | (position == n_modules[module_course] - 1)
    return n_modules, mod_fmt, mod_minutes, mod_quiz


def _module_frame(
    course_ids: list[str],
    names: list[str],
    main: np.ndarray,
    n_modules: np.ndarray,
    mod_fmt: np.ndarray,
    mod_minutes: np.ndarray,
) -> pl.DataFrame:
    """catalog/modules.csv: modules numbered within their course, titled by format and topic."""
    module_course = _module_course(n_modules)
    position = np.arange(len(module_course)) - _first_module(n_modules)[module_course]
    return pl.DataFrame(
        {
            "course_id": np.array(course_ids)[module_course],
            "module_id": [
                f"{course_ids[c]}-M{p + 1:02d}"
                for c, p in zip(module_course, position, strict=True)
            ],
            "position": position + 1,
            "title": [
                f"{FORMAT_LABELS[f]}: {MODULE_TOPICS[p % len(MODULE_TOPICS)]} with {short_name(names[main[c]])}"
                for c, p, f in zip(module_course, position, mod_fmt, strict=True)
            ],
            "duration_minutes": mod_minutes,
            "format": np.array(FORMATS)[mod_fmt],
        }
    )


def _content_gaps(
    gaps: list[int], names: list[str], categories: list[str], demand: np.ndarray
) -> pl.DataFrame:
    """truth/content_gaps.parquet: demanded skills no course teaches, and what people type."""
    return pl.DataFrame(
        {
            "skill": [names[s] for s in gaps],
            "query_term": [short_name(names[s]).lower() for s in gaps],
            "category": [categories[s] for s in gaps],
            "role_demand": demand[gaps].round(4),
        }
    )


def _incidence(links: pl.DataFrame, codes: list[str], n_skills: int) -> np.ndarray:
    """[occupation, skill] boolean matrix for the occupations `codes`."""
    rows = links.filter(pl.col("onet_soc_code").is_in(codes))
    matrix = np.zeros((len(codes), n_skills), dtype=bool)
    index = {c: i for i, c in enumerate(codes)}
    matrix[[index[c] for c in rows["onet_soc_code"]], rows["s"].to_numpy()] = True
    return matrix


def _describe(
    title: str, difficulty: int, taught: list[str], category: str, roles: list[str]
) -> str:
    level = ("a first", "an intermediate", "an advanced")[difficulty - 1]
    text = f"{title} is {level} course on {taught[0]} ({category.lower()})."
    if len(taught) > 1:
        text += f" Along the way you also use {' and '.join(taught[1:])}."
    if roles:
        text += f" Useful for {' and '.join(roles)}."
    return text
