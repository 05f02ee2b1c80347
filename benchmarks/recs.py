"""Recommender training and scoring time at 100k learners.

A synthetic platform is built in memory with the shape of the simulator's (catalog with
categories, levels, skills and prerequisites; learners with target roles, stated skills and a
few enrolments, progress, quizzes, completions, ratings and clicks each), then the nightly
job's steps are timed separately: prepare (interaction matrix, content and skill-gap features), train (implicit
ALS or BPR), score (blend, rules, diversity, reasons and format for `--candidates` courses per
learner, plus the cold-start list) and write (both tables into a DuckDB file via pathwise.results).
Median of `--repeat` runs.

    python -m benchmarks.recs --learners 100000 --courses 500 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from ml.recommender import Hybrid, RecData, cold_start, default_weights, recommend_all
from pathwise.results import replace_table

# The synthetic platform's vocabulary: course categories, skills and target roles.
N_CATEGORIES, N_SKILLS, N_ROLES = 20, 300, 40


def synthetic(learners: int, courses: int, seed: int = 7) -> RecData:
    """A platform with planted taste: learners enrol mostly in their role's categories.

    Every step draws from one generator, in the order below: the same seed, the same frames.
    """
    rng = np.random.default_rng(seed)
    category = rng.integers(0, N_CATEGORIES, courses)
    catalog, course_skills, prerequisites = _catalog(rng, category)
    role_skills = pl.DataFrame(
        {
            "role": np.repeat([f"Role {r}" for r in range(N_ROLES)], 12),
            "skill": [f"skill-{s}" for s in rng.integers(0, N_SKILLS, N_ROLES * 12)],
        }
    ).unique(maintain_order=True)
    role = rng.integers(0, N_ROLES, learners)
    learner_frame = _learners(rng, role)
    enrol = _enrolments(
        rng, role, category, learner_frame["learner_key"].to_list(), catalog["course_id"].to_list()
    )
    events, quizzes = _interactions(rng, enrol)
    return RecData(
        catalog, course_skills, prerequisites, learner_frame, role_skills, events, quizzes
    )


def _catalog(
    rng: np.random.Generator, category: np.ndarray
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Courses (mostly easy), two skills each, and a prerequisite for a third of the harder ones."""
    courses = len(category)
    difficulty = rng.choice([1, 2, 3], courses, p=[0.5, 0.35, 0.15])
    course_ids = [f"C{i:05d}" for i in range(courses)]
    catalog = pl.DataFrame(
        {
            "course_id": course_ids,
            "title": [f"Course {i} on topic {c}" for i, c in enumerate(category)],
            "description": [f"A course in category {c}." for c in category],
            "category": [f"cat-{c}" for c in category],
            "difficulty": difficulty,
            "language": "en",
            "primary_format": rng.choice(["video", "reading", "hands-on"], courses),
        }
    )
    skill_of = rng.integers(0, N_SKILLS, (courses, 2))
    course_skills = pl.DataFrame(
        {"course_id": np.repeat(course_ids, 2), "skill": [f"skill-{s}" for s in skill_of.ravel()]}
    ).unique(maintain_order=True)
    harder = np.flatnonzero(difficulty > 1)
    pre = rng.choice(harder, len(harder) // 3, replace=False)
    prerequisites = pl.DataFrame(
        {
            "course_id": [course_ids[i] for i in pre],
            "prerequisite_course_id": [course_ids[i] for i in rng.integers(0, courses, len(pre))],
        }
    ).filter(pl.col("course_id") != pl.col("prerequisite_course_id"))
    return catalog, course_skills, prerequisites


def _learners(rng: np.random.Generator, role: np.ndarray) -> pl.DataFrame:
    """One learner per role drawn: three stated skills, a preferred format or none."""
    learners = len(role)
    return pl.DataFrame(
        {
            "learner_key": [f"lk{i:07d}" for i in range(learners)],
            "target_role": [f"Role {r}" for r in role],
            "current_skills": [[f"skill-{s}" for s in rng.integers(0, N_SKILLS, 3)] for _ in role],
            "preferred_format": pl.Series(
                rng.choice(["video", "reading", "hands-on", ""], learners)
            ).replace("", None),
            "style_format": pl.Series([None] * learners, dtype=pl.String),
        }
    )


def _enrolments(
    rng: np.random.Generator,
    role: np.ndarray,
    category: np.ndarray,
    keys: list[str],
    course_ids: list[str],
) -> pl.DataFrame:
    """Enrolments (learner_key, course_id, at): 1-12 per learner, 70% in the two categories
    their role prefers, over 60 days; a repeated pair is kept once."""
    courses, learners = len(course_ids), len(keys)
    per = rng.integers(1, 13, learners)
    owner = np.repeat(np.arange(learners), per)
    liked = rng.integers(0, N_CATEGORIES, (N_ROLES, 2))[role[owner], rng.integers(0, 2, len(owner))]
    by_cat = [np.flatnonzero(category == c) for c in range(N_CATEGORIES)]
    in_taste = np.array([rng.choice(by_cat[c]) if len(by_cat[c]) else 0 for c in liked])
    course = np.where(rng.random(len(owner)) < 0.7, in_taste, rng.integers(0, courses, len(owner)))
    start = datetime(2026, 1, 5)
    at = [start + timedelta(minutes=int(m)) for m in rng.integers(0, 60 * 24 * 60, len(owner))]
    return pl.DataFrame(
        {
            "learner_key": [keys[i] for i in owner],
            "course_id": [course_ids[i] for i in course],
            "at": at,
        }
    ).unique(["learner_key", "course_id"], keep="first", maintain_order=True)


def _interactions(
    rng: np.random.Generator, enrol: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What followed each enrolment: events (progress, then a pass, drop, rating or click by one
    drawn outcome) and quiz attempts."""
    outcome = rng.random(enrol.height)
    later = pl.col("at") + pl.duration(days=7)
    events = pl.concat(
        [
            enrol.with_columns(kind=pl.lit("enroll"), value=pl.lit(1.0)),
            enrol.with_columns(kind=pl.lit("progress"), value=pl.lit(0.5), at=later),
            enrol.filter(outcome < 0.5).with_columns(
                kind=pl.lit("passed"), value=pl.lit(1.0), at=later
            ),
            enrol.filter(outcome > 0.8).with_columns(
                kind=pl.lit("dropped"), value=pl.lit(1.0), at=later
            ),
            enrol.filter(outcome < 0.15).with_columns(
                kind=pl.lit("rating"), value=pl.lit(4.0), at=later
            ),
            enrol.filter(outcome > 0.9).with_columns(kind=pl.lit("click"), value=pl.lit(1.0)),
        ]
    ).select("learner_key", "course_id", "kind", "at", "value")
    # Two quiz attempts per enrolment that got going (they show levels for level_fit).
    going = enrol.filter(outcome < 0.8)
    quizzes = pl.concat(
        [
            going.select(
                "learner_key",
                "course_id",
                at=pl.col("at") + pl.duration(days=d),
                score=pl.Series(rng.uniform(0.3, 1.0, going.height)),
            )
            for d in (2, 5)
        ]
    )
    return events, quizzes


def run_once(data: RecData, algorithm: str, candidates: int, db: Path) -> dict:
    t0 = time.perf_counter()
    hybrid = Hybrid(data, algorithm=algorithm)
    t1 = time.perf_counter()
    weights = default_weights()
    recs = recommend_all(hybrid, candidates, weights)
    cold = cold_start(hybrid, candidates, weights)
    t2 = time.perf_counter()
    con = duckdb.connect(":memory:")
    con.execute(f"attach '{db}' as warehouse")
    replace_table(con, "recommendations", recs)
    replace_table(con, "recommendations_cold_start", cold)
    con.close()
    t3 = time.perf_counter()
    return {
        "prepare_s": hybrid.timings["prepare_s"],
        "train_s": hybrid.timings["train_s"],
        "score_s": t2 - t1,
        "write_s": t3 - t2,
        "total_s": t3 - t0,
        "rows": recs.height,
        "interactions": hybrid.X.nnz,
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--learners", type=int, default=100_000)
    p.add_argument("--courses", type=int, default=500)
    p.add_argument("--candidates", type=int, default=50)
    p.add_argument("--algorithm", choices=["als", "bpr"], nargs="+", default=["als", "bpr"])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    data = synthetic(args.learners, args.courses)
    print(f"synthetic platform: {args.learners:,} learners, {args.courses} courses, "
          f"{data.events.height:,} events ({time.perf_counter() - t0:.1f} s)")  # fmt: skip
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for algorithm in args.algorithm:
            runs = [
                run_once(data, algorithm, args.candidates, Path(tmp) / f"w{i}.duckdb")
                for i in range(args.repeat)
            ]
            med = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}
            out[algorithm] = med
            print(f"{algorithm}: " + json.dumps(med))
    return out


if __name__ == "__main__":
    main()
