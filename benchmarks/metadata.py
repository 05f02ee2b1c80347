"""Course metadata for the full COCO catalog (8,196 Udemy courses): fit the metadata models on the
labelled catalogs and suggest skill tags, difficulty, prerequisites and durations for every
course. Target: <= 2 min. Also the course benchmarks (10 most similar courses) over the same
catalog, without learner figures (COCO has none per module): the similarity part.

The catalog comes from the COCO importer's catalog files, as the catalog marts hold them; the
taxonomy from seeds/skills.csv (reference.skills).

    python -m benchmarks.metadata
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

from agents.metadata.benchmark import neighbours
from agents.metadata.suggest import build_catalog, suggest, train
from pathwise.settings import PROJECT_ROOT, get_settings
from pathwise.sources.coco import import_coco

TARGET_S = 120


def coco_catalog(shared_data: Path):
    with tempfile.TemporaryDirectory() as tmp:
        import_coco(shared_data / "coco", Path(tmp), "parquet")
        folder = Path(tmp) / "catalog"
        read = lambda name: pl.read_csv(folder / name, infer_schema_length=0)  # noqa: E731
        return build_catalog(
            courses=read("courses.csv").select("course_id", "title", "description", "difficulty"),
            modules=read("modules.csv").select(
                "course_id",
                module_position=pl.col("position").cast(pl.Int32),
                module_title="title",
                duration_minutes=pl.col("duration_minutes").cast(pl.Float64),
            ),
            skills=read("course_skills.csv"),
            taxonomy=pl.read_csv(PROJECT_ROOT / "seeds" / "skills.csv").select(
                "skill_id", "skill_name"
            ),
        )


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    shared = get_settings().shared_data
    started = time.perf_counter()
    catalog = coco_catalog(shared)
    read_s = time.perf_counter() - started
    t = time.perf_counter()
    models = train(catalog, shared, cache=False)  # a cold fit, as on new inputs
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    found = suggest(catalog, models)
    suggest_s = time.perf_counter() - t
    total = time.perf_counter() - started
    kinds: dict[str, int] = {}
    for _, suggestions in found.values():
        for s in suggestions:
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
    print(
        f"metadata for {catalog.courses.height:,} COCO courses: {total:.1f} s "
        f"(read {read_s:.1f}, fit {train_s:.1f}, suggest {suggest_s:.1f}); target <= {TARGET_S} s "
        f"-> {'OK' if total <= TARGET_S else 'OVER'}"
    )
    print(f"suggestions: {kinds}")
    t = time.perf_counter()
    frame = catalog.courses.select("course_id", "text").join(
        catalog.skills.group_by("course_id").agg(skills=pl.col("skill").str.to_lowercase()),
        on="course_id",
        how="left",
    )
    near = neighbours(frame.with_columns(pl.col("skills").fill_null([])))
    print(
        f"10 most similar courses for each: {time.perf_counter() - t:.1f} s ({near.height:,} rows)"
    )


if __name__ == "__main__":
    main()
