"""Evaluate the metadata models on the real labelled catalogs, beside two baselines.

Split by course (a hash of its id: `labelled.split_of`): train 55%, dev 15%, test 30%. The
models' settings are chosen on dev, then every model (baselines included) is fitted on train+dev
and scored once on test, in the same run.

- Skill tags: precision / recall / F1 @5 against the Coursera 2023 `Skills` field and COCO's
  `related_to_concept` facts, each catalog on its own (their label vocabularies differ).
- Difficulty: accuracy and macro-F1 over beginner / intermediate / advanced against edX, Udemy,
  Coursera (and COCO's Udemy levels), one model trained on all of them; courses without a stated
  level ("All Levels", "Mixed") are left out.

    python -m agents.metadata.evaluate            # prints JSON; README "Course metadata and quality"
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import polars as pl

from agents.metadata import labelled
from agents.metadata.models import (
    DifficultyModel,
    MajorityLevel,
    MajoritySkills,
    NearestLevel,
    NearestSkills,
    SkillTagger,
    level_metrics,
    prf_at_k,
)

SKILL_SOURCES = ("coursera", "coco")
LEVEL_SOURCES = ("edx", "udemy", "coursera", "coco")
SKILL_GRID = [
    (k, w, m) for k in (5, 10, 20) for w in (0.0, 0.3, 0.6) for m in (0.0, 0.15, 0.3, 0.45)
]
ALPHA_GRID = (1e-5, 3e-5, 1e-4)


def with_splits(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        split=pl.col("course_id").map_elements(labelled.split_of, return_dtype=pl.String)
    )


def _rounded(d: dict) -> dict:
    return {k: round(v, 3) for k, v in d.items()}


def evaluate_skills(data: pl.DataFrame, source: str) -> dict:
    rows = data.filter((pl.col("source") == source) & (pl.col("skills").list.len() > 0))
    parts = {s: rows.filter(pl.col("split") == s) for s in ("train", "dev", "test")}
    train, dev, test = parts["train"], parts["dev"], parts["test"]

    def f1(model, fit, on) -> dict:
        model.fit(fit["text"].to_list(), fit["skills"].to_list())
        return prf_at_k(model.predict(on["text"].to_list()), on["skills"].to_list())

    tuned = {p: f1(SkillTagger(*p), train, dev)["f1"] for p in SKILL_GRID}
    k, w, m = best = max(tuned, key=lambda p: (tuned[p], -p[0]))
    fit = pl.concat([train, dev])
    return {
        "courses": {"train+dev": fit.height, "test": test.height},
        "chosen_on_dev": {
            "k": k,
            "lexical_weight": w,
            "min_score": m,
            "dev_f1": round(tuned[best], 3),
        },
        "model": _rounded(f1(SkillTagger(*best), fit, test)),
        "majority": _rounded(f1(MajoritySkills(), fit, test)),
        "tfidf_1nn": _rounded(f1(NearestSkills(), fit, test)),
    }


def evaluate_levels(data: pl.DataFrame) -> dict:
    rows = data.filter(pl.col("source").is_in(LEVEL_SOURCES) & pl.col("level").is_not_null())
    train, dev = rows.filter(pl.col("split") == "train"), rows.filter(pl.col("split") == "dev")

    def fitted(model, fit):
        return model.fit(fit["text"].to_list(), fit["level"].to_list())

    tuned = {
        alpha: level_metrics(
            fitted(DifficultyModel(alpha), train).predict(dev["text"].to_list()),
            dev["level"].to_list(),
        )["macro_f1"]
        for alpha in ALPHA_GRID
    }
    alpha = max(tuned, key=tuned.get)
    fit = pl.concat([train, dev])
    models = {
        "model": fitted(DifficultyModel(alpha), fit),
        "majority": fitted(MajorityLevel(), fit),
        "tfidf_1nn": fitted(NearestLevel(), fit),
    }
    report: dict = {"chosen_on_dev": {"alpha": alpha, "dev_macro_f1": round(tuned[alpha], 3)}}
    for source in LEVEL_SOURCES:
        test = rows.filter((pl.col("source") == source) & (pl.col("split") == "test"))
        texts, truth = test["text"].to_list(), test["level"].to_list()
        report[source] = {"test_courses": test.height} | {
            name: _rounded(level_metrics(m.predict(texts), truth)) for name, m in models.items()
        }
    return report


def evaluate(shared_data: Path) -> dict:
    started = time.perf_counter()
    data = with_splits(labelled.read_all(shared_data))
    report = {
        "skills_at_5": {s: evaluate_skills(data, s) for s in SKILL_SOURCES},
        "difficulty": evaluate_levels(data),
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


if __name__ == "__main__":
    from pathwise.settings import get_settings

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else get_settings().shared_data
    print(json.dumps(evaluate(root), indent=2))
