"""Planning one learner's path over the full COCO catalog (8,197 Udemy courses and their concepts).
Target: <= 200 ms p95 per path.

The catalog comes from the COCO importer's catalog files, read as the catalog marts read them
(agents.paths.catalog.build_catalog). Each goal is 5-15 of the catalog's skills plus 2 no course
teaches, a learner knowing 0-3 of them. Beside it, in the same run, the bare baseline: for each gap
skill, the cheapest course teaching it (no prerequisites, no pruning, no order, no calendar).

    python -m benchmarks.paths --goals 300
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl

from agents.paths.catalog import build_catalog
from agents.paths.planner import Catalog, Goal, cost, plan
from pathwise.settings import get_settings
from pathwise.sources.coco import import_coco

TARGET_MS = 200


def coco_catalog(shared_data: Path) -> Catalog:
    with tempfile.TemporaryDirectory() as tmp:
        import_coco(shared_data / "coco", Path(tmp), "parquet")
        folder = Path(tmp) / "catalog"
        read = lambda name: pl.read_csv(folder / name, infer_schema_length=0)  # noqa: E731
        minutes = (
            read("modules.csv")
            .group_by("course_id")
            .agg(hours=pl.col("duration_minutes").cast(pl.Float64).sum() / 60)
        )
        courses = (
            read("courses.csv")
            .join(minutes, on="course_id", how="left")
            .select(
                "course_id",
                "title",
                "hours",
                level=pl.col("difficulty").cast(pl.Int32),
                format=pl.col("primary_format"),
                quality=pl.lit(None, pl.Float64),
            )
        )
        return build_catalog(courses, read("course_skills.csv"), read("course_prerequisites.csv"))


def baseline(catalog: Catalog, goal: Goal, known: set[str]) -> list[str]:
    return [
        min(catalog.teaching[s], key=lambda c: cost(catalog.courses[c], goal))
        for s in goal.skills - known
        if catalog.teaching.get(s)
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--goals", type=int, default=300, help="Learners planned (p50/p95 over them)."
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    catalog = coco_catalog(get_settings().shared_data)
    print(
        f"catalog: {len(catalog.courses):,} courses, {len(catalog.teaching):,} skills, "
        f"read in {time.perf_counter() - started:.1f} s"
    )
    rng = random.Random(7)
    vocabulary = sorted(catalog.teaching)
    ours, bare, steps = [], [], []
    for _ in range(args.goals):
        skills = set(rng.sample(vocabulary, rng.randint(5, 15))) | {"untaught a", "untaught b"}
        known = set(rng.sample(sorted(skills), rng.randint(0, 3)))
        goal = Goal("a role", frozenset(skills), 5, date(2027, 1, 4), level=rng.choice([1, 2]))
        t = time.perf_counter()
        path = plan(catalog, goal, known)
        ours.append((time.perf_counter() - t) * 1000)
        steps.append(len(path.steps))
        t = time.perf_counter()
        baseline(catalog, goal, known)
        bare.append((time.perf_counter() - t) * 1000)

    def p95(xs: list[float]) -> float:
        return statistics.quantiles(xs, n=20)[-1]

    print(
        f"plan():   p50 {statistics.median(ours):.1f} ms, p95 {p95(ours):.1f} ms "
        f"(target {TARGET_MS} ms), {statistics.median(steps):.0f} steps per path (median)\n"
        f"baseline: p50 {statistics.median(bare):.2f} ms, p95 {p95(bare):.2f} ms "
        f"(cheapest course per skill, no prerequisites or order)"
    )


if __name__ == "__main__":
    main()
