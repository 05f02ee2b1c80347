"""Time of the cohort finder's nightly run at 100k learners and 300k open enrolments.

Synthetic marts and ML tables of that size (`marts.learner_course_progress`, `marts.learners`,
`marts.courses`, `ml.dropout_risk`: only the columns the finder reads) are written to a DuckDB
warehouse in a temporary PATHWISE_HOME; then `agents.cohorts.run` (read, find, write one run) is
timed, median of `--repeat` runs, single process. Risks depend on the course, the stall module and
the enrolment week, so there are real cohorts to find. Target: <= 60 s on 2 cores.

    python -m benchmarks.cohorts [--learners 100000] [--enrolments 300000] [--courses 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pathwise.settings import get_settings

SEGMENTS = ("data", "software", "design", "business", "unknown")
MODULES_PER_COURSE = 8
WEEKS = 12


def synthetic_enrolments(learners: int, enrolments: int, courses: int, seed: int = 0):
    """Open enrolments with the finder's attributes and a risk (distinct learner x course)."""
    rng = np.random.default_rng(seed)
    pairs = pl.DataFrame(
        {
            "l": rng.integers(0, learners, int(enrolments * 1.1)),
            "c": rng.integers(0, courses, int(enrolments * 1.1)),
        }
    ).unique(maintain_order=True)
    pairs = pairs.head(enrolments)
    n = pairs.height
    module = rng.integers(0, MODULES_PER_COURSE, n)
    week = rng.integers(0, WEEKS, n)
    course_effect = rng.normal(0, 0.6, courses)[pairs["c"].to_numpy()]
    module_effect = rng.normal(0, 0.5, (courses, MODULES_PER_COURSE))[pairs["c"], module]
    logit = -1.2 + course_effect + module_effect + 0.05 * week + rng.normal(0, 0.8, n)
    risk = 1 / (1 + np.exp(-logit))
    first = date(2026, 9, 7)
    return pairs.select(
        learner_key=pl.format("l{}", "l"),
        course_id=pl.format("c{}", "c"),
        enrolled_at=pl.Series([first + timedelta(weeks=int(w), days=2) for w in week]),
        next_module_id=pl.format("c{}:m{}", "c", pl.Series(module)),
        next_module_title=pl.format("Module {}", pl.Series(module + 1)),
        risk=pl.Series(risk),
    ).with_columns(
        risk_band=pl.when(pl.col("risk") >= 0.5)
        .then(pl.lit("high"))
        .when(pl.col("risk") >= 0.2)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low")),
    ), rng.choice(SEGMENTS, learners)


def write_marts(con, enrolments: pl.DataFrame, segments: np.ndarray, courses: int) -> None:
    learners = pl.DataFrame(
        {"learner_key": [f"l{i}" for i in range(len(segments))], "segment": segments}
    )
    catalog = pl.DataFrame({"course_id": [f"c{i}" for i in range(courses)]}).with_columns(
        course_title=pl.format("Course {}", "course_id")
    )
    for name, frame in (("_e", enrolments), ("_l", learners), ("_c", catalog)):
        con.register(name, frame.to_arrow())
    con.execute(
        """
        create schema if not exists warehouse.marts;
        create schema if not exists warehouse.ml;
        create or replace table warehouse.ml.dropout_risk as
            select learner_key, course_id, risk, risk_band, true as used_for_decisions from _e;
        create or replace table warehouse.marts.learner_course_progress as
            select learner_key, course_id, cast(enrolled_at as timestamp) as enrolled_at,
                   next_module_id, next_module_title, 'active' as status from _e;
        create or replace table warehouse.marts.learners as select * from _l;
        create or replace table warehouse.marts.courses as select * from _c;
        """
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--enrolments", type=int, default=300_000)
    parser.add_argument("--courses", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from agents import cohorts
    from pathwise.warehouse import connect

    enrolments, segments = synthetic_enrolments(args.learners, args.enrolments, args.courses)
    times, summaries, find_times = [], [], []
    with tempfile.TemporaryDirectory(prefix="pathwise-bench-agents-") as tmp:
        os.environ["PATHWISE_HOME"] = str(Path(tmp) / "home")
        os.environ["PATHWISE_WAREHOUSE_KEY"] = ""
        get_settings.cache_clear()
        with connect() as con:
            write_marts(con, enrolments, segments, args.courses)
            for _ in range(args.repeat):
                t = time.perf_counter()
                summaries.append(cohorts.run(con))
                times.append(time.perf_counter() - t)
            frame = cohorts.open_enrolments(con)
            for _ in range(args.repeat):
                t = time.perf_counter()
                cohorts.find(frame)
                find_times.append(time.perf_counter() - t)
    last = summaries[-1]
    result = {
        "learners": args.learners,
        "open_enrolments": last["open_enrolments"],
        "courses": args.courses,
        "cohorts": last["cohorts"],
        "members": last["members"],
        "run_s_median": round(statistics.median(times), 2),
        "run_s_each": [round(t, 2) for t in times],
        "find_s_median": round(statistics.median(find_times), 2),
        "target_s": 60,
        "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
