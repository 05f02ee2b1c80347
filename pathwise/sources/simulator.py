"""A simulated learning platform: a catalog built from the real skills taxonomy, learners with
planted behaviour, and a day-by-day stream of contract events with injected bad input.

`simulate(...)` writes under `out`:

    events/events-YYYY-MM-DD.parquet | .ndjson.gz   one file per simulated (UTC) day
    catalog/courses.csv, modules.csv, course_skills.csv, course_prerequisites.csv
    truth/learners.parquet       planted learner traits, for evaluations only (never ingested)
    truth/faults.parquet         one row per injected fault
    truth/content_gaps.parquet   skills the learners' target roles demand that no course teaches

Planted structure (what the models built on this data should be able to find):
- Each learner aims for a real O*NET occupation and has a latent skill level on the course
  difficulty scale (1-3). A course much harder than the level (more so with prerequisites
  missing) lowers quiz scores and raises dropout; much easier also raises dropout, less so.
- Each learner has a learning style (watcher / reader / hands-on) matching one module format.
  Modules in the other formats take longer, score lower and make dropout likelier. The fine
  tier (video_seek, video_pause) carries the style: readers skip forward, watchers rewind and
  pause, hands-on learners pause. Fine events are sent for every learner, consent or not.
- Enrolment follows topic preferences, the target role's skills and fitting difficulty; the
  logged recommender (`pop-baseline`) ranks mostly by popularity, so clicks show position bias
  and its recommendations cause mismatches a better model would avoid.
- Frustration lowers a learner's engagement (fewer active days) before they drop; enrolled
  learners idle for 14 days are dropped by the platform (a course_drop without a session).
- Searches for demanded skills that the catalog lacks return 0 or few results (content gaps).

Bad input (`bad_share` of each day's events, split evenly over `FAULT_KINDS`) only ever touches
essential-tier events, one fault per row. Each fault is a row of truth/faults.parquet with the
file (relative to `out`), its 1-based line (NDJSON) or row (Parquet), the kind, the event_id the
row carries (null when the fault removed it), the field and a detail. The kinds named after a
`pathwise.contract.REASONS` key must be quarantined with that reason; `duplicate_exact` copies
must be de-duplicated (loaded once); `pii_text` events are valid and must be loaded with the
e-mail addresses and phone numbers listed in `detail` redacted. Duplicates (exact and
conflicting) are appended at the end of a file, as a retrying client would send them, and
follow their original in the same file or in the previous day's file.

Everything random comes from numpy generators seeded with `seed` (and the day), so the same seed
gives the same files. Work is vectorized per day over all learners; only the few faulty rows are
edited one by one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from pathwise import events_io
from pathwise.contract import (
    EVENT_TYPES,
    FINE_EVENT_TYPES,
    FORMATS,
    REQUIRED_ENVELOPE,
    SCHEMA_VERSION,
)
from pathwise.settings import PROJECT_ROOT

SEEDS_DIR = PROJECT_ROOT / "seeds"
STYLES = ("watcher", "reader", "hands-on")  # style i prefers module format FORMATS[i]
DAY_MS = 86_400_000
MODEL_VERSION = "pop-baseline-2025.11"

# Everyday tools nobody takes a course on; their skills stay out of the catalog.
NON_COURSE_CATEGORIES = (
    "Office suite software",
    "Word processing software",
    "Electronic mail software",
    "Internet browser software",
    "Video conferencing software",
    "Web page creation and editing software",
)
ROLE_POOL = 40  # target roles: the occupations with most course-worthy technology skills
GAP_EVERY = 6  # every 6th most demanded skill is left out of the catalog: a content gap
ROLE_TOP_SKILLS = 12  # learners know and search for their role's most demanded skills
COURSE_TITLES = ("{} Fundamentals", "Intermediate {}", "Advanced {}", "{} in Practice")
MODULE_TOPICS = (
    "Getting started",
    "Core concepts",
    "Working with real data",
    "Common patterns",
    "Troubleshooting",
    "Automation",
    "Best practices",
    "Performance",
    "Case study",
    "Collaboration",
    "Capstone project",
    "Review",
)
FORMAT_TITLES = {"video": "Video", "reading": "Reading", "hands-on": "Lab"}
LANGUAGES = (("en", 0.85), ("es", 0.06), ("de", 0.04), ("fr", 0.03), ("pt", 0.02))

# Behaviour. Rows: learner style; columns: module format (FORMATS order).
PACE = np.array([[1.05, 1.3, 1.2], [0.6, 0.85, 1.1], [0.9, 1.15, 0.9]])  # real min / content min
SKIP_RATE = np.array([0.02, 0.30, 0.10])  # forward seeks per minute of video, by style
REWIND_RATE = np.array([0.12, 0.02, 0.06])
PAUSE_RATE = np.array([0.10, 0.03, 0.15])
PROGRESS_EVERY_S = 240  # video_progress heartbeat, in seconds of video
CLICK_BIAS = np.array([0.30, 0.18, 0.12, 0.09, 0.07])  # click probability by list position
SURFACES = ("home", "course_page", "catalog")
AUTO_DROP_IDLE_DAYS = 14
MAX_DAILY_MINUTES = 150
LOCALES = (  # locale, UTC offset in minutes, share of learners
    ("en-US", -300, 0.33),
    ("en-GB", 0, 0.12),
    ("de-DE", 60, 0.10),
    ("fr-FR", 60, 0.07),
    ("es-ES", 60, 0.06),
    ("en-IN", 330, 0.12),
    ("pt-BR", -180, 0.08),
    ("en-CA", -300, 0.04),
    ("nl-NL", 60, 0.04),
    ("ja-JP", 540, 0.04),
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Pathwise/4.12 (iPhone; iOS 18.1; Scale/3.00)",
    "Pathwise/4.12 (Linux; Android 15; Pixel 8)",
)
FIRST_NAMES = (
    "ana",
    "ben",
    "chen",
    "dara",
    "elif",
    "femi",
    "gita",
    "hugo",
    "ines",
    "jon",
    "kim",
    "lena",
    "marco",
    "nia",
    "omar",
    "priya",
    "quinn",
    "rosa",
    "sven",
    "tara",
    "uma",
    "victor",
    "wei",
    "yara",
    "zoe",
)
LAST_NAMES = (
    "silva",
    "nguyen",
    "okafor",
    "muller",
    "garcia",
    "kowalski",
    "tanaka",
    "smith",
    "rossi",
    "dubois",
    "patel",
    "jensen",
    "haddad",
    "kim",
    "lopez",
    "novak",
)
MAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "example.org")

SEARCH_TEMPLATES = ("{}", "learn {}", "{} course", "{} for beginners", "advanced {}")
FORUM_COURSE = (
    "How do I approach the exercise in module {pos} of {title}? My {skill} solution runs but the result looks wrong.",
    "Is there a cheat sheet for {skill}? The pace of {title} is quite fast for me.",
    "Sharing my notes for {title}, module {pos}: practise {skill} on a small real example first, then the rest clicks.",
    "Stuck on the quiz in module {pos} of {title}. Which part of the {skill} material should I review?",
    "Anyone else taking {title} this week? Looking for a study buddy to practise {skill}.",
)
FORUM_GENERAL = (
    "What should I learn first to become one of the {role}?",
    "How many hours a week did it take you to switch careers towards {role}?",
    "Which certificates matter when applying for jobs as {role}?",
)
DROP_REASONS = {  # by the main cause of the drop
    "hard": ("too difficult for me", "I was missing the basics", "the quizzes were too hard"),
    "easy": ("too basic, I knew most of it", "nothing new for me"),
    "format": (
        "too many videos, I prefer reading",
        "not enough hands-on practice",
        "format did not suit me",
    ),
    "time": ("no time at the moment", "work got busy", "will come back later"),
}
COMMENTS = {
    "low": (
        "Too hard to follow.",
        "Not what I expected.",
        "The format did not work for me.",
        "Quizzes felt unfair.",
    ),
    "mid": (
        "Decent course, a bit uneven.",
        "OK overall, some modules drag.",
        "Useful but could be shorter.",
    ),
    "high": (
        "Great course, very practical!",
        "Clear explanations and good exercises.",
        "Exactly what I needed for my job search.",
    ),
}
FAULT_KINDS = (
    "malformed_json",
    "missing_field",
    "missing_property",
    "wrong_type",
    "unknown_event_type",
    "future_timestamp",
    "oversized",
    "duplicate_exact",
    "duplicate_conflict",
    "pii_text",
)
UNKNOWN_EVENT_TYPES = ("page_scroll", "video_speed_change", "cart_add", "lesson_bookmark")
WRONG_VALUES = {"string": 42, "number": "high", "integer": "first", "boolean": "yes"}
PHONE_FORMATS = ("+1 415-555-{:04d}", "+44 20 7946 {:04d}", "(030) 555 {:04d}", "+91 98765 4{:04d}")
LOG_LINE = "ERROR 2026 worker-3 Traceback (most recent call last): File 'lab.py', line 42, in <module> ValueError: could not convert string to float\n"

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    """An independent, reproducible stream per purpose (and day)."""
    return np.random.default_rng([seed, *keys])


def _hex_ids(values: np.ndarray, digits: int, prefix: str = "") -> pl.Series:
    """`prefix` + the low `digits` hex digits of each unsigned integer, vectorized."""
    shifts = np.arange(digits - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = (values.astype(np.uint64)[:, None] >> shifts) & np.uint64(15)
    chars = np.empty((len(values), len(prefix) + digits), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars[:, len(prefix) :] = _HEX[nibbles]
    return pl.Series(chars.view(f"S{chars.shape[1]}").ravel()).cast(pl.String)


def _uuids(rng: np.random.Generator, n: int) -> pl.Series:
    """Random version-4 UUID strings."""
    nibbles = rng.integers(0, 16, (n, 32), dtype=np.uint8)
    nibbles[:, 12] = 4
    nibbles[:, 16] = 8 + (nibbles[:, 16] & 3)
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    chars[:, np.r_[0:8, 9:13, 14:18, 19:23, 24:36]] = _HEX[nibbles]
    return pl.Series(chars.view("S36").ravel()).cast(pl.String)


def _pick(rng: np.random.Generator, options: tuple, n: int) -> np.ndarray:
    return rng.integers(0, len(options), n)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


@dataclass
class Catalog:
    courses: pl.DataFrame
    modules: pl.DataFrame
    course_skills: pl.DataFrame
    prerequisites: pl.DataFrame
    content_gaps: pl.DataFrame
    difficulty: np.ndarray  # [course] 1..3
    fmt: np.ndarray  # [course] primary format index
    category: np.ndarray  # [course] index into category names
    popularity: np.ndarray  # [course] log-popularity prior of the logged recommender
    prereqs: np.ndarray  # [course, 2] prerequisite course indices, -1 for none
    first_module: np.ndarray  # [course] index of its first module
    n_modules: np.ndarray  # [course]
    total_minutes: np.ndarray  # [course]
    mod_fmt: np.ndarray  # [module]
    mod_minutes: np.ndarray  # [module]
    mod_quiz: np.ndarray  # [module] bool
    role_fit: np.ndarray  # [role, course] share of the course's skills the role needs
    topic: np.ndarray  # [course] index into topic_skill
    topic_skill: np.ndarray  # [topic] index into the seed skills
    n_categories: int


@dataclass
class Roles:
    codes: list[str]
    titles: list[str]
    weight: np.ndarray  # popularity among learners
    top_skills: np.ndarray  # [role, ROLE_TOP_SKILLS] indices into the seed skill list


def _load_seeds(seeds_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    skills = pl.read_csv(seeds_dir / "skills.csv").filter(pl.col("source") == "onet")
    role_skills = pl.read_csv(seeds_dir / "role_skills.csv")
    return skills.with_row_index("s"), role_skills


def _build_catalog(
    seed: int, n_courses: int, seeds_dir: Path
) -> tuple[Catalog, Roles, pl.DataFrame]:
    rng = _rng(seed, 1)
    skills, role_skills = _load_seeds(seeds_dir)
    learnable = skills.filter(~pl.col("category").is_in(NON_COURSE_CATEGORIES))
    links = role_skills.join(skills.select("skill_id", "s"), on="skill_id")

    # Target roles: the occupations needing most course-worthy skills, popularity by rank.
    pool = (
        links.filter(pl.col("s").is_in(learnable["s"].implode()))
        .group_by("onet_soc_code", "role_title")
        .len()
        .sort(["len", "onet_soc_code"], descending=[True, False])
        .head(ROLE_POOL)
    )
    codes = pool["onet_soc_code"].to_list()
    weight = 1 / np.arange(1, len(codes) + 1) ** 0.6
    weight /= weight.sum()
    role_of = {c: i for i, c in enumerate(codes)}
    needs = np.zeros((len(codes), skills.height), dtype=bool)  # [role, skill]
    pool_links = links.filter(pl.col("onet_soc_code").is_in(codes))
    needs[[role_of[c] for c in pool_links["onet_soc_code"]], pool_links["s"].to_numpy()] = True

    # Skills ranked by how many learners' roles demand them; every GAP_EVERY-th stays out.
    demand = weight @ needs
    is_learnable = np.zeros(skills.height, dtype=bool)
    is_learnable[learnable["s"].to_numpy()] = True
    ranked = [s for s in np.argsort(-demand, kind="stable") if is_learnable[s] and demand[s] > 0]
    n_topics = min(int(np.ceil(n_courses / 2.5)), len(ranked) * 5 // 6)
    gaps = [s for i, s in enumerate(ranked) if i % GAP_EVERY == GAP_EVERY - 2]
    gaps = gaps[: max(1, n_topics // 5)]
    topics = [s for s in ranked if s not in gaps][:n_topics]
    top_skills = np.argsort(-(needs * demand), axis=1, kind="stable")[:, :ROLE_TOP_SKILLS]

    # Related skills by co-occurrence across all occupations (Jaccard).
    all_roles = links["onet_soc_code"].unique().sort().to_list()
    occ = np.zeros((len(all_roles), skills.height), dtype=np.float32)
    occ[
        links["onet_soc_code"].replace_strict({c: i for i, c in enumerate(all_roles)}).to_numpy(),
        links["s"].to_numpy(),
    ] = 1
    co = occ.T @ occ
    jaccard = co / (co.diagonal()[:, None] + co.diagonal()[None, :] - co + 1e-9)
    np.fill_diagonal(jaccard, 0)
    jaccard[:, ~is_learnable] = 0
    jaccard[:, gaps] = 0

    # Courses per topic: all topics get a beginner course, then intermediate and advanced
    # courses go to the most demanded topics first.
    per_topic = np.ones(len(topics), dtype=int)
    for i in range(n_courses - len(topics)):
        per_topic[i % len(topics)] += 1
    names = skills["skill_name"].to_list()
    categories = skills["category"].to_list()
    rows, skill_rows, prereq_rows = [], [], []
    first_of_topic: dict[int, int] = {}
    course_of = {}  # (topic, level) -> course index
    for level in range(per_topic.max()):
        for t, s in enumerate(topics):
            if per_topic[t] <= level:
                continue
            c = len(rows)
            course_of[t, level] = c
            first_of_topic.setdefault(t, c)
            difficulty = min(level + 1, 3)
            related = [r for r in np.argsort(-jaccard[s], kind="stable")[: difficulty - 1]]
            taught = [s, *related]
            title = COURSE_TITLES[min(level, len(COURSE_TITLES) - 1)].format(names[s])
            if level >= len(COURSE_TITLES):
                title += f" {level - len(COURSE_TITLES) + 2}"
            rows.append((c, t, s, difficulty, title))
            skill_rows += [(c, r) for r in taught]
            if level > 0:
                prereq_rows.append((c, course_of[t, level - 1]))
            partner = next(
                (
                    u
                    for u, p in enumerate(topics)
                    if p in related and u != t and u in first_of_topic
                ),
                None,
            )
            if difficulty == 3 and partner is not None:
                prereq_rows.append((c, first_of_topic[partner]))
    n = len(rows)
    course_ids = [f"C{c + 1:04d}" for c in range(n)]
    topic = np.array([r[1] for r in rows])
    difficulty = np.array([r[3] for r in rows], dtype=np.int8)
    fmt = rng.choice(3, n, p=[0.45, 0.25, 0.30]).astype(np.int8)
    category_names = sorted({categories[topics[t]] for t in topic})
    category = np.array([category_names.index(categories[topics[t]]) for t in topic])

    n_modules = rng.integers(4, 13, n)
    first_module = np.concatenate([[0], np.cumsum(n_modules)[:-1]])
    module_course = np.repeat(np.arange(n), n_modules)
    position = np.arange(n_modules.sum()) - first_module[module_course]
    # Modules follow the course's primary format 60% of the time.
    mod_fmt = np.where(
        rng.random(len(module_course)) < 0.6,
        fmt[module_course],
        rng.integers(0, 3, len(module_course)),
    ).astype(np.int8)
    low, high = np.array([5, 10, 20]), np.array([25, 30, 60])
    mod_minutes = rng.integers(low[mod_fmt], high[mod_fmt] + 1)
    mod_quiz = (rng.random(len(module_course)) < 0.4) | (position == n_modules[module_course] - 1)
    total_minutes = np.bincount(module_course, weights=mod_minutes)

    prereqs = np.full((n, 2), -1)
    for c, p in prereq_rows:
        prereqs[c, int(prereqs[c, 0] >= 0)] = p
    role_fit = np.zeros((len(codes), n))
    for c, s in skill_rows:
        role_fit[:, c] += needs[:, s]
    role_fit /= np.bincount([c for c, _ in skill_rows], minlength=n)
    popularity = np.log(demand[[r[2] for r in rows]] + 1e-3) + 0.5 * (difficulty == 1)
    popularity += rng.normal(0, 0.3, n)

    language_codes, language_p = zip(*LANGUAGES, strict=True)
    fmt_names = np.array(FORMATS)
    courses = pl.DataFrame(
        {
            "course_id": course_ids,
            "title": [r[4] for r in rows],
            "description": [
                _describe(
                    r[4],
                    names[r[2]],
                    categories[r[2]],
                    r[3],
                    [names[x] for c, x in skill_rows if c == r[0]],
                    pool,
                    needs[:, r[2]],
                )
                for r in rows
            ],
            "category": [category_names[k] for k in category],
            "difficulty": difficulty,
            "instructor_id": [f"I{i:03d}" for i in rng.integers(1, max(2, n // 3) + 1, n)],
            "language": rng.choice(language_codes, n, p=language_p),
            "primary_format": fmt_names[fmt],
        }
    )
    module_ids = [
        f"{course_ids[c]}-M{p + 1:02d}" for c, p in zip(module_course, position, strict=True)
    ]
    modules = pl.DataFrame(
        {
            "course_id": [course_ids[c] for c in module_course],
            "module_id": module_ids,
            "position": position + 1,
            "title": [
                f"{FORMAT_TITLES[FORMATS[f]]}: {MODULE_TOPICS[p % len(MODULE_TOPICS)]} with {names[topics[topic[c]]]}"
                for c, p, f in zip(module_course, position, mod_fmt, strict=True)
            ],
            "duration_minutes": mod_minutes,
            "format": fmt_names[mod_fmt],
        }
    )
    course_skills = pl.DataFrame(
        {
            "course_id": [course_ids[c] for c, _ in skill_rows],
            "skill": [names[s] for _, s in skill_rows],
        }
    )
    prerequisites = pl.DataFrame(
        {
            "course_id": [course_ids[c] for c, _ in prereq_rows],
            "prerequisite_course_id": [course_ids[p] for _, p in prereq_rows],
        },
        schema={"course_id": pl.String, "prerequisite_course_id": pl.String},
    )
    content_gaps = pl.DataFrame(
        {
            "skill": [names[s] for s in gaps],
            "category": [categories[s] for s in gaps],
            "role_demand": [float(demand[s]) for s in gaps],
        }
    )
    catalog = Catalog(
        courses=courses,
        modules=modules,
        course_skills=course_skills,
        prerequisites=prerequisites,
        content_gaps=content_gaps,
        difficulty=difficulty,
        fmt=fmt,
        category=category,
        popularity=popularity,
        prereqs=prereqs,
        first_module=first_module,
        n_modules=n_modules,
        total_minutes=total_minutes,
        mod_fmt=mod_fmt,
        mod_minutes=mod_minutes,
        mod_quiz=mod_quiz,
        role_fit=role_fit,
        topic=topic,
        topic_skill=np.array(topics),
        n_categories=len(category_names),
    )
    roles = Roles(codes, pool["role_title"].to_list(), weight, top_skills)
    return catalog, roles, skills


def _describe(title, skill, category, difficulty, taught, pool, role_needs) -> str:
    level = ("a first", "an intermediate", "an advanced")[difficulty - 1]
    roles = [t for t, need in zip(pool["role_title"], role_needs, strict=True) if need][:2]
    text = f"{title} is {level} course on {skill} ({category.lower()})."
    if len(taught) > 1:
        text += f" Along the way you also use {' and '.join(taught[1:])}."
    if roles:
        text += f" Useful for {' and '.join(roles)}."
    return text


# --------------------------------------------------------------------------------------------
# Learners
# --------------------------------------------------------------------------------------------


@dataclass
class Learners:
    user_id: pl.Series
    style: np.ndarray  # index into STYLES (= preferred format index)
    role: np.ndarray  # index into Roles
    level: np.ndarray  # latent skill level on the difficulty scale, at sign-up
    pref: np.ndarray  # [learner, category] topic preference, mean 1
    knows: np.ndarray  # [learner, topic] already has the topic's main skill
    current_skills: pl.Series  # list[str]
    weekly_minutes: np.ndarray
    days_per_week: np.ndarray
    engagement: np.ndarray  # initial propensity to show up on a planned day
    signup_day: np.ndarray
    hour_utc: np.ndarray  # preferred session start
    offset_ms: np.ndarray  # UTC offset the learner's client writes into timestamps
    suffix: pl.Series  # the matching timestamp suffix: 'Z' or '+01:00', ...
    stated_format: pl.Series  # preferred_format in the profile (null if not stated)
    grant_day: np.ndarray  # day the learner grants fine consent, -1 never
    revoke_day: np.ndarray  # day they withdraw it again, -1 never
    context: pl.Series  # JSON context object (personal data)
    truth: pl.DataFrame


def _make_learners(
    seed: int, n: int, days: int, catalog: Catalog, roles: Roles, skills: pl.DataFrame
) -> Learners:
    rng = _rng(seed, 2)
    # Affine map mod 16^10 with an odd factor is a bijection: distinct, random-looking ids.
    factor = int(rng.integers(1, 2**39)) * 2 + 1
    user_id = _hex_ids(
        (np.arange(n, dtype=np.uint64) * np.uint64(factor) + np.uint64(rng.integers(0, 2**40)))
        % np.uint64(2**40),
        10,
        "usr_",
    )
    style = rng.choice(3, n, p=[0.4, 0.3, 0.3])
    role = rng.choice(len(roles.codes), n, p=roles.weight)
    level = 0.6 + 2.6 * rng.beta(2, 2.2, n)

    # Topic preferences: personal taste mixed with what the target role needs.
    k = catalog.n_categories
    role_profile = np.stack(
        [catalog.role_fit[:, catalog.category == j].mean(axis=1) for j in range(k)], axis=1
    )
    role_profile /= role_profile.sum(axis=1, keepdims=True) + 1e-9
    pref = k * (0.5 * rng.dirichlet(np.full(k, 0.4), n) + 0.5 * role_profile[role])

    # Current skills: each of the role's most demanded skills with probability 0.3.
    known = rng.random((n, ROLE_TOP_SKILLS)) < 0.3
    known_skills = roles.top_skills[role]
    names = skills["skill_name"].to_numpy()
    offsets = np.concatenate([[0], np.cumsum(known.sum(axis=1))]).astype(np.int32)
    current_skills = pl.from_arrow(
        pa.ListArray.from_arrays(offsets, pa.array(names[known_skills[known]], pa.string()))
    )
    topic_skills = np.array(catalog.topic_skill)
    topic_of_skill = np.full(skills.height, -1)
    topic_of_skill[topic_skills] = np.arange(len(topic_skills))
    knows = np.zeros((n, len(topic_skills)), dtype=bool)
    rows, cols = np.nonzero(known)
    t = topic_of_skill[known_skills[rows, cols]]
    knows[rows[t >= 0], t[t >= 0]] = True

    weekly_minutes = np.clip(rng.lognormal(np.log(180), 0.6, n), 30, 1200).round().astype(int)
    days_per_week = np.clip(1.5 + weekly_minutes / 90, 1.5, 6)
    engagement = rng.beta(4, 1.5, n)
    signup_day = np.where(rng.random(n) < 0.4, 0, rng.integers(0, days, n))

    locale_names, offsets_min, locale_p = zip(*LOCALES, strict=True)
    locale = rng.choice(len(LOCALES), n, p=locale_p)
    agent = rng.choice(len(USER_AGENTS), n, p=[0.35, 0.2, 0.1, 0.2, 0.15])
    mobile = agent >= 3  # the app writes local time with its offset; browsers send UTC
    offset_min = np.where(mobile, np.array(offsets_min)[locale], 0)
    suffixes = [
        f"{'+' if o >= 0 else '-'}{abs(o) // 60:02d}:{abs(o) % 60:02d}" for o in offsets_min
    ]
    suffix = pl.Series(np.where(mobile, np.array(suffixes)[locale], "Z"))
    local_hour = rng.choice([7.5, 12.5, 20.0], n, p=[0.3, 0.2, 0.5]) + rng.normal(0, 0.8, n)
    hour_utc = (local_hour - np.array(offsets_min)[locale] / 60) % 24

    stated = np.where(rng.random(n) < 0.75, style, rng.integers(0, 3, n))
    stated_format = pl.Series(np.array(FORMATS)[stated]).scatter(
        np.flatnonzero(rng.random(n) < 0.3), None
    )

    # Fine consent: ~60% grant it, most at sign-up, some days later; some withdraw it again.
    grants = rng.random(n) < 0.6
    grant_day = np.where(
        grants, signup_day + np.where(rng.random(n) < 0.7, 0, rng.integers(1, 11, n)), -1
    )
    revoke_day = np.where(grants & (rng.random(n) < 0.12), grant_day + rng.integers(2, 15, n), -1)

    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    octets = rng.integers(1, 255, (n, 4))
    octets[:, 0] = rng.choice([23, 31, 45, 62, 77, 81, 92, 104, 151, 176, 185, 203, 212], n)
    context = (
        pl.DataFrame(
            {
                "first": first,
                "last": last,
                "num": rng.integers(1, 100, n),
                "domain": np.array(MAIL_DOMAINS)[rng.integers(0, len(MAIL_DOMAINS), n)],
                "o": octets,
            }
        )
        .select(
            pl.struct(
                email=pl.format("{}.{}{}@{}", "first", "last", "num", "domain"),
                ip=pl.col("o").arr.eval(pl.element().cast(pl.String)).arr.join("."),
                user_agent=pl.Series(np.array(USER_AGENTS)[agent]),
                locale=pl.Series(np.array(locale_names)[locale]),
            ).struct.json_encode()
        )
        .to_series()
    )

    start_categories = np.argsort(-pref, axis=1)[:, :3]
    category_names = catalog.courses["category"].unique().sort().to_numpy()
    truth = pl.DataFrame(
        {
            "user_id": user_id,
            "learning_style": np.array(STYLES)[style],
            "target_role": np.array(roles.titles)[role],
            "target_onet_soc_code": np.array(roles.codes)[role],
            "skill_level": level.round(3),
            "current_skills": current_skills,
            "preferred_categories": category_names[start_categories].tolist(),
            "weekly_minutes": weekly_minutes,
            "days_per_week": days_per_week.round(2),
            "engagement": engagement.round(3),
            "signup_day": signup_day,
            "locale": np.array(locale_names)[locale],
            "utc_offset_minutes": offset_min,
            "stated_format": stated_format,
            "fine_consent": grants,
        }
    )
    return Learners(
        user_id=user_id,
        style=style,
        role=role,
        level=level,
        pref=pref,
        knows=knows,
        current_skills=current_skills,
        weekly_minutes=weekly_minutes,
        days_per_week=days_per_week,
        engagement=engagement,
        signup_day=signup_day,
        hour_utc=hour_utc,
        offset_ms=offset_min.astype(np.int64) * 60_000,
        suffix=suffix,
        stated_format=stated_format,
        grant_day=grant_day,
        revoke_day=revoke_day,
        context=context,
        truth=truth,
    )


# --------------------------------------------------------------------------------------------
# One day on the platform
# --------------------------------------------------------------------------------------------


class _Buffer:
    """The day's events as column blocks: learner, time (ms), course, module, properties JSON."""

    def __init__(self) -> None:
        self.blocks: list[pl.DataFrame] = []

    def add(self, event_type, u, t, *, course=-1, module=-1, client=True, **props) -> None:
        n = len(u)
        if n == 0:
            return
        if props:
            values = pl.DataFrame(
                {k: np.full(n, v) if np.isscalar(v) else v for k, v in props.items()}
            )
            encoded = values.select(pl.struct(pl.all()).struct.json_encode()).to_series()
            if any(values[k].has_nulls() for k in props):
                # Absent optional properties are left out, not written as null (they come last).
                encoded = encoded.str.replace_all(r',?"\w+":null', "")
        else:
            encoded = pl.Series(np.full(n, "{}"))
        self.blocks.append(
            pl.DataFrame(
                {
                    "event_type": np.full(n, event_type),
                    "u": np.asarray(u, dtype=np.int32),
                    "t": np.asarray(t, dtype=np.int64),
                    "course": np.broadcast_to(course, n).astype(np.int32),
                    "module": np.broadcast_to(module, n).astype(np.int32),
                    "client": np.full(n, client),
                    "properties": encoded,
                }
            )
        )

    def frame(self) -> pl.DataFrame:
        return pl.concat(self.blocks).sort("t", maintain_order=True)


class _Platform:
    """Learner state carried from day to day, and the day's behaviour, vectorized over learners."""

    def __init__(
        self,
        seed: int,
        start_ms: int,
        catalog: Catalog,
        roles: Roles,
        learners: Learners,
        texts: dict,
    ):
        n, c = len(learners.style), len(catalog.difficulty)
        self.seed, self.start_ms = seed, start_ms
        self.cat, self.roles, self.lrn, self.texts = catalog, roles, learners, texts
        self.course = np.full(n, -1, dtype=np.int32)  # current enrolment
        self.pos = np.zeros(n, dtype=np.int32)  # next module, 0-based
        self.done = np.zeros(n)  # content minutes done in that module
        self.gap = np.zeros(n)  # difficulty - level (+ missing prerequisites) at enrolment
        self.score_sum = np.zeros(n)
        self.score_n = np.zeros(n, dtype=np.int32)
        self.level = learners.level.copy()
        self.engagement = learners.engagement.copy()
        self.last_active = learners.signup_day.copy()
        self.last_nudge = np.full(n, -99)
        self.completed = np.zeros((n, c), dtype=bool)
        self.tried = np.zeros((n, c), dtype=bool)
        self.granted = np.zeros(n, dtype=bool)
        self.granted_at = np.full(n, -1, dtype=np.int64)
        self.revoked_at = np.full(n, -1, dtype=np.int64)
        self.t = np.zeros(n, dtype=np.int64)  # each active learner's clock today (ms)

    def tick(self, u: np.ndarray, lo_s: float, hi_s: float) -> np.ndarray:
        """Advance the clocks of learners `u` by a random lo..hi seconds; the new times."""
        self.t[u] += self.rng.integers(int(lo_s * 1000), int(hi_s * 1000), len(u))
        return self.t[u]

    def day(self, d: int) -> pl.DataFrame:
        self.rng = rng = _rng(self.seed, 3, d)
        self.ev = _Buffer()
        lrn, n = self.lrn, len(self.course)
        ms0 = self.start_ms + d * DAY_MS
        opened, open_t = self.platform_jobs(d, ms0)

        weekday = dt.datetime.fromtimestamp(ms0 / 1000, dt.UTC).weekday()
        p = self.engagement * lrn.days_per_week / 7 * (0.75 if weekday >= 5 else 1.1)
        p[opened] = np.maximum(p[opened], 0.8)
        active = ((lrn.signup_day <= d) & (rng.random(n) < p)) | (lrn.signup_day == d)
        a = np.flatnonzero(active)
        start_h = (lrn.hour_utc[a] + rng.normal(0, 1.0, len(a))) % 20.5  # sessions end that day
        self.t[a] = ms0 + (start_h * 3_600_000).astype(np.int64)
        self.t[opened] = np.maximum(self.t[opened], open_t + 60_000)
        self.last_active[a] = d
        self.engagement[a] *= 0.995  # novelty wears off

        self.sign_up_and_consent(a, d)
        back = a[(self.course[a] >= 0) & (rng.random(len(a)) < 0.5)]
        self.ev.add("course_view", back, self.tick(back, 5, 30), course=self.course[back])
        self.search(a)
        self.browse(a)
        studied = self.study(a)
        self.forum(a)
        self.drop_out(studied)
        return self.ev.frame()

    def platform_jobs(self, d: int, ms0: int) -> tuple[np.ndarray, np.ndarray]:
        """Early-morning jobs: drop long-idle enrolments, nudge idle learners. Returns openers."""
        rng = self.rng
        enrolled = self.course >= 0
        idle = d - self.last_active
        auto = np.flatnonzero(enrolled & (idle >= AUTO_DROP_IDLE_DAYS))
        t = ms0 + rng.integers(7_200_000, 10_800_000, len(auto))
        self.ev.add("course_drop", auto, t, course=self.course[auto], client=False)
        self.course[auto] = -1

        nudge = np.flatnonzero(
            enrolled & (idle >= 3) & (idle < AUTO_DROP_IDLE_DAYS) & (d - self.last_nudge >= 4)
        )
        self.last_nudge[nudge] = d
        ids = _hex_ids(rng.integers(0, 2**48, len(nudge)), 12, "ndg_")
        channel = rng.choice(3, len(nudge), p=[0.5, 0.3, 0.2])
        sent = ms0 + rng.integers(28_800_000, 36_000_000, len(nudge))
        self.ev.add(
            "nudge_sent",
            nudge,
            sent,
            client=False,
            nudge_id=ids,
            channel=np.array(("email", "push", "in_app"))[channel],
        )
        was_opened = rng.random(len(nudge)) < np.array([0.25, 0.4, 0.35])[channel]
        open_t = sent[was_opened] + rng.integers(300_000, 14_400_000, was_opened.sum())
        self.ev.add("nudge_opened", nudge[was_opened], open_t, nudge_id=ids.filter(was_opened))
        self.engagement[nudge[was_opened]] = np.minimum(
            1, self.engagement[nudge[was_opened]] + 0.05
        )
        return nudge[was_opened], open_t

    def sign_up_and_consent(self, a: np.ndarray, d: int) -> None:
        lrn = self.lrn
        new = a[lrn.signup_day[a] == d]
        self.ev.add(
            "profile_updated",
            new,
            self.tick(new, 5, 60),
            target_role=np.array(self.roles.titles)[lrn.role[new]],
            current_skills=lrn.current_skills.gather(new),
            weekly_minutes=lrn.weekly_minutes[new],
            preferred_format=lrn.stated_format.gather(new),
        )
        # Consent is given on the first active day on or after the planned day.
        grant = a[(lrn.grant_day[a] >= 0) & (lrn.grant_day[a] <= d) & (self.granted_at[a] < 0)]
        t = self.tick(grant, 2, 30)
        self.ev.add("consent_changed", grant, t, tier="fine", granted=True)
        self.granted[grant], self.granted_at[grant] = True, t
        revoke = a[(lrn.revoke_day[a] >= 0) & (lrn.revoke_day[a] <= d) & self.granted[a]]
        t = self.tick(revoke, 2, 30)
        self.ev.add("consent_changed", revoke, t, tier="fine", granted=False)
        self.granted[revoke], self.revoked_at[revoke] = False, t

    def utility(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[learner, course] appeal for learners `b` (-inf: taken before), and difficulty gaps."""
        cat, lrn = self.cat, self.lrn
        missing = np.zeros((len(b), len(cat.difficulty)), dtype=bool)
        for k in range(cat.prereqs.shape[1]):
            has = cat.prereqs[:, k] >= 0
            missing |= has & ~self.completed[b][:, cat.prereqs[:, k].clip(0)]
        gap = cat.difficulty - self.level[b, None] + 0.8 * missing
        already = lrn.knows[b][:, cat.topic] & (cat.difficulty == 1)
        u = (
            0.8 * lrn.pref[b][:, cat.category]
            + 2.0 * cat.role_fit[lrn.role[b]] * (1 - 0.8 * already)
            - 0.9 * np.abs(gap)
            + 0.4 * (cat.fmt == lrn.style[b, None])
        )
        u[self.completed[b] | self.tried[b]] = -np.inf
        return u, gap

    def search(self, a: np.ndarray) -> None:
        rng, texts = self.rng, self.texts
        q = a[rng.random(len(a)) < np.where(self.course[a] < 0, 0.3, 0.08)]
        role_skill = self.roles.top_skills[
            self.lrn.role[q], rng.integers(0, ROLE_TOP_SKILLS, len(q))
        ]
        topic_skill = self.cat.topic_skill[
            self.cat.topic[rng.integers(0, len(self.cat.topic), len(q))]
        ]
        s = np.where(rng.random(len(q)) < 0.7, role_skill, topic_skill)
        query = texts["queries"].gather(
            s * len(SEARCH_TEMPLATES) + _pick(rng, SEARCH_TEMPLATES, len(q))
        )
        results = texts["results"][s]
        results = np.where(
            (results == 0) & (rng.random(len(q)) < 0.3), rng.integers(1, 3, len(q)), results
        )
        self.ev.add("search", q, self.tick(q, 10, 90), query=query, results_count=results)

    def browse(self, a: np.ndarray) -> None:
        """Recommendations on the home page, clicks with position bias, views and enrolments."""
        rng, cat = self.rng, self.cat
        b = a[(self.course[a] < 0) | (rng.random(len(a)) < 0.15)]
        u, gap = self.utility(b)
        score = cat.popularity + 0.5 * u + 0.5 * rng.gumbel(size=u.shape)
        recs = np.argsort(-score, axis=1, kind="stable")[:, : len(CLICK_BIAS)]
        shown = np.isfinite(np.take_along_axis(score, recs, axis=1))
        rec_ids = _hex_ids(rng.integers(0, 2**48, len(b)), 12, "rec_")
        t = self.tick(b, 2, 20)
        row, pos = np.nonzero(shown)
        self.ev.add(
            "rec_impression",
            b[row],
            t[row] + pos,
            course=recs[row, pos],
            rec_id=rec_ids.gather(row),
            position=pos + 1,
            surface=np.array(SURFACES)[rng.choice(3, len(b), p=[0.7, 0.2, 0.1])[row]],
            model_version=MODEL_VERSION,
        )
        appeal = np.clip(2 * _sigmoid(np.take_along_axis(u, recs, axis=1) - 1), 0, 1.5)
        click = shown & (rng.random(recs.shape) < CLICK_BIAS * appeal)
        k = np.flatnonzero(click.any(axis=1))
        chosen = recs[k, click[k].argmax(axis=1)]
        self.ev.add(
            "rec_click", b[k], self.tick(b[k], 3, 40), course=chosen, rec_id=rec_ids.gather(k)
        )
        self.ev.add("course_view", b[k], self.tick(b[k], 1, 3), course=chosen)
        yes = (self.course[b[k]] < 0) & (rng.random(len(k)) < _sigmoid(1.5 * (u[k, chosen] - 0.3)))
        self.enroll(b[k[yes]], chosen[yes], gap[k[yes], chosen[yes]], rec_ids.gather(k[yes]))

        # Without a click, some learners pick a course themselves.
        o = np.flatnonzero((self.course[b] < 0) & ~click.any(axis=1) & (rng.random(len(b)) < 0.5))
        choice = np.argmax(u[o] + rng.gumbel(size=(len(o), u.shape[1])), axis=1)
        fine = np.isfinite(u[o, choice])
        o, choice = o[fine], choice[fine]
        self.ev.add("course_view", b[o], self.tick(b[o], 5, 60), course=choice)
        yes = rng.random(len(o)) < _sigmoid(1.5 * (u[o, choice] - 0.3))
        self.enroll(b[o[yes]], choice[yes], gap[o[yes], choice[yes]])

    def enroll(self, u, c, gap, rec_ids=None) -> None:
        t = self.tick(u, 20, 120)
        if rec_ids is None:
            self.ev.add("enroll", u, t, course=c)
        else:
            self.ev.add("enroll", u, t, course=c, rec_id=rec_ids)
        self.course[u], self.pos[u], self.done[u], self.gap[u] = c, 0, 0, gap
        self.score_sum[u], self.score_n[u] = 0, 0
        self.tried[u, c] = True

    def study(self, a: np.ndarray) -> np.ndarray:
        """Work through modules within today's minutes; returns who studied."""
        rng, cat, lrn = self.rng, self.cat, self.lrn
        left = np.zeros(len(self.course))
        left[a] = np.clip(
            lrn.weekly_minutes[a] / lrn.days_per_week[a] * rng.lognormal(0, 0.35, len(a)),
            10,
            MAX_DAILY_MINUTES,
        )
        studied = a[self.course[a] >= 0]
        while len(s := a[(self.course[a] >= 0) & (left[a] >= 1)]):
            c = self.course[s]
            m = cat.first_module[c] + self.pos[s]
            fresh = self.done[s] == 0
            self.ev.add(
                "module_start", s[fresh], self.t[s[fresh]], course=c[fresh], module=m[fresh]
            )
            pace = PACE[lrn.style[s], cat.mod_fmt[m]]
            spend = np.minimum(left[s], (cat.mod_minutes[m] - self.done[s]) * pace)
            video = cat.mod_fmt[m] == 0
            self.watch(s[video], c[video], m[video], self.done[s][video], spend[video], pace[video])
            self.t[s] += (spend * 60_000).astype(np.int64)
            self.done[s] += spend / pace
            left[s] -= spend
            fin = self.done[s] >= cat.mod_minutes[m] - 1e-6
            self.finish_modules(s[fin], c[fin], m[fin])
        return studied

    def watch(self, s, c, m, done, spend, pace) -> None:
        """Video playback: progress heartbeats, and the fine-tier seeks and pauses of each style."""
        rng = self.rng
        length = self.cat.mod_minutes[m] * 60.0
        p0, p1 = done * 60, np.minimum((done + spend / pace) * 60, length)
        beats = (np.floor(p1 / PROGRESS_EVERY_S) - np.floor(p0 / PROGRESS_EVERY_S)).astype(int)
        i = np.repeat(np.arange(len(s)), beats)
        k = np.arange(len(i)) - np.repeat(np.cumsum(beats) - beats, beats) + 1
        position = (np.floor(p0[i] / PROGRESS_EVERY_S) + k) * PROGRESS_EVERY_S
        ended = np.flatnonzero((p1 >= length) & (length % PROGRESS_EVERY_S > 0))
        i, position = np.concatenate([i, ended]), np.concatenate([position, length[ended]])
        t = self.t[s[i]] + ((position - p0[i]) * pace[i] * 1000).astype(np.int64)
        self.ev.add(
            "video_progress",
            s[i],
            t,
            course=c[i],
            module=m[i],
            position_s=position,
            duration_s=length[i],
        )

        style = self.lrn.style[s]
        for kind, rate in (("skip", SKIP_RATE), ("rewind", REWIND_RATE), ("pause", PAUSE_RATE)):
            i = np.repeat(np.arange(len(s)), rng.poisson(rate[style] * spend))
            at = p0[i] + rng.random(len(i)) * (p1[i] - p0[i])
            t = self.t[s[i]] + ((at - p0[i]) * pace[i] * 1000).astype(np.int64)
            if kind == "pause":
                self.ev.add(
                    "video_pause", s[i], t, course=c[i], module=m[i], position_s=at.round(1)
                )
                continue
            jump = rng.uniform(20, 180, len(i)) if kind == "skip" else -rng.uniform(10, 90, len(i))
            to = np.clip(at + jump, 0, length[i])
            self.ev.add(
                "video_seek",
                s[i],
                t,
                course=c[i],
                module=m[i],
                from_s=at.round(1),
                to_s=to.round(1),
            )

    def finish_modules(self, s, c, m) -> None:
        rng, cat = self.rng, self.cat
        self.ev.add("module_complete", s, self.t[s], course=c, module=m)
        q = cat.mod_quiz[m]
        qs, qc, qm = s[q], c[q], m[q]
        gap = self.gap[qs]
        mean = (
            0.82
            - 0.20 * np.maximum(gap, 0)
            - 0.06 * np.maximum(-gap - 0.75, 0)
            - 0.10 * (cat.mod_fmt[qm] != self.lrn.style[qs])
        )
        score = np.clip(mean + rng.normal(0, 0.1, len(qs)), 0, 1).round(2)
        quiz_id = self.texts["quiz_ids"].gather(qm)
        self.ev.add(
            "quiz_submit",
            qs,
            self.tick(qs, 30, 240),
            course=qc,
            module=qm,
            quiz_id=quiz_id,
            score=score,
            attempt=1,
        )
        again = (score < 0.6) & (rng.random(len(qs)) < 0.5)
        retry = np.clip(score[again] + rng.uniform(0.05, 0.25, again.sum()), 0, 1).round(2)
        self.ev.add(
            "quiz_submit",
            qs[again],
            self.tick(qs[again], 120, 600),
            course=qc[again],
            module=qm[again],
            quiz_id=quiz_id.filter(again),
            score=retry,
            attempt=2,
        )
        score[again] = retry
        self.score_sum[qs] += score
        self.score_n[qs] += 1
        self.pos[s] += 1
        self.done[s] = 0
        self.complete(s[self.pos[s] >= cat.n_modules[c]])

    def complete(self, s) -> None:
        rng, c = self.rng, self.course[s]
        mean = self.score_sum[s] / np.maximum(self.score_n[s], 1)
        result = np.where(mean >= 0.85, "distinction", np.where(mean >= 0.5, "pass", "fail"))
        stated = pl.Series(result).scatter(
            np.flatnonzero((result == "pass") & (rng.random(len(s)) < 0.2)), None
        )
        self.ev.add("course_complete", s, self.tick(s, 5, 30), course=c, result=stated)
        self.completed[s, c] = True
        learned = (result != "fail") & (self.cat.difficulty[c] >= self.level[s] - 0.5)
        self.level[s] += 0.25 * learned
        self.engagement[s] = np.minimum(1, self.engagement[s] + 0.05)
        self.rate(s, c, 0.5)
        self.course[s] = -1

    def rate(self, s, c, share: float) -> None:
        """Some learners leave stars (and a comment) that follow how well the course fitted."""
        rng, texts = self.rng, self.texts
        keep = rng.random(len(s)) < share
        s, c = s[keep], c[keep]
        gap = self.gap[s]
        mean = np.where(
            self.score_n[s] > 0, self.score_sum[s] / np.maximum(self.score_n[s], 1), 0.7
        )
        fit = (
            1
            - 0.9 * np.maximum(gap, 0)
            - 0.5 * np.maximum(-gap - 0.75, 0)
            - 0.5 * (self.cat.fmt[c] != self.lrn.style[s])
            + 1.5 * (mean - 0.7)
        )
        stars = np.clip(np.round(3.7 + 0.9 * fit + rng.normal(0, 0.6, len(s))), 1, 5).astype(int)
        band = np.digitize(stars, [3, 4])  # low, mid, high
        pool, first, size = texts["comments"]
        comment = pool.gather(first[band] + (rng.random(len(s)) * size[band]).astype(int))
        comment = comment.scatter(np.flatnonzero(rng.random(len(s)) >= 0.35), None)
        self.ev.add("rating", s, self.tick(s, 10, 60), course=c, stars=stars, comment=comment)

    def forum(self, a: np.ndarray) -> None:
        rng, cat, texts = self.rng, self.cat, self.texts
        f = a[rng.random(len(a)) < 0.04]
        in_course = (self.course[f] >= 0) & (rng.random(len(f)) < 0.75)
        fc, fg = f[in_course], f[~in_course]
        c = self.course[fc]
        m = cat.first_module[c] + np.minimum(self.pos[fc], cat.n_modules[c] - 1)
        text = texts["forum_course"].gather(
            m * len(FORUM_COURSE) + _pick(rng, FORUM_COURSE, len(fc))
        )
        threads = _hex_ids(rng.integers(0, 2**32, len(f)), 8, "th_")
        self.ev.add(
            "forum_post",
            fc,
            self.tick(fc, 30, 300),
            course=c,
            thread_id=threads.filter(in_course),
            text=text,
        )
        text = texts["forum_general"].gather(
            self.lrn.role[fg] * len(FORUM_GENERAL) + _pick(rng, FORUM_GENERAL, len(fg))
        )
        self.ev.add(
            "forum_post",
            fg,
            self.tick(fg, 30, 300),
            thread_id=threads.filter(~in_course),
            text=text,
        )

    def drop_out(self, studied: np.ndarray) -> None:
        """After a session: frustration erodes engagement, and some learners leave the course."""
        rng, cat, lrn = self.rng, self.cat, self.lrn
        s = studied[self.course[studied] >= 0]
        c, gap = self.course[s], self.gap[s]
        hard, easy = np.maximum(gap, 0), np.maximum(-gap - 0.75, 0)
        wrong_format = (cat.fmt[c] != lrn.style[s]).astype(float)
        low = ((self.score_n[s] > 0) & (self.score_sum[s] < 0.55 * self.score_n[s])).astype(float)
        slow = (cat.total_minutes[c] / lrn.weekly_minutes[s] > 4).astype(float)
        self.engagement[s] *= np.exp(-0.08 * (hard + 0.5 * wrong_format + low))
        risk = _sigmoid(
            -4.3 + 1.5 * hard + 0.8 * easy + 0.7 * wrong_format + 1.0 * low + 0.5 * slow
        )
        out = rng.random(len(s)) < risk
        s, c = s[out], c[out]
        causes = np.stack([hard + low, easy, 0.7 * wrong_format, 0.5 * slow + 0.1])[:, out]
        pool, first, size = self.texts["reasons"]
        cause = causes.argmax(axis=0)
        reason = pool.gather(first[cause] + (rng.random(len(s)) * size[cause]).astype(int))
        reason = reason.scatter(np.flatnonzero(rng.random(len(s)) >= 0.6), None)
        self.ev.add("course_drop", s, self.tick(s, 5, 60), course=c, reason=reason)
        self.rate(s, c, 0.2)
        self.course[s] = -1


def _texts(catalog: Catalog, roles: Roles, skills: pl.DataFrame) -> dict:
    """Text pools the day simulation draws from by index (so no text is built per event)."""

    def pool(groups: dict) -> tuple[pl.Series, np.ndarray, np.ndarray]:
        size = np.array([len(g) for g in groups.values()])
        first = np.concatenate([[0], np.cumsum(size)[:-1]])
        return pl.Series([x for g in groups.values() for x in g]), first, size

    names = skills["skill_name"].to_list()
    taught = catalog.course_skills.group_by("skill").len()
    results = dict(zip(taught["skill"], taught["len"], strict=True))
    modules = catalog.modules.join(catalog.courses.select("course_id", "title"), on="course_id")
    course_skill = [names[catalog.topic_skill[t]] for t in catalog.topic]
    module_course = modules["course_id"].str.slice(1).cast(pl.Int32) - 1
    return {
        "queries": pl.Series([tpl.format(s.lower()) for s in names for tpl in SEARCH_TEMPLATES]),
        "results": np.array([results.get(s, 0) for s in names]),
        "quiz_ids": catalog.modules["module_id"] + "-Q",
        "forum_course": pl.Series(
            [
                tpl.format(pos=pos, title=title, skill=course_skill[c])
                for pos, title, c in zip(
                    modules["position"], modules["title_right"], module_course, strict=True
                )
                for tpl in FORUM_COURSE
            ]
        ),
        "forum_general": pl.Series(
            [tpl.format(role=r) for r in roles.titles for tpl in FORUM_GENERAL]
        ),
        "comments": pool(COMMENTS),
        "reasons": pool(DROP_REASONS),
    }


# --------------------------------------------------------------------------------------------
# Contract envelope and bad input
# --------------------------------------------------------------------------------------------


def _envelope(
    events: pl.DataFrame,
    rng: np.random.Generator,
    lrn: Learners,
    catalog: Catalog,
    sessions: pl.Series,
) -> pl.DataFrame:
    """Internal event columns -> contract envelope columns (ENVELOPE order)."""
    u, course, module = events["u"], events["course"], events["module"]
    client = events["client"]
    offset = pl.Series(lrn.offset_ms).gather(u) * client
    has_context = client & pl.Series(rng.random(events.height) < 0.8)
    return pl.DataFrame(
        {
            "event_id": _uuids(rng, events.height),
            "event_type": events["event_type"],
            "occurred_at": pl.from_epoch(events["t"] + offset, time_unit="ms").dt.strftime(
                "%Y-%m-%dT%H:%M:%S%.3f"
            )
            + pl.select(
                pl.when(client).then(lrn.suffix.gather(u)).otherwise(pl.lit("Z"))
            ).to_series(),
            "user_id": lrn.user_id.gather(u),
            "session_id": pl.select(pl.when(client).then(sessions.gather(u))).to_series(),
            "course_id": pl.select(
                pl.when(course >= 0).then(catalog.courses["course_id"].gather(course.clip(0)))
            ).to_series(),
            "module_id": pl.select(
                pl.when(module >= 0).then(catalog.modules["module_id"].gather(module.clip(0)))
            ).to_series(),
            "schema_version": np.full(events.height, SCHEMA_VERSION, dtype=np.int32),
            "properties": events["properties"],
            "context": pl.select(pl.when(has_context).then(lrn.context.gather(u))).to_series(),
        }
    )


@dataclass
class _Faulty:
    """A day file's rows after fault injection."""

    rows: pl.DataFrame  # the rows with faults edited in, then the appended duplicates
    line_edits: list[tuple[int, str, object]]  # NDJSON only: (row, edit, argument)
    faults: list[dict]


def _inject_faults(
    rng: np.random.Generator,
    clean: pl.DataFrame,
    previous: pl.DataFrame | None,
    fmt: str,
    share: float,
    file: str,
) -> tuple[_Faulty, pl.DataFrame]:
    """Turn `share` of the rows into bad input, evenly over FAULT_KINDS.

    `previous` holds the previous file's untouched rows (with `file`, `line_no`), the sources of
    cross-file duplicates. Returns the faulty rows and this file's untouched rows.
    """
    n = clean.height
    total = round(share * n)
    quota = np.full(len(FAULT_KINDS), total // len(FAULT_KINDS))
    quota[rng.permutation(len(FAULT_KINDS))[: total % len(FAULT_KINDS)]] += 1
    quota = dict(zip(FAULT_KINDS, quota.tolist(), strict=True))

    etype = clean["event_type"].to_numpy()
    with_required = [e for e, t in EVENT_TYPES.items() if any(p.required for p in t.props)]
    free_text = clean["properties"].str.contains('"(text|comment|reason)":').to_numpy()
    pools = {
        "missing_property": np.isin(etype, with_required),
        "wrong_type": np.isin(etype, with_required) if fmt == "parquet" else np.ones(n, bool),
        "oversized": etype == "forum_post",
        "pii_text": free_text,
        "duplicate_conflict": clean["properties"].to_numpy() != "{}",
    }
    order = rng.permutation(n)
    # Only essential events are touched, so the expected outcome never depends on consent.
    used = np.isin(etype, FINE_EVENT_TYPES)

    def take(kind: str, k: int) -> np.ndarray:
        pool = pools.get(kind, np.ones(n, bool)) & ~used
        picked = order[pool[order]][:k]
        used[picked] = True
        return picked

    edited, edits, faults = [], [], []
    for kind in FAULT_KINDS[:-3] + FAULT_KINDS[-1:]:  # the kinds that edit a row in place
        idx = take(kind, quota[kind])
        for i, row in zip(idx.tolist(), clean[idx].iter_rows(named=True), strict=True):
            field, detail, edit = _corrupt(rng, row, kind, fmt)
            edited.append({"_row": i, **row})
            if edit:
                edits.append((i, *edit))
            faults.append(_fault(file, i + 1, kind, row["event_id"], field, detail))

    # Duplicates: half copy rows of this file, half rows of the previous one (late re-sends).
    here = clean.with_columns(file=pl.lit(file), line_no=pl.int_range(1, n + 1, dtype=pl.Int64))
    extra = []
    for kind in ("duplicate_exact", "duplicate_conflict"):
        k_prev = quota[kind] // 2 if previous is not None else 0
        sources = [here[take(kind, quota[kind] - k_prev)]]
        if k_prev:
            sources.append(previous[rng.permutation(previous.height)[:k_prev]])
        for row in pl.concat(sources).iter_rows(named=True):
            if kind == "duplicate_conflict":
                same_type = clean["event_type"] == row["event_type"]
                donors = clean["properties"].filter(
                    same_type & (clean["properties"] != row["properties"])
                )
                if donors.is_empty():
                    continue
                row["properties"] = donors[int(rng.integers(donors.len()))]
            field = "properties" if kind == "duplicate_conflict" else None
            detail = f"copy of {row['file']}:{row['line_no']}"
            faults.append(_fault(file, n + len(extra) + 1, kind, row["event_id"], field, detail))
            extra.append({c: row[c] for c in clean.columns})

    rows = clean
    if edited:
        edited = pl.DataFrame(edited, schema={"_row": pl.UInt32, **clean.schema})
        rows = (
            pl.concat(
                [
                    clean.with_row_index("_row").filter(
                        ~pl.col("_row").is_in(edited["_row"].implode())
                    ),
                    edited,
                ]
            )
            .sort("_row")
            .drop("_row")
        )
    if extra:
        rows = pl.concat([rows, pl.DataFrame(extra, schema=clean.schema)])
    return _Faulty(rows, edits, faults), here.filter(~pl.Series(used))


def _fault(file, line_no, kind, event_id, field, detail) -> dict:
    return {
        "file": file,
        "line_no": line_no,
        "kind": kind,
        "event_id": event_id,
        "field": field,
        "detail": detail,
    }


def _corrupt(rng: np.random.Generator, row: dict, kind: str, fmt: str) -> tuple:
    """Edit one row (a dict of envelope values) into a fault of `kind`, in place.

    Returns (field, detail, NDJSON line edit or None): edits that a typed frame cannot hold
    (a truncated line, an absent key, a number where a string belongs) are made on the line.
    """
    props = json.loads(row["properties"])
    required = [p for p in EVENT_TYPES[row["event_type"]].props if p.required]
    field = detail = edit = None
    if kind == "malformed_json" and fmt == "parquet":
        field = "properties"
        row["properties"] = row["properties"][: rng.integers(1, len(row["properties"]))]
        return field, detail, edit
    if kind == "malformed_json":
        edit = ("truncate", rng.uniform(0.2, 0.9))
    elif kind == "missing_field":
        field = REQUIRED_ENVELOPE[rng.integers(len(REQUIRED_ENVELOPE))]
        row[field] = None
        edit = ("drop_key", field)  # in NDJSON the key is absent rather than null
    elif kind == "missing_property":
        field = required[rng.integers(len(required))].name
        del props[field]
    elif kind == "wrong_type" and fmt == "ndjson" and (not required or rng.random() < 0.5):
        field = ("occurred_at", "schema_version")[rng.integers(2)]
        edit = ("retype", field)
    elif kind == "wrong_type":
        prop = required[rng.integers(len(required))]
        field = f"properties.{prop.name}"
        value = props[prop.name]
        props[prop.name] = ", ".join(value) if prop.type == "string[]" else WRONG_VALUES[prop.type]
    elif kind == "unknown_event_type":
        field, row["event_type"] = (
            "event_type",
            UNKNOWN_EVENT_TYPES[rng.integers(len(UNKNOWN_EVENT_TYPES))],
        )
    elif kind == "future_timestamp":
        # Whole leap cycles ahead, so that 29 February stays a valid date.
        stamp = row["occurred_at"]
        field, row["occurred_at"] = (
            "occurred_at",
            f"{int(stamp[:4]) + 4 * int(rng.integers(1, 3))}{stamp[4:]}",
        )
    elif kind == "oversized":
        field = "properties.text"
        props["text"] += "\nHere is my full log:\n" + LOG_LINE * int(rng.integers(130, 300))
    elif kind == "pii_text":
        name = next(f for f in ("text", "comment", "reason") if f in props)
        field = f"properties.{name}"
        person = f"{FIRST_NAMES[rng.integers(len(FIRST_NAMES))]}.{LAST_NAMES[rng.integers(len(LAST_NAMES))]}"
        email = f"{person}@{MAIL_DOMAINS[rng.integers(len(MAIL_DOMAINS))]}"
        phone = PHONE_FORMATS[rng.integers(len(PHONE_FORMATS))].format(rng.integers(10_000))
        props[name] += f" Contact me at {email} or call {phone}."
        detail = f"{email}; {phone}"
    row["properties"] = json.dumps(props, ensure_ascii=False, separators=(",", ":"))
    return field, detail, edit


def _edit_line(line: str, edit: str, arg) -> str:
    if edit == "truncate":
        return line[: int(len(line) * arg)]
    if edit == "drop_key":
        return line.replace(f'"{arg}":null,', "", 1)
    if arg == "schema_version":
        return line.replace(
            f'"schema_version":{SCHEMA_VERSION}', f'"schema_version":"{SCHEMA_VERSION}"', 1
        )
    stamp = re.search(r'"occurred_at":"([^"]+)"', line)
    seconds = int(dt.datetime.fromisoformat(stamp[1]).timestamp())
    return line.replace(stamp[0], f'"occurred_at":{seconds}', 1)


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def _write_day(faulty: _Faulty, path: Path, fmt: str) -> None:
    if fmt == "parquet" or not faulty.line_edits:
        events_io.write_events(faulty.rows, path, fmt)
        return
    con = duckdb.connect()
    try:
        con.register("frame", faulty.rows)
        lines = con.sql(events_io.json_lines_sql("frame")).pl()["line"]
    finally:
        con.close()
    rows = [i for i, _, _ in faulty.line_edits]
    lines.scatter(rows, [_edit_line(lines[i], edit, arg) for i, edit, arg in faulty.line_edits])
    events_io.write_lines(lines, path)


def simulate(
    *,
    learners: int,
    courses: int,
    days: int,
    seed: int,
    out: Path,
    fmt: str,
    start: str,
    bad_share: float,
) -> dict:
    """Simulate the platform and write events/, catalog/ and truth/ under `out` (see module doc)."""
    began = time.perf_counter()
    out = Path(out)
    suffix = events_io.suffix_for(fmt)
    first_day = dt.date.fromisoformat(start)
    start_ms = int(dt.datetime.combine(first_day, dt.time(), dt.UTC).timestamp() * 1000)

    catalog, roles, skills = _build_catalog(seed, courses, SEEDS_DIR)
    lrn = _make_learners(seed, learners, days, catalog, roles, skills)
    platform = _Platform(seed, start_ms, catalog, roles, lrn, _texts(catalog, roles, skills))
    written = _write_catalog(out, catalog)
    events_dir = out / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    for old in events_dir.glob("events-*"):  # a previous run may have had more days
        old.unlink()
    setup_s = time.perf_counter() - began

    counts: dict[str, int] = {}
    faults: list[dict] = []
    files: list[dict] = []
    previous = None
    simulate_s = write_s = 0.0
    for d in range(days):
        tick = time.perf_counter()
        events = platform.day(d)
        rng = _rng(seed, 4, d)
        sessions = _hex_ids(rng.integers(0, 2**48, learners), 12, "ses_")
        clean = _envelope(events, rng, lrn, catalog, sessions)
        for event_type, k in events.group_by("event_type").len().iter_rows():
            counts[event_type] = counts.get(event_type, 0) + k
        name = f"events/events-{first_day + dt.timedelta(days=d)}{suffix}"
        if bad_share > 0:
            faulty, previous = _inject_faults(rng, clean, previous, fmt, bad_share, name)
        else:
            faulty = _Faulty(clean, [], [])
        faults += faulty.faults
        tock = time.perf_counter()
        _write_day(faulty, out / name, fmt)
        write_s += time.perf_counter() - tock
        simulate_s += tock - tick
        files.append(
            {"path": name, "rows": faulty.rows.height, "bytes": (out / name).stat().st_size}
        )

    written += _write_truth(out, lrn, platform, catalog, faults)
    total_s = time.perf_counter() - began
    rows = sum(f["rows"] for f in files)
    return {
        "out": str(out),
        "format": fmt,
        "seed": seed,
        "start": start,
        "days": days,
        "learners": learners,
        "courses": len(catalog.difficulty),
        "modules": len(catalog.mod_fmt),
        "events": sum(counts.values()),
        "events_by_type": dict(sorted(counts.items())),
        "rows_written": rows,
        "faults": {k: sum(f["kind"] == k for f in faults) for k in FAULT_KINDS},
        "event_files": files,
        "event_bytes": sum(f["bytes"] for f in files),
        "other_files": written,
        "timings_s": {
            "setup": round(setup_s, 2),
            "simulate": round(simulate_s, 2),
            "write": round(write_s, 2),
            "total": round(total_s, 2),
        },
        "events_per_s": round(rows / total_s),
    }


def _write_catalog(out: Path, catalog: Catalog) -> list[str]:
    (out / "catalog").mkdir(parents=True, exist_ok=True)
    frames = {
        "catalog/courses.csv": catalog.courses,
        "catalog/modules.csv": catalog.modules,
        "catalog/course_skills.csv": catalog.course_skills,
        "catalog/course_prerequisites.csv": catalog.prerequisites,
    }
    for name, frame in frames.items():
        frame.write_csv(out / name)
    return list(frames)


def _write_truth(
    out: Path, lrn: Learners, platform: _Platform, catalog: Catalog, faults: list[dict]
) -> list[str]:
    (out / "truth").mkdir(parents=True, exist_ok=True)

    def stamps(ms: np.ndarray) -> pl.Series:
        return pl.from_epoch(
            pl.Series(np.where(ms >= 0, ms, None)), time_unit="ms"
        ).dt.replace_time_zone("UTC")

    learners = lrn.truth.with_columns(
        fine_granted_at=stamps(platform.granted_at), fine_revoked_at=stamps(platform.revoked_at)
    )
    fault_schema = {
        "file": pl.String,
        "line_no": pl.Int64,
        "kind": pl.String,
        "event_id": pl.String,
        "field": pl.String,
        "detail": pl.String,
    }
    frames = {
        "truth/learners.parquet": learners,
        "truth/faults.parquet": pl.DataFrame(faults, schema=fault_schema),
        "truth/content_gaps.parquet": catalog.content_gaps,
    }
    for name, frame in frames.items():
        frame.write_parquet(out / name)
    return list(frames)
