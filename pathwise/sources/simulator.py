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
  difficulty scale (1-3). A course harder than the level (more so with prerequisites missing)
  lowers quiz scores and raises dropout; a much easier one also raises dropout, less so.
- Each learner has a learning style (watcher / reader / hands-on) matching one module format.
  Modules in other formats take longer and score lower, and a course in another format is
  dropped more often. The fine tier carries the style: readers skip forward in videos
  (video_seek with to_s > from_s), watchers rewind and pause, hands-on learners pause most.
  Fine events are sent for every learner, with consent or without.
- Enrolment follows topic preferences, the target role's skills and fitting difficulty. The
  logged recommender (MODEL_VERSION) ranks mostly by popularity, so clicks show position bias
  and its recommendations cause mismatches that a better model would avoid.
- Frustration lowers engagement (fewer active days) before a drop; enrolments idle for
  AUTO_DROP_IDLE_DAYS are ended by the platform (course_drop without a session or reason).
- Searches for demanded skills that no course teaches return 0 or few results (content gaps).

Conventions: course ids `C0001`, module ids `C0001-M03` (position 3), quiz ids `<module_id>-Q`;
user_id `usr_` + 10 hex digits (distinct), session_id `ses_` + 12 (one per learner and day),
rec_id `rec_` + 12, nudge_id `ndg_` + 12, thread_id `th_` + 8, event_id a random UUID v4.
Browsers and the platform write UTC times (`...Z`), the mobile app local time with its offset.
Platform events (nudge_sent, idle course_drop) have no session and no context.

Bad input: `bad_share` of each day's events, split evenly over FAULT_KINDS, one fault per row,
only ever on essential-tier events (so the expected outcome never depends on consent). Each
fault is a row of truth/faults.parquet: file (relative to `out`), line_no (1-based line in
NDJSON, row in Parquet), kind, event_id (as the row carries it; null when the fault removed
it), field and detail. Kinds named after a `pathwise.contract.REASONS` key must be quarantined
with that reason. `duplicate_exact` copies must be de-duplicated (loaded once). `pii_text`
events are valid: they must be loaded, with the e-mail address and phone number listed in
`detail` redacted. Duplicates are appended at the end of a file, as a retrying client re-sends,
and copy a row of the same file or of the previous day's file (`detail` names it). oversized
and pii_text need free-text events (~1% of events), so a large bad_share can leave them short.

Same seed, same files: every random draw comes from a numpy generator seeded with `seed`, a
purpose and the day. Work is vectorized per day over all learners; only the few faulty rows
are edited one by one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
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

# Catalog
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

# Behaviour. PACE rows: learner style; columns: module format. Real minutes per content minute.
PACE = np.array([[1.05, 1.3, 1.2], [0.6, 0.85, 1.1], [0.9, 1.15, 0.9]])
SKIP_RATE = np.array([0.02, 0.25, 0.08])  # forward seeks per minute of video, by style
REWIND_RATE = np.array([0.10, 0.02, 0.05])
PAUSE_RATE = np.array([0.08, 0.02, 0.12])
PROGRESS_EVERY_S = 360  # video_progress heartbeat, in seconds of video
CLICK_BIAS = np.array([0.30, 0.18, 0.12, 0.09, 0.07])  # click probability by list position
SURFACES = ("home", "course_page", "catalog")
NUDGE_CHANNELS = ("email", "push", "in_app")
AUTO_DROP_IDLE_DAYS = 14
MAX_DAILY_MINUTES = 150
LAST_SESSION_START_H = 20  # sessions start early enough to end the same (UTC) day

# Learner context (personal data the ingestion must drop)
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
USER_AGENTS = (  # the last two are the mobile app, which writes local time with its offset
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Pathwise/4.12 (iPhone; iOS 18.1; Scale/3.00)",
    "Pathwise/4.12 (Linux; Android 15; Pixel 8)",
)
AGENT_SHARES = (0.35, 0.2, 0.1, 0.2, 0.15)
FIRST_NAMES = ("ana", "ben", "chen", "dara", "elif", "femi", "gita", "hugo", "ines", "jon", "kim")
LAST_NAMES = ("silva", "nguyen", "okafor", "muller", "garcia", "tanaka", "smith", "rossi", "patel")
MAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "example.org")
IP_FIRST_OCTETS = (23, 31, 45, 62, 77, 81, 92, 104, 151, 176, 185, 203, 212)

# Texts (none holds personal data: only injected pii_text faults do)
SEARCH_TEMPLATES = ("{}", "learn {}", "{} course", "{} for beginners", "advanced {}")
FORUM_COURSE = (
    "How do I approach the exercise in module {pos} of {title}? My {skill} solution runs but the result looks wrong.",
    "Is there a cheat sheet for {skill}? The pace of {title} is quite fast for me.",
    "Sharing my notes for {title}, module {pos}: practise {skill} on a small real example first, then the rest clicks.",
    "Stuck on the quiz in module {pos} of {title}. Which part of the {skill} material should I review?",
    "Anyone else taking {title} this week? Looking for a study buddy to practise {skill}.",
)
FORUM_GENERAL = (
    "What should I learn first to work as one of the {role}?",
    "How many hours a week did it take you to move into a job among {role}?",
    "Which certificates matter when applying for jobs as one of the {role}?",
)
DROP_REASONS = {  # by the main cause of the drop
    "hard": ("too difficult for me", "I was missing the basics", "the quizzes were too hard"),
    "easy": ("too basic, I knew most of it", "nothing new for me"),
    "format": (
        "too many videos, I prefer reading",
        "not enough practice",
        "format did not suit me",
    ),
    "time": ("no time at the moment", "work got busy", "will come back later"),
}
COMMENTS = {  # by stars: 1-2, 3, 4-5
    "low": ("Too hard to follow.", "Not what I expected.", "The format did not work for me."),
    "mid": ("Decent course, a bit uneven.", "OK overall, some modules drag."),
    "high": ("Great course, very practical!", "Clear explanations and good exercises."),
}

# Bad input
EDIT_KINDS = (  # faults edited into an existing row
    "malformed_json",
    "missing_field",
    "missing_property",
    "wrong_type",
    "unknown_event_type",
    "future_timestamp",
    "oversized",
    "pii_text",
)
DUPLICATE_KINDS = ("duplicate_exact", "duplicate_conflict")  # faults appended as extra rows
FAULT_KINDS = EDIT_KINDS + DUPLICATE_KINDS
FAULT_SCHEMA = {
    "file": pl.String,  # relative to `out`
    "line_no": pl.Int64,  # 1-based line (NDJSON) or row (Parquet)
    "kind": pl.String,
    "event_id": pl.String,  # as the row carries it: null when the fault removed it
    "field": pl.String,  # what was broken: an envelope field or properties.<name>
    "detail": pl.String,  # pii_text: '<email>; <phone>'; duplicates: 'copy of <file>:<line>'
}
UNKNOWN_EVENT_TYPES = ("page_scroll", "video_speed_change", "cart_add", "lesson_bookmark")
WRONG_VALUES = {"string": 42, "number": "high", "integer": "first", "boolean": "yes"}
PHONE_FORMATS = ("+1 415-555-{:04d}", "+44 20 7946 {:04d}", "(030) 555 {:04d}", "+91 98765 4{:04d}")
LOG_LINE = "ERROR worker-3 Traceback (most recent call last): File 'lab.py', line 42, in <module> ValueError: could not convert string to float\n"

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    """An independent, reproducible random stream per purpose (and day)."""
    return np.random.default_rng([seed, *keys])


def _hex_ids(values: np.ndarray, digits: int, prefix: str) -> pl.Series:
    """`prefix` + the low `digits` hex digits of each unsigned integer, vectorized."""
    shifts = np.arange(digits - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = (values.astype(np.uint64)[:, None] >> shifts) & np.uint64(15)
    chars = np.empty((len(values), len(prefix) + digits), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars[:, len(prefix) :] = _HEX[nibbles]
    return pl.Series(chars.view(f"S{chars.shape[1]}").ravel()).cast(pl.String)


def _random_ids(rng: np.random.Generator, n: int, digits: int, prefix: str) -> pl.Series:
    return _hex_ids(rng.integers(0, 16**digits, n, dtype=np.uint64), digits, prefix)


def _uuids(rng: np.random.Generator, n: int) -> pl.Series:
    """Random version-4 UUID strings, vectorized."""
    nibbles = rng.integers(0, 16, (n, 32), dtype=np.uint8)
    nibbles[:, 12] = 4
    nibbles[:, 16] = 8 + (nibbles[:, 16] & 3)
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    chars[:, np.r_[0:8, 9:13, 14:18, 19:23, 24:36]] = _HEX[nibbles]
    return pl.Series(chars.view("S36").ravel()).cast(pl.String)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


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
    codes: list[str]
    titles: list[str]
    weight: np.ndarray  # share of learners aiming for the role
    top_skills: np.ndarray  # [role, ROLE_TOP_SKILLS] most demanded skills, seed skill indices


def _build_catalog(
    seed: int, n_courses: int, seeds_dir: Path
) -> tuple[Catalog, Roles, pl.DataFrame]:
    """Courses on the skills the learners' target roles demand most, leaving some out (gaps)."""
    rng = _rng(seed, 1)
    skills = (
        pl.read_csv(seeds_dir / "skills.csv").filter(pl.col("source") == "onet").with_row_index("s")
    )
    links = pl.read_csv(seeds_dir / "role_skills.csv").join(
        skills.select("skill_id", "s"), on="skill_id"
    )
    names, categories = skills["skill_name"].to_list(), skills["category"].to_list()
    learnable = ~skills["category"].is_in(NON_COURSE_CATEGORIES).to_numpy()

    # Target roles: the occupations needing most course-worthy skills; popularity by rank.
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
    needs = _incidence(links, codes, skills.height)  # [role, skill]
    demand = weight @ needs
    top_skills = np.argsort(-(needs * demand), axis=1, kind="stable")[:, :ROLE_TOP_SKILLS]

    # Topics: the most demanded skills, except every GAP_EVERY-th (kept out as content gaps).
    ranked = [s for s in np.argsort(-demand, kind="stable") if learnable[s] and demand[s] > 0]
    n_topics = min(int(np.ceil(n_courses / 2.5)), len(ranked) * 5 // 6)
    gaps = [s for i, s in enumerate(ranked) if i % GAP_EVERY == GAP_EVERY - 2][
        : max(1, n_topics // 5)
    ]
    topics = [s for s in ranked if s not in gaps][:n_topics]
    topic_of = {s: t for t, s in enumerate(topics)}

    # Related skills co-occur in occupations (Jaccard over all of them).
    occurs = _incidence(links, links["onet_soc_code"].unique().sort().to_list(), skills.height)
    co = occurs.T.astype(np.float32) @ occurs
    jaccard = co / (co.diagonal()[:, None] + co.diagonal()[None, :] - co + 1e-9)
    np.fill_diagonal(jaccard, 0)
    jaccard[:, ~learnable] = 0
    jaccard[:, gaps] = 0

    # Every topic gets a fundamentals course; then the most demanded topics get the next level.
    per_topic = np.ones(len(topics), dtype=int)
    np.add.at(per_topic, np.arange(n_courses - len(topics)) % len(topics), 1)
    levels = [
        (t, lv) for lv in range(per_topic.max()) for t in range(len(topics)) if per_topic[t] > lv
    ]
    course_of = {tl: c for c, tl in enumerate(levels)}
    topic, level = np.array(levels).T
    n = len(levels)
    difficulty = np.minimum(level + 1, 3).astype(np.int8)
    main = np.array(topics)[topic]
    taught = [
        [s, *np.argsort(-jaccard[s], kind="stable")[: d - 1]]
        for s, d in zip(main, difficulty, strict=True)
    ]
    prereq_rows = [(c, course_of[t, lv - 1]) for c, (t, lv) in enumerate(levels) if lv > 0]
    # Advanced courses also build on the fundamentals of a related topic (edges always lead to
    # a lower level, so there are no cycles).
    for c in np.flatnonzero(difficulty == 3):
        related = [topic_of[s] for s in taught[c][1:] if s in topic_of]
        if related:
            prereq_rows.append((c, course_of[related[0], 0]))

    fmt = rng.choice(3, n, p=[0.45, 0.25, 0.30])
    category_names = sorted({categories[s] for s in main})
    category = np.searchsorted(category_names, [categories[s] for s in main])
    n_modules = rng.integers(4, 13, n)
    first_module = np.concatenate([[0], np.cumsum(n_modules)[:-1]])
    module_course = np.repeat(np.arange(n), n_modules)
    position = np.arange(len(module_course)) - first_module[module_course]
    # Modules follow the course's primary format 60% of the time.
    mod_fmt = np.where(
        rng.random(len(module_course)) < 0.6,
        fmt[module_course],
        rng.integers(0, 3, len(module_course)),
    )
    low, high = np.array(MODULE_MINUTES).T
    mod_minutes = rng.integers(low[mod_fmt], high[mod_fmt] + 1)
    mod_quiz = (rng.random(len(module_course)) < 0.4) | (position == n_modules[module_course] - 1)

    prereqs = np.full((n, 2), -1)
    for c, p in prereq_rows:
        prereqs[c, int(prereqs[c, 0] >= 0)] = p
    role_fit = np.stack([needs[:, t].mean(axis=1) for t in taught], axis=1)
    popularity = np.log(demand[main]) + 0.5 * (difficulty == 1) + rng.normal(0, 0.3, n)

    course_ids = [f"C{c + 1:04d}" for c in range(n)]
    course_titles = [
        COURSE_TITLES[min(lv, len(COURSE_TITLES) - 1)].format(short_name(names[s]))
        + (f" {lv - len(COURSE_TITLES) + 2}" if lv >= len(COURSE_TITLES) else "")
        for s, lv in zip(main, level, strict=True)
    ]
    language, language_share = zip(*LANGUAGES, strict=True)
    courses = pl.DataFrame(
        {
            "course_id": course_ids,
            "title": course_titles,
            "description": [
                _describe(
                    title,
                    d,
                    [names[s] for s in ts],
                    categories[ts[0]],
                    [titles[r] for r in rng.permutation(np.flatnonzero(needs[:, ts[0]]))[:2]],
                )
                for title, d, ts in zip(course_titles, difficulty, taught, strict=True)
            ],
            "category": np.array(category_names)[category],
            "difficulty": difficulty,
            "instructor_id": [f"I{i:03d}" for i in rng.integers(1, n // 3 + 2, n)],
            "language": rng.choice(language, n, p=language_share),
            "primary_format": np.array(FORMATS)[fmt],
        }
    )
    modules = pl.DataFrame(
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
    course_skills = pl.DataFrame(
        [(course_ids[c], names[s]) for c, ts in enumerate(taught) for s in ts],
        schema=["course_id", "skill"],
        orient="row",
    )
    prerequisites = pl.DataFrame(
        [(course_ids[c], course_ids[p]) for c, p in prereq_rows],
        schema=["course_id", "prerequisite_course_id"],
        orient="row",
    )
    content_gaps = pl.DataFrame(
        {
            "skill": [names[s] for s in gaps],
            "query_term": [short_name(names[s]).lower() for s in gaps],
            "category": [categories[s] for s in gaps],
            "role_demand": demand[gaps].round(4),
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
        topic=topic,
        popularity=popularity,
        prereqs=prereqs,
        first_module=first_module,
        n_modules=n_modules,
        total_minutes=np.bincount(module_course, weights=mod_minutes),
        mod_fmt=mod_fmt,
        mod_minutes=mod_minutes,
        mod_quiz=mod_quiz,
        role_fit=role_fit,
        topic_skill=np.array(topics),
        n_categories=len(category_names),
    )
    return catalog, Roles(codes, titles, weight, top_skills), skills


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


# --------------------------------------------------------------------------------------------
# Learners
# --------------------------------------------------------------------------------------------


@dataclass
class Learners:
    user_id: pl.Series
    style: np.ndarray  # index into STYLES (= index of the preferred format)
    role: np.ndarray  # index into Roles
    level: np.ndarray  # latent skill level on the difficulty scale, at sign-up
    pref: np.ndarray  # [learner, category] topic preference, mean 1
    knows: np.ndarray  # [learner, topic] already has the topic's main skill
    current_skills: pl.Series  # list[str]
    weekly_minutes: np.ndarray
    days_per_week: np.ndarray
    engagement: np.ndarray  # propensity to show up on a planned day, at sign-up
    signup_day: np.ndarray
    hour_utc: np.ndarray  # preferred session start
    offset_ms: np.ndarray  # UTC offset the learner's client writes into timestamps
    suffix: pl.Series  # the matching timestamp suffix: 'Z', '+01:00', '-05:00', ...
    stated_format: pl.Series  # preferred_format in the profile (null: not stated)
    grant_day: np.ndarray  # day they plan to grant fine consent, -1 never
    revoke_day: np.ndarray  # day they plan to withdraw it again, -1 never
    context: pl.Series  # JSON context object (personal data)
    truth: pl.DataFrame


def _make_learners(
    seed: int, n: int, days: int, catalog: Catalog, roles: Roles, skills: pl.DataFrame
) -> Learners:
    rng = _rng(seed, 2)
    # An affine map mod 16^10 with an odd factor is a bijection: distinct, random-looking ids.
    factor, shift = np.uint64(2 * rng.integers(1, 2**39) + 1), np.uint64(rng.integers(0, 2**40))
    user_id = _hex_ids(
        (np.arange(n, dtype=np.uint64) * factor + shift) % np.uint64(2**40), 10, "usr_"
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
    values = pa.array(names[known_skills[known]], pa.string())
    current_skills = pl.Series("current_skills", pa.ListArray.from_arrays(offsets, values))
    topic_of_skill = np.full(skills.height, -1)
    topic_of_skill[catalog.topic_skill] = np.arange(len(catalog.topic_skill))
    knows = np.zeros((n, len(catalog.topic_skill)), dtype=bool)
    learner, j = np.nonzero(known)
    t = topic_of_skill[known_skills[learner, j]]
    knows[learner[t >= 0], t[t >= 0]] = True

    weekly_minutes = np.clip(rng.lognormal(np.log(150), 0.6, n), 30, 1200).round().astype(int)
    days_per_week = np.clip(1.5 + weekly_minutes / 90, 1.5, 6)
    engagement = rng.beta(4, 1.5, n)
    signup_day = np.where(rng.random(n) < 0.4, 0, rng.integers(0, days, n))

    locale_names, locale_offsets, locale_shares = (np.array(x) for x in zip(*LOCALES, strict=True))
    locale = rng.choice(len(LOCALES), n, p=locale_shares)
    agent = rng.choice(len(USER_AGENTS), n, p=AGENT_SHARES)
    app = agent >= 3
    suffixes = np.array(
        [f"{'+' if o >= 0 else '-'}{abs(o) // 60:02d}:{abs(o) % 60:02d}" for o in locale_offsets]
    )
    local_hour = rng.choice([7.5, 12.5, 20.0], n, p=[0.3, 0.2, 0.5]) + rng.normal(0, 0.8, n)

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

    octets = rng.integers(1, 255, (n, 4))
    octets[:, 0] = rng.choice(IP_FIRST_OCTETS, n)
    context = (
        pl.DataFrame(
            {
                "first": rng.choice(FIRST_NAMES, n),
                "last": rng.choice(LAST_NAMES, n),
                "num": rng.integers(1, 100, n),
                "domain": rng.choice(MAIL_DOMAINS, n),
                "ip": octets,
            }
        )
        .select(
            pl.struct(
                email=pl.format("{}.{}{}@{}", "first", "last", "num", "domain"),
                ip=pl.col("ip").arr.eval(pl.element().cast(pl.String)).arr.join("."),
                user_agent=pl.lit(pl.Series(np.array(USER_AGENTS)[agent])),
                locale=pl.lit(pl.Series(locale_names[locale])),
            ).struct.json_encode()
        )
        .to_series()
    )

    # Planted traits for evaluations. skill_level: latent level at sign-up on the difficulty
    # scale; engagement: propensity to come back; fine_consent: plans to grant fine consent
    # (simulate adds fine_granted_at / fine_revoked_at: when the consent events were sent).
    category_names = np.array(sorted(catalog.courses["category"].unique()))
    truth = pl.DataFrame(
        {
            "user_id": user_id,
            "learning_style": np.array(STYLES)[style],
            "target_role": np.array(roles.titles)[role],
            "target_onet_soc_code": np.array(roles.codes)[role],
            "skill_level": level.round(3),
            "current_skills": current_skills,
            "preferred_categories": category_names[np.argsort(-pref, axis=1)[:, :3]].tolist(),
            "weekly_minutes": weekly_minutes,
            "days_per_week": days_per_week.round(2),
            "engagement": engagement.round(3),
            "signup_day": signup_day,
            "locale": locale_names[locale],
            "utc_offset_minutes": locale_offsets[locale],
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
        hour_utc=(local_hour - locale_offsets[locale] / 60) % 24,
        offset_ms=np.where(app, locale_offsets[locale], 0).astype(np.int64) * 60_000,
        suffix=pl.Series(np.where(app, suffixes[locale], "Z")),
        stated_format=stated_format,
        grant_day=grant_day,
        revoke_day=revoke_day,
        context=context,
        truth=truth,
    )


def _texts(catalog: Catalog, roles: Roles, skills: pl.DataFrame) -> dict:
    """Text pools the day simulation draws from by index, so no text is built per event."""

    def grouped(groups: dict) -> tuple[pl.Series, np.ndarray, np.ndarray]:
        size = np.array([len(g) for g in groups.values()])
        return pl.Series([x for g in groups.values() for x in g]), np.cumsum(size) - size, size

    names = skills["skill_name"].to_list()
    taught = dict(catalog.course_skills.group_by("skill").len().iter_rows())
    course_skill = [short_name(names[catalog.topic_skill[t]]) for t in catalog.topic]
    module_course = np.repeat(np.arange(len(catalog.topic)), catalog.n_modules)
    titles = catalog.courses["title"].to_list()
    return {
        "queries": pl.Series(
            [tpl.format(short_name(s).lower()) for s in names for tpl in SEARCH_TEMPLATES]
        ),
        "results": np.array([taught.get(s, 0) for s in names]),
        "quiz_ids": catalog.modules["module_id"] + "-Q",
        "forum_course": pl.Series(
            [
                tpl.format(pos=pos, title=titles[c], skill=course_skill[c])
                for pos, c in zip(catalog.modules["position"], module_course, strict=True)
                for tpl in FORUM_COURSE
            ]
        ),
        "forum_general": pl.Series(
            [tpl.format(role=r) for r in roles.titles for tpl in FORUM_GENERAL]
        ),
        "comments": grouped(COMMENTS),
        "reasons": grouped(DROP_REASONS),
    }


# --------------------------------------------------------------------------------------------
# One day on the platform
# --------------------------------------------------------------------------------------------


class _Buffer:
    """The day's events as column blocks: learner, time (ms), course, module, properties JSON."""

    def __init__(self) -> None:
        self.blocks: list[pl.DataFrame] = []

    def add(self, event_type: str, u, t, *, course=-1, module=-1, client=True, **props) -> None:
        """Events of one type; `client=False` for the platform's own (no session, no context).

        Property values are arrays (or scalars); a null leaves an optional property out.
        """
        n = len(u)
        if n == 0:
            return
        encoded = pl.repeat("{}", n, eager=True)
        if props:
            values = pl.DataFrame(
                {k: pl.repeat(v, n, eager=True) if np.isscalar(v) else v for k, v in props.items()}
            )
            encoded = values.select(pl.struct(pl.all()).struct.json_encode()).to_series()
            if any(values[k].has_nulls() for k in props):  # optional properties come last
                encoded = encoded.str.replace_all(r',?"\w+":null', "")
        self.blocks.append(
            pl.DataFrame(
                {
                    "event_type": pl.repeat(event_type, n, eager=True),
                    "u": np.asarray(u, dtype=np.int32),
                    "t": np.asarray(t, dtype=np.int64),
                    "course": np.broadcast_to(course, n).astype(np.int32),
                    "module": np.broadcast_to(module, n).astype(np.int32),
                    "client": np.full(n, client),
                    "properties": encoded,
                }
            )
        )

    def frame(self, last_ms: int) -> pl.DataFrame:
        # The clamp keeps the rare session that runs past midnight inside the day's file.
        return (
            pl.concat(self.blocks)
            .with_columns(pl.col("t").clip(upper_bound=last_ms))
            .sort("t", maintain_order=True)
        )


class _Platform:
    """Learner state carried from day to day, and one day's behaviour, vectorized over learners."""

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
        self.gap = np.zeros(n)  # difficulty - level (+0.8 with prerequisites missing), at enrolment
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
        """Advance the clocks of learners `u` by lo..hi seconds; returns their new times."""
        self.t[u] += self.rng.integers(int(lo_s * 1000), int(hi_s * 1000), len(u))
        return self.t[u]

    def day(self, d: int) -> pl.DataFrame:
        """Simulate day `d`: columns event_type, u, t, course, module, client, properties."""
        self.rng = rng = _rng(self.seed, 3, d)
        self.ev = _Buffer()
        lrn, n = self.lrn, len(self.course)
        ms0 = self.start_ms + d * DAY_MS
        opened, open_t = self.platform_jobs(d, ms0)

        weekend = dt.datetime.fromtimestamp(ms0 / 1000, dt.UTC).weekday() >= 5
        p = self.engagement * lrn.days_per_week / 7 * (0.75 if weekend else 1.1)
        p[opened] = np.maximum(p[opened], 0.8)
        a = np.flatnonzero(((lrn.signup_day <= d) & (rng.random(n) < p)) | (lrn.signup_day == d))
        start_h = (lrn.hour_utc[a] + rng.normal(0, 1.0, len(a))) % LAST_SESSION_START_H
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
        return self.ev.frame(ms0 + DAY_MS - 1)

    def platform_jobs(self, d: int, ms0: int) -> tuple[np.ndarray, np.ndarray]:
        """Early-morning jobs: end long-idle enrolments, nudge idle learners. Returns who opened
        a nudge, and when."""
        rng = self.rng
        enrolled = self.course >= 0
        idle = d - self.last_active
        auto = np.flatnonzero(enrolled & (idle >= AUTO_DROP_IDLE_DAYS))
        t = ms0 + rng.integers(7_200_000, 10_800_000, len(auto))
        self.ev.add("course_drop", auto, t, course=self.course[auto], client=False)
        self.course[auto] = -1

        due = enrolled & (idle >= 3) & (idle < AUTO_DROP_IDLE_DAYS) & (d - self.last_nudge >= 4)
        nudged = np.flatnonzero(due)
        self.last_nudge[nudged] = d
        ids = _random_ids(rng, len(nudged), 12, "ndg_")
        channel = rng.choice(3, len(nudged), p=[0.5, 0.3, 0.2])
        sent = ms0 + rng.integers(28_800_000, 36_000_000, len(nudged))
        self.ev.add(
            "nudge_sent",
            nudged,
            sent,
            client=False,
            nudge_id=ids,
            channel=np.array(NUDGE_CHANNELS)[channel],
        )
        was_opened = rng.random(len(nudged)) < np.array([0.25, 0.4, 0.35])[channel]
        opened = nudged[was_opened]
        open_t = sent[was_opened] + rng.integers(300_000, 14_400_000, len(opened))
        self.ev.add("nudge_opened", opened, open_t, nudge_id=ids.filter(was_opened))
        self.engagement[opened] = np.minimum(1, self.engagement[opened] + 0.05)
        return opened, open_t

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
        # Consent changes on the first active day on or after the planned day.
        grant = a[(lrn.grant_day[a] >= 0) & (lrn.grant_day[a] <= d) & (self.granted_at[a] < 0)]
        t = self.tick(grant, 2, 30)
        self.ev.add("consent_changed", grant, t, tier="fine", granted=True)
        self.granted[grant], self.granted_at[grant] = True, t
        revoke = a[(lrn.revoke_day[a] >= 0) & (lrn.revoke_day[a] <= d) & self.granted[a]]
        t = self.tick(revoke, 2, 30)
        self.ev.add("consent_changed", revoke, t, tier="fine", granted=False)
        self.granted[revoke], self.revoked_at[revoke] = False, t

    def utility(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[learner, course] appeal for learners `b` (-inf: taken before) and difficulty gaps."""
        cat, lrn = self.cat, self.lrn
        completed = self.completed[b]
        missing = np.zeros(completed.shape, dtype=bool)
        for p in cat.prereqs.T:
            missing |= (p >= 0) & ~completed[:, p.clip(0)]
        gap = cat.difficulty - self.level[b, None] + 0.8 * missing
        known = lrn.knows[b][:, cat.topic] & (cat.difficulty == 1)
        u = (
            0.8 * lrn.pref[b][:, cat.category]
            + 2.0 * cat.role_fit[lrn.role[b]] * (1 - 0.8 * known)
            - 0.9 * np.abs(gap)
            + 0.4 * (cat.fmt == lrn.style[b, None])
        )
        u[completed | self.tried[b]] = -np.inf
        return u, gap

    def search(self, a: np.ndarray) -> None:
        """Learners search for their role's skills (catalog gaps included) or catalog topics."""
        rng, cat, texts = self.rng, self.cat, self.texts
        q = a[rng.random(len(a)) < np.where(self.course[a] < 0, 0.3, 0.08)]
        for_role = self.roles.top_skills[self.lrn.role[q], rng.integers(0, ROLE_TOP_SKILLS, len(q))]
        in_catalog = cat.topic_skill[rng.integers(0, len(cat.topic_skill), len(q))]
        s = np.where(rng.random(len(q)) < 0.7, for_role, in_catalog)
        query = texts["queries"].gather(
            s * len(SEARCH_TEMPLATES) + rng.integers(0, len(SEARCH_TEMPLATES), len(q))
        )
        results = texts["results"][s]
        fuzzy = (results == 0) & (rng.random(len(q)) < 0.3)  # loose matches on descriptions
        results[fuzzy] = rng.integers(1, 3, fuzzy.sum())
        self.ev.add("search", q, self.tick(q, 10, 90), query=query, results_count=results)

    def browse(self, a: np.ndarray) -> None:
        """Recommendations, clicks with position bias, course views and enrolments."""
        rng, cat = self.rng, self.cat
        b = a[(self.course[a] < 0) | (rng.random(len(a)) < 0.1)]
        u, gap = self.utility(b)
        score = cat.popularity + 0.5 * u + 0.5 * rng.gumbel(size=u.shape)
        recs = np.argsort(-score, axis=1, kind="stable")[:, : len(CLICK_BIAS)]
        shown = np.isfinite(np.take_along_axis(score, recs, axis=1))
        rec_ids = _random_ids(rng, len(b), 12, "rec_")
        surface = np.array(SURFACES)[rng.choice(len(SURFACES), len(b), p=[0.7, 0.2, 0.1])]
        t = self.tick(b, 2, 20)
        row, pos = np.nonzero(shown)
        self.ev.add(
            "rec_impression",
            b[row],
            t[row] + pos,
            course=recs[row, pos],
            rec_id=rec_ids.gather(row),
            position=pos + 1,
            surface=surface[row],
            model_version=MODEL_VERSION,
        )
        appeal = np.clip(2 * _sigmoid(np.take_along_axis(u, recs, axis=1) - 1), 0, 1.5)
        click = shown & (rng.random(recs.shape) < CLICK_BIAS[: recs.shape[1]] * appeal)
        k = np.flatnonzero(click.any(axis=1))  # at most one click per list: the first
        chosen = recs[k, click[k].argmax(axis=1)]
        self.ev.add(
            "rec_click", b[k], self.tick(b[k], 3, 40), course=chosen, rec_id=rec_ids.gather(k)
        )
        self.ev.add("course_view", b[k], self.tick(b[k], 1, 3), course=chosen)
        yes = (self.course[b[k]] < 0) & (rng.random(len(k)) < _sigmoid(1.5 * (u[k, chosen] - 0.3)))
        self.enroll(b[k[yes]], chosen[yes], gap[k[yes], chosen[yes]], rec_ids.gather(k[yes]))

        # Without a click, some learners find a course themselves.
        o = np.flatnonzero((self.course[b] < 0) & ~click.any(axis=1) & (rng.random(len(b)) < 0.5))
        choice = np.argmax(u[o] + rng.gumbel(size=(len(o), u.shape[1])), axis=1)
        left = np.isfinite(u[o, choice])
        o, choice = o[left], choice[left]
        self.ev.add("course_view", b[o], self.tick(b[o], 5, 60), course=choice)
        yes = rng.random(len(o)) < _sigmoid(1.5 * (u[o, choice] - 0.3))
        self.enroll(b[o[yes]], choice[yes], gap[o[yes], choice[yes]])

    def enroll(
        self, u: np.ndarray, c: np.ndarray, gap: np.ndarray, rec_ids: pl.Series | None = None
    ) -> None:
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
        minutes = lrn.weekly_minutes[a] / lrn.days_per_week[a] * rng.lognormal(0, 0.35, len(a))
        left[a] = np.clip(minutes, 10, MAX_DAILY_MINUTES)
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
            end = self.done[s] >= cat.mod_minutes[m] - 1e-6
            self.finish_modules(s[end], c[end], m[end])
        return studied

    def watch(self, s, c, m, done, spend, pace) -> None:
        """Video playback: progress heartbeats, and the fine-tier seeks and pauses of each style."""
        rng = self.rng
        length = self.cat.mod_minutes[m] * 60.0
        p0, p1 = done * 60, np.minimum((done + spend / pace) * 60, length)
        beats = (p1 // PROGRESS_EVERY_S - p0 // PROGRESS_EVERY_S).astype(int)
        i = np.repeat(np.arange(len(s)), beats)
        nth = np.arange(len(i)) - np.repeat(np.cumsum(beats) - beats, beats) + 1
        position = (p0[i] // PROGRESS_EVERY_S + nth) * PROGRESS_EVERY_S
        ended = np.flatnonzero((p1 >= length) & (length % PROGRESS_EVERY_S > 0))  # final beat
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
            to = np.clip(at + jump, 0, length[i]).round(1)
            self.ev.add(
                "video_seek", s[i], t, course=c[i], module=m[i], from_s=at.round(1), to_s=to
            )

    def finish_modules(self, s: np.ndarray, c: np.ndarray, m: np.ndarray) -> None:
        """Module completions, their quizzes, and course completions."""
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
        t = self.tick(qs[again], 120, 600)
        self.ev.add(
            "quiz_submit",
            qs[again],
            t,
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

    def complete(self, s: np.ndarray) -> None:
        rng, c = self.rng, self.course[s]
        mean = self.score_sum[s] / np.maximum(self.score_n[s], 1)
        result = np.where(mean >= 0.85, "distinction", np.where(mean >= 0.5, "pass", "fail"))
        implied = np.flatnonzero((result == "pass") & (rng.random(len(s)) < 0.2))  # no result: pass
        self.ev.add(
            "course_complete",
            s,
            self.tick(s, 5, 30),
            course=c,
            result=pl.Series(result).scatter(implied, None),
        )
        self.completed[s, c] = True
        learned = (result != "fail") & (self.cat.difficulty[c] >= self.level[s] - 0.5)
        self.level[s] += 0.25 * learned
        self.engagement[s] = np.minimum(1, self.engagement[s] + 0.05)
        self.rate(s, c, 0.5)
        self.course[s] = -1

    def rate(self, s: np.ndarray, c: np.ndarray, share: float) -> None:
        """Some learners leave stars (and a comment) that follow how well the course fitted."""
        rng = self.rng
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
        comment = self.draw("comments", np.digitize(stars, [3, 4]), 0.35)
        self.ev.add("rating", s, self.tick(s, 10, 60), course=c, stars=stars, comment=comment)

    def draw(self, pool: str, group: np.ndarray, share: float) -> pl.Series:
        """A random text of each row's group from a grouped pool; null for 1 - share of rows."""
        texts, first, size = self.texts[pool]
        picked = texts.gather(
            first[group] + (self.rng.random(len(group)) * size[group]).astype(int)
        )
        return picked.scatter(np.flatnonzero(self.rng.random(len(group)) >= share), None)

    def forum(self, a: np.ndarray) -> None:
        rng, cat, texts = self.rng, self.cat, self.texts
        f = a[rng.random(len(a)) < 0.05]
        in_course = (self.course[f] >= 0) & (rng.random(len(f)) < 0.75)
        threads = _random_ids(rng, len(f), 8, "th_")
        fc, c = f[in_course], self.course[f[in_course]]
        m = cat.first_module[c] + np.minimum(self.pos[fc], cat.n_modules[c] - 1)
        text = texts["forum_course"].gather(
            m * len(FORUM_COURSE) + rng.integers(0, len(FORUM_COURSE), len(fc))
        )
        self.ev.add(
            "forum_post",
            fc,
            self.tick(fc, 30, 300),
            course=c,
            thread_id=threads.filter(in_course),
            text=text,
        )
        fg = f[~in_course]
        text = texts["forum_general"].gather(
            self.lrn.role[fg] * len(FORUM_GENERAL) + rng.integers(0, len(FORUM_GENERAL), len(fg))
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
        cat, lrn = self.cat, self.lrn
        s = studied[self.course[studied] >= 0]
        c, gap = self.course[s], self.gap[s]
        hard, easy = np.maximum(gap, 0), np.maximum(-gap - 0.75, 0)
        wrong_format = (cat.fmt[c] != lrn.style[s]).astype(float)
        low = ((self.score_n[s] > 0) & (self.score_sum[s] < 0.55 * self.score_n[s])).astype(float)
        slow = np.clip(cat.total_minutes[c] / lrn.weekly_minutes[s] - 1, 0, 3)  # weeks beyond one
        self.engagement[s] *= np.exp(-0.08 * (hard + 0.5 * wrong_format + low))
        risk = _sigmoid(
            -3.6 + 1.5 * hard + 0.8 * easy + 0.7 * wrong_format + 1.0 * low + 0.4 * slow
        )
        out = self.rng.random(len(s)) < risk
        s, c = s[out], c[out]
        causes = np.stack([hard + low, easy, 0.7 * wrong_format, 0.4 * slow + 0.1])  # DROP_REASONS
        cause = causes[:, out].argmax(axis=0)
        self.ev.add(
            "course_drop", s, self.tick(s, 5, 60), course=c, reason=self.draw("reasons", cause, 0.6)
        )
        self.rate(s, c, 0.2)
        self.course[s] = -1


# --------------------------------------------------------------------------------------------
# Contract envelope and bad input
# --------------------------------------------------------------------------------------------


def _envelope(
    events: pl.DataFrame, rng: np.random.Generator, lrn: Learners, catalog: Catalog
) -> pl.DataFrame:
    """The day's events in contract form: ENVELOPE columns, timestamps as the clients write them."""
    u, course, module, client = events["u"], events["course"], events["module"], events["client"]
    local = events["t"] + pl.Series(lrn.offset_ms).gather(u) * client
    sessions = _random_ids(rng, len(lrn.style), 12, "ses_")  # one session per learner and day
    with_context = client & pl.Series(rng.random(events.height) < 0.8)

    def where(mask: pl.Series, values: pl.Series) -> pl.Series:
        return pl.select(pl.when(mask).then(values)).to_series()

    return pl.DataFrame(
        {
            "event_id": _uuids(rng, events.height),
            "event_type": events["event_type"],
            "occurred_at": pl.from_epoch(local, time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3f")
            + where(client, lrn.suffix.gather(u)).fill_null("Z"),
            "user_id": lrn.user_id.gather(u),
            "session_id": where(client, sessions.gather(u)),
            "course_id": where(course >= 0, catalog.courses["course_id"].gather(course.clip(0))),
            "module_id": where(module >= 0, catalog.modules["module_id"].gather(module.clip(0))),
            "schema_version": np.full(events.height, SCHEMA_VERSION, dtype=np.int32),
            "properties": events["properties"],
            "context": where(with_context, lrn.context.gather(u)),
        }
    )


@dataclass
class _Faulty:
    """A day file's rows after fault injection."""

    rows: pl.DataFrame  # the rows with faults edited in, then the appended duplicates
    line_edits: list[tuple]  # (row, edit, argument): made on the NDJSON line, see _edit_line
    faults: list[tuple]  # FAULT_SCHEMA rows


def _inject_faults(
    rng: np.random.Generator,
    clean: pl.DataFrame,
    previous: pl.DataFrame | None,
    fmt: str,
    share: float,
    file: str,
) -> tuple[_Faulty, pl.DataFrame]:
    """Turn `share` of the rows into bad input, evenly over FAULT_KINDS.

    `previous` holds the previous file's untouched rows (with `file`, `line_no`): the sources of
    cross-file duplicates. Returns the faulty rows and this file's untouched rows.
    """
    n = clean.height
    total = round(share * n)
    quota = np.full(len(FAULT_KINDS), total // len(FAULT_KINDS))
    quota[rng.permutation(len(FAULT_KINDS))[: total % len(FAULT_KINDS)]] += 1
    quota = dict(zip(FAULT_KINDS, quota.tolist(), strict=True))

    etype = clean["event_type"]
    with_required = etype.is_in(
        [e for e, t in EVENT_TYPES.items() if any(p.required for p in t.props)]
    ).to_numpy()
    free_text = clean["properties"].str.contains('"(text|comment|reason)":').to_numpy()
    pools = {  # the rows each kind can apply to (default: all)
        "missing_property": with_required,
        "wrong_type": with_required if fmt == "parquet" else np.ones(n, bool),
        "oversized": free_text,
        "pii_text": free_text,
        "duplicate_conflict": (clean["properties"] != "{}").to_numpy(),
    }
    order = rng.permutation(n)
    used = etype.is_in(FINE_EVENT_TYPES).to_numpy()  # only essential events are touched

    def take(kind: str, k: int) -> np.ndarray:
        pool = pools.get(kind, np.ones(n, bool)) & ~used
        picked = order[pool[order]][:k]
        used[picked] = True
        return picked

    edited, edits, faults = [], [], []
    for kind in EDIT_KINDS:
        idx = take(kind, quota[kind])
        for i, row in zip(idx.tolist(), clean[idx].iter_rows(named=True), strict=True):
            field, detail, edit = _corrupt(rng, row, kind, fmt)
            edited.append({"_row": i, **row})
            if edit:
                edits.append((i, *edit))
            faults.append((file, i + 1, kind, row["event_id"], field, detail))

    # Duplicates: half copy rows of this file, half rows of the previous one (late re-sends).
    here = clean.with_columns(file=pl.lit(file), line_no=pl.int_range(1, n + 1, dtype=pl.Int64))
    donors = {t: g["properties"] for (t,), g in clean.group_by("event_type")}
    extra = []
    for kind in DUPLICATE_KINDS:
        from_previous = quota[kind] // 2 if previous is not None else 0
        sources = [here[take(kind, quota[kind] - from_previous)]]
        if from_previous:
            candidates = (
                previous
                if kind == "duplicate_exact"
                else previous.filter(pl.col("properties") != "{}")
            )
            sources.append(candidates[rng.permutation(candidates.height)[:from_previous]])
        for row in pl.concat(sources).iter_rows(named=True):
            field, detail = None, f"copy of {row['file']}:{row['line_no']}"
            if kind == "duplicate_conflict":  # the same id with another event's properties
                field, row["properties"] = (
                    "properties",
                    _other(rng, donors[row["event_type"]], row["properties"]),
                )
                if row["properties"] is None:
                    continue
            faults.append((file, n + len(extra) + 1, kind, row["event_id"], field, detail))
            extra.append({c: row[c] for c in clean.columns})

    rows = clean
    if edited:
        edited = pl.DataFrame(edited, schema={"_row": pl.UInt32, **clean.schema})
        rest = clean.with_row_index("_row").filter(~pl.col("_row").is_in(edited["_row"].implode()))
        rows = pl.concat([rest, edited]).sort("_row").drop("_row")
    if extra:
        rows = pl.concat([rows, pl.DataFrame(extra, schema=clean.schema)])
    return _Faulty(rows, edits, faults), here.filter(~pl.Series(used))


def _other(rng: np.random.Generator, values: pl.Series, value: str) -> str | None:
    """A random one of `values` that differs from `value` (None if none is found quickly)."""
    for i in rng.integers(0, values.len(), 8):
        if values[int(i)] != value:
            return values[int(i)]
    return None


def _corrupt(rng: np.random.Generator, row: dict, kind: str, fmt: str) -> tuple:
    """Edit one row (envelope values) into a fault of `kind`, in place.

    Returns (field, detail, line edit). Line edits are for NDJSON: what a typed frame cannot
    hold (a cut-off line, an absent key, a number where a string belongs) is done on the line.
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
        edit = ("drop_key", field)
    elif kind == "missing_property":
        field = required[rng.integers(len(required))].name
        del props[field]
    elif kind == "wrong_type" and (not required or (fmt == "ndjson" and rng.random() < 0.5)):
        field = ("occurred_at", "schema_version")[rng.integers(2)]
        edit = ("retype", field)
    elif kind == "wrong_type":
        prop = required[rng.integers(len(required))]
        field = f"properties.{prop.name}"
        props[prop.name] = WRONG_VALUES[prop.type]
    elif kind == "unknown_event_type":
        field = "event_type"
        row[field] = UNKNOWN_EVENT_TYPES[rng.integers(len(UNKNOWN_EVENT_TYPES))]
    elif kind == "future_timestamp":
        # Whole leap cycles ahead, so that 29 February stays a valid date.
        field, stamp = "occurred_at", row["occurred_at"]
        row[field] = f"{int(stamp[:4]) + 4 * int(rng.integers(1, 3))}{stamp[4:]}"
    else:  # oversized, pii_text: in the free text
        name = next(f for f in ("text", "comment", "reason") if f in props)
        field = f"properties.{name}"
        if kind == "oversized":
            props[name] += "\nHere is my full log:\n" + LOG_LINE * int(rng.integers(130, 300))
        else:
            person = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}"
            email = f"{person}@{rng.choice(MAIL_DOMAINS)}"
            phone = rng.choice(PHONE_FORMATS).format(rng.integers(10_000))
            props[name] += f" Contact me at {email} or call {phone}."
            detail = f"{email}; {phone}"
    row["properties"] = json.dumps(props, ensure_ascii=False, separators=(",", ":"))
    return field, detail, edit


def _edit_line(line: str, edit: str, arg) -> str:
    if edit == "truncate":
        return line[: int(len(line) * arg)]
    if edit == "drop_key":  # the frame held null; the line loses the key altogether
        return line.replace(f'"{arg}":null,', "", 1)
    if arg == "schema_version":
        return line.replace(
            f'"schema_version":{SCHEMA_VERSION}', f'"schema_version":"{SCHEMA_VERSION}"', 1
        )
    stamp = re.search(r'"occurred_at":"([^"]+)"', line)
    return line.replace(
        stamp[0], f'"occurred_at":{int(dt.datetime.fromisoformat(stamp[1]).timestamp())}', 1
    )


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def _write_day(faulty: _Faulty, path: Path, fmt: str) -> float:
    """Write one day's file; returns the seconds it took."""
    began = time.perf_counter()
    if fmt == "parquet" or not faulty.line_edits:
        events_io.write_events(faulty.rows, path, fmt)
    else:
        with duckdb.connect() as con:
            con.register("frame", faulty.rows)
            lines = con.sql(events_io.json_lines_sql("frame")).pl()["line"]
        edits = faulty.line_edits
        lines.scatter(
            [i for i, *_ in edits], [_edit_line(lines[i], edit, arg) for i, edit, arg in edits]
        )
        events_io.write_lines(lines, path)
    return time.perf_counter() - began


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
    catalog_seed: int | None = None,
) -> dict:
    """Simulate the platform and write events/, catalog/ and truth/ under `out` (see the module
    docstring); returns a JSON-able summary. `catalog_seed` (default `seed`) lets a second,
    independent cohort of learners use the same catalog."""
    began = time.perf_counter()
    out = Path(out)
    suffix = events_io.suffix_for(fmt)
    first_day = dt.date.fromisoformat(start)
    start_ms = int(dt.datetime.combine(first_day, dt.time(), dt.UTC).timestamp() * 1000)

    catalog, roles, skills = _build_catalog(
        seed if catalog_seed is None else catalog_seed, courses, SEEDS_DIR
    )
    lrn = _make_learners(seed, learners, days, catalog, roles, skills)
    platform = _Platform(seed, start_ms, catalog, roles, lrn, _texts(catalog, roles, skills))
    other_files = _write_frames(
        out,
        {
            "catalog/courses.csv": catalog.courses,
            "catalog/modules.csv": catalog.modules,
            "catalog/course_skills.csv": catalog.course_skills,
            "catalog/course_prerequisites.csv": catalog.prerequisites,
        },
    )
    (out / "events").mkdir(parents=True, exist_ok=True)
    for old in (out / "events").glob("events-*"):  # a previous run may have had more days
        old.unlink()
    setup_s = time.perf_counter() - began

    counts: dict[str, int] = {}
    faults: list[dict] = []
    files: list[dict] = []
    previous = None
    writes: list[Future] = []
    # Day d is written in the background while day d+1 is simulated (DuckDB releases the GIL).
    with ThreadPoolExecutor(max_workers=1) as writer:
        for d in range(days):
            events = platform.day(d)
            for event_type, k in events.group_by("event_type").len().iter_rows():
                counts[event_type] = counts.get(event_type, 0) + k
            rng = _rng(seed, 4, d)
            clean = _envelope(events, rng, lrn, catalog)
            name = f"events/events-{first_day + dt.timedelta(days=d)}{suffix}"
            faulty = _Faulty(clean, [], [])
            if bad_share > 0:
                faulty, previous = _inject_faults(rng, clean, previous, fmt, bad_share, name)
            faults += faulty.faults
            files.append({"path": name, "rows": faulty.rows.height})
            if writes:
                writes[-1].result()  # at most one day waits in memory
            writes.append(writer.submit(_write_day, faulty, out / name, fmt))
    write_s = sum(w.result() for w in writes)
    for f in files:
        f["bytes"] = (out / f["path"]).stat().st_size

    truth = lrn.truth.with_columns(
        fine_granted_at=_timestamps(platform.granted_at),
        fine_revoked_at=_timestamps(platform.revoked_at),
    )
    other_files += _write_frames(
        out,
        {
            "truth/learners.parquet": truth,
            "truth/faults.parquet": pl.DataFrame(faults, schema=FAULT_SCHEMA, orient="row"),
            "truth/content_gaps.parquet": catalog.content_gaps,
        },
    )
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
        "faults": {k: sum(f[2] == k for f in faults) for k in FAULT_KINDS},
        "event_files": files,
        "event_bytes": sum(f["bytes"] for f in files),
        "other_files": other_files,
        "timings_s": {
            "setup": round(setup_s, 2),
            "write_in_background": round(write_s, 2),
            "total": round(total_s, 2),
        },
        "events_per_s": round(rows / total_s),
    }


def _timestamps(ms: np.ndarray) -> pl.Series:
    """Epoch milliseconds (-1: never) -> UTC timestamps (null: never)."""
    series = pl.Series(ms).scatter(np.flatnonzero(ms < 0), None)
    return pl.from_epoch(series, time_unit="ms").dt.replace_time_zone("UTC")


def _write_frames(out: Path, frames: dict[str, pl.DataFrame]) -> list[dict]:
    written = []
    for name, frame in frames.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)
        written.append({"path": name, "rows": frame.height, "bytes": path.stat().st_size})
    return written
