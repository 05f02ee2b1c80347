"""The metadata agent's models and the benchmark's pure parts, on tiny hand-made catalogs with a
known right answer (the real-catalog figures come from `python -m agents.metadata.evaluate`)."""

from __future__ import annotations

import polars as pl
import pytest

from agents.metadata.benchmark import band, neighbours, percentile, verdict
from agents.metadata.labelled import split_of
from agents.metadata.models import (
    DifficultyModel,
    MajoritySkills,
    NearestSkills,
    SkillTagger,
    catalog_difficulty,
    level_metrics,
    level_of_score,
    prf_at_k,
    variants,
)

TEXTS = [
    "Intro to SQL queries for beginners. Select rows from tables.",
    "Advanced SQL query tuning. Indexes and query plans.",
    "Excel spreadsheets for beginners. Formulas and charts.",
    "Excel pivot tables and charts for analysts.",
    "Python programming basics. Variables and loops.",
    "Python for data analysis with pandas dataframes.",
]
LABELS = [["SQL"], ["SQL"], ["Excel"], ["Excel"], ["Python"], ["Python", "pandas"]]


def test_precision_recall_f1_at_k_on_a_known_answer():
    got = prf_at_k([["a", "b"], ["c", "x", "y"]], [["a"], ["c", "d"]], k=2)
    # hits: a, c = 2; predicted: 2 + 2 = 4; true: 1 + 2 = 3
    assert got == pytest.approx({"precision": 0.5, "recall": 2 / 3, "f1": 4 / 7})
    assert prf_at_k([["a"]], [[]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_the_tagger_names_what_the_text_says_and_what_similar_courses_teach():
    tagger = SkillTagger(k=1, lexical_weight=0.5, min_score=0.3, vocabulary=["Tableau"])
    tagger.fit(TEXTS, LABELS)
    [tags] = tagger.tag(["Build dashboards in Tableau. Charts from spreadsheets with Excel."])
    by_skill = {t.skill: t for t in tags}
    assert by_skill["Tableau"].how == "named"
    assert by_skill["Tableau"].sentence == "Build dashboards in Tableau."
    assert "Excel" in by_skill  # named and taught by the nearest course
    [similar] = tagger.tag(["Pivot tables and charts for analysts"])
    assert similar[0].skill == "Excel" and similar[0].how == "similar"
    assert tagger.predict(["Cooking pasta at home"]) == [[]]  # nothing near, nothing named


def test_the_baselines():
    assert MajoritySkills().fit(TEXTS, LABELS).predict(["x"], top=3) == [["Excel", "Python", "SQL"]]
    nearest = NearestSkills().fit(TEXTS, LABELS)
    assert nearest.predict(["pandas dataframes in Python"]) == [["Python", "pandas"]]


def test_label_variants_drop_glosses_and_too_short_forms():
    assert variants("Ruby (programming language)") == {"ruby programming language", "ruby"}
    assert variants("Tableau software") == {"tableau software", "tableau"}
    assert variants("R") == set()


def test_difficulty_scores_map_to_catalog_levels():
    assert [level_of_score(s) for s in range(1, 6)] == [
        "beginner", "beginner", "intermediate", "advanced", "advanced"
    ]  # fmt: skip
    assert [catalog_difficulty(s) for s in range(1, 6)] == [1, 1, 2, 3, 3]
    texts = ["for beginners, no experience needed"] * 6 + ["advanced expert deep dive"] * 6
    model = DifficultyModel().fit(texts, [0] * 6 + [2] * 6)
    (easy, _), (hard, confidence) = model.score(["beginners welcome", "an expert deep dive"])
    assert easy <= 2 and hard >= 4 and 0 < confidence <= 1
    assert level_metrics([0, 2, 1], [0, 2, 2]) == pytest.approx(
        {"accuracy": 2 / 3, "macro_f1": (1 + 2 / 3 + 0) / 3}
    )


def test_the_split_is_by_course_and_stable():
    ids = [f"c{i}" for i in range(2000)]
    splits = [split_of(i) for i in ids]
    assert splits == [split_of(i) for i in ids]
    share = splits.count("test") / len(ids)
    assert 0.25 < share < 0.35


def test_percentiles_bands_and_the_verdict():
    assert percentile(0.2, [0.3, 0.4, 0.5, 0.6], True) == 0.0
    assert percentile(10, [20, 30, 40], False) == 100.0  # fastest
    assert percentile(0.5, [0.5, 0.5, 0.5], True) == 50.0
    assert percentile(0.5, [0.4, 0.6], True) is None  # too few peers
    assert [band(p) for p in (0, 24.9, 25, 60, 75, 100)] == [
        "bottom quartile", "bottom quartile", "below the median", "above the median",
        "top quartile", "top quartile",
    ]  # fmt: skip
    row = {"has_enough_learners": True, "peers_compared": 5, "stop_module_position": 3,
           "stop_module_length_ratio": 2.0, "completion_rate_band": "bottom quartile",
           "avg_rating_band": None, "rating_trend_band": None,
           "median_days_to_complete_band": "top quartile", "qa_refusal_rate_band": None}  # fmt: skip
    assert verdict(row) == (
        "Completion in the bottom quartile of similar courses; time to complete in the top "
        "quartile of similar courses; learners stop most often after module 3, which is 2.0× "
        "longer than its peers' modules."
    )
    assert verdict(row | {"has_enough_learners": False}).startswith("Not enough learners")
    assert verdict(
        row | {"completion_rate_band": "below the median", "median_days_to_complete_band": None,
               "stop_module_position": 0}
    ) == ("Completion below the median of similar courses; most learners who stop do so before "
          "completing a module.")  # fmt: skip
    merged = verdict(row | {"stop_module_position": 0, "stop_last_module_position": 8})
    assert merged.endswith("learners stop most often before completing module 9.")
    # Many refused Q&A questions: the module most of them are about is named.
    modules = [{"module_title": "Joins", "module_position": 4, "questions": 20, "refused": 9,
                "refusal_rate": 0.45}]  # fmt: skip
    asked = row | {"qa_refusal_rate_band": "bottom quartile", "qa_refusals_per_module": modules}
    assert verdict(asked).endswith(
        "Q&A refusals in the bottom quartile of similar courses; learners stop most often after "
        "module 3, which is 2.0× longer than its peers' modules; Q&A questions about module 4 go "
        "unanswered most often (45% of 20 refused)."
    )
    assert "unanswered" not in verdict(asked | {"qa_refusal_rate_band": "top quartile"})


def test_neighbours_rank_by_skills_and_text():
    frame = pl.DataFrame(
        {
            "course_id": ["sql1", "sql2", "xl", "py"],
            "text": ["SQL queries", "SQL joins and queries", "Excel charts", "Python loops"],
            "skills": [["sql"], ["sql"], ["excel"], ["python"]],
        }
    )
    near = neighbours(frame, peers=2)
    first = near.filter(pl.col("rank") == 1)
    assert dict(first.select("course_id", "neighbour_course_id").iter_rows())["sql1"] == "sql2"
    assert near.filter(pl.col("course_id") == "sql1").height == 2
    assert "sql1" not in near.filter(pl.col("course_id") == "sql1")["neighbour_course_id"]


def _tiny_catalog(first_text: str = TEXTS[0]):
    from agents.metadata.suggest import build_catalog

    ids = [f"c{i}" for i in range(len(TEXTS))]
    texts = [first_text, *TEXTS[1:]]
    return build_catalog(
        courses=pl.DataFrame(
            {
                "course_id": ids,
                "title": texts,
                "description": [None] * len(ids),
                "difficulty": [1, 3, 1, None, 1, 2],
            }
        ),
        modules=pl.DataFrame(
            schema={
                "course_id": pl.String,
                "module_position": pl.Int32,
                "module_title": pl.String,
                "duration_minutes": pl.Float64,
            }
        ),
        skills=pl.DataFrame(
            {
                "course_id": [c for c, ls in zip(ids, LABELS, strict=True) for _ in ls],
                "skill": [s for ls in LABELS for s in ls],
            }
        ),
        taxonomy=pl.DataFrame({"skill_id": ["t1"], "skill_name": ["Tableau"]}),
    )


def test_fitted_models_are_reused_only_for_the_same_training_inputs(pathwise_home):
    from dataclasses import asdict

    from agents.metadata import suggest as s

    def suggested(models) -> dict:
        found = s.suggest(_tiny_catalog(), models)
        return {c: [asdict(x) for x in xs] for c, (_, xs) in found.items()}

    catalog = _tiny_catalog()
    cold = s.train(catalog, None, cache=False)
    first = s.train(catalog, None)
    assert s.train(catalog, None).tagger is first.tagger  # the same inputs: not fitted again
    [cached] = (pathwise_home.home / "models").glob("*.pkl")
    s.FITTED.clear()  # a new process: read from disk, and suggesting exactly as a cold fit
    from_disk = s.train(catalog, None)
    assert from_disk.tagger is not first.tagger
    assert suggested(from_disk) == suggested(cold) and suggested(cold)["c3"]
    changed = s.train(_tiny_catalog("Intro to SQL joins for beginners."), None)
    assert changed.tagger is not from_disk.tagger  # a changed training text: fitted anew
    assert [p.name for p in (pathwise_home.home / "models").glob("*.pkl")] != [cached.name]
