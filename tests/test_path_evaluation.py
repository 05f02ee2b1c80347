"""The learning-path evaluation (agents/paths/evaluate.py) on a small hand-made platform whose right
answers are worked out by hand: the split, the lists compared at the same length, the scores, the
follower groups and the Kaplan-Meier median of time to goal."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from agents.paths.evaluate import (
    Case,
    History,
    cases,
    cut_time,
    evaluate,
    goal_baseline,
    km_median,
    next_courses,
    scores,
    time_to_goal,
)
from agents.paths.planner import Catalog, Course

T0 = datetime(2026, 1, 1)
CUT = datetime(2026, 2, 1)


def course(cid: str, *skills: str, hours: float = 10, pre: tuple[str, ...] = ()) -> Course:
    return Course(cid, f"Course {cid}", frozenset(skills), hours, pre)


CATALOG = Catalog(
    [
        course("sql", "sql"),
        course("excel", "excel"),
        course("py", "python"),
        course("stats", "statistics", pre=("py",)),
        course("viz", "tableau"),
        course("viz2", "tableau", hours=40),  # teaches the same, costs more: never planned
        course("mix", "sql", "excel", hours=12),
        course("sql2", "sql", hours=5),
    ]
)


def frame(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    """(learner, course, day from T0)."""
    return pl.DataFrame(
        [(lk, c, T0 + timedelta(days=d)) for lk, c, d in rows],
        schema=["learner_key", "course_id", "at"],
        orient="row",
    )


ENROLMENTS = frame(
    [
        ("ann", "sql", 1),
        ("ann", "stats", 40),  # next: needs python (py) first
        ("bob", "excel", 2),
        ("bob", "viz2", 35),  # next: the expensive tableau course
        ("bob", "excel", 36),  # enrolled again: not a next course
        ("cat", "py", 50),  # nothing before the cut: cold, left out
        ("dan", "sql", 3),
        ("dan", "unknown", 45),  # not in the catalog: ignored
        ("eve", "py", 4),
        ("eve", "sql", 5),
        ("eve", "sql2", 41),  # teaches only what eve knows: an empty path
    ]
)


def test_cases_split_each_learner_at_the_cut():
    found = {c.learner: c for c in cases(CATALOG, ENROLMENTS, CUT)}
    assert sorted(found) == ["ann", "bob", "eve"]  # cat is cold, dan has no catalog course next
    assert found["ann"].done == {"sql"} and found["ann"].known == {"sql"}
    assert found["ann"].next == {"stats"} and found["ann"].goal == {"statistics"}
    assert found["bob"].next == {"viz2"}  # the repeated excel is not next
    stated = cases(CATALOG, ENROLMENTS, CUT, goals={"ann": frozenset({"tableau"})},
                   stated={"ann": frozenset({"python"})})  # fmt: skip
    (only,) = stated  # learners without a stated goal are left out
    assert only.goal == {"tableau"} and only.known == {"sql", "python"}


def test_cut_time_leaves_the_share_after_it():
    cut = cut_time(ENROLMENTS, 0.25)
    after = ENROLMENTS.filter(pl.col("at") >= cut).height
    assert after == 3 and ENROLMENTS.filter(pl.col("at") < cut).height == 8


def test_scores_are_means_over_learners():
    got = scores({"a": ["x", "y"], "b": ["z"], "c": []}, {"a": {"y", "w"}, "b": {"q"}, "c": {"q"}})
    assert got == pytest.approx({"hit_rate": 1 / 3, "recall": 0.5 / 3, "precision": 0.5 / 3})


def test_lists_are_compared_at_each_learners_path_length():
    asked = []

    def recommend(learners, n):
        asked.append((learners, n))
        # a recommender that knows nothing of goals: the same long list for everyone
        return {x: ["excel", "viz", "stats", "py", "sql"] for x in learners}

    found = cases(CATALOG, ENROLMENTS, CUT)
    popularity = Counter(ENROLMENTS.filter(pl.col("at") < CUT)["course_id"].to_list())
    report = next_courses(CATALOG, found, recommend, popularity, CUT.date())
    assert report["learners"] == 2 and report["empty_paths"] == 1  # eve's goal is known
    # ann: python then statistics (2 courses); bob: the cheaper tableau course (1)
    assert asked == [(["ann", "bob"], 2)] and report["mean_k"] == 1.5
    path, recs = report["results"]["path"], report["results"]["recommender"]
    assert path == pytest.approx({"hit_rate": 0.5, "recall": 0.5, "precision": 0.25})
    # the recommender's lists were cut to 2 (ann: excel, viz) and 1 (bob: excel): no hit
    assert recs == {"hit_rate": 0.0, "recall": 0.0, "precision": 0.0}


def test_the_goal_baseline_ranks_gap_courses_by_skills_then_popularity():
    case = Case("x", frozenset({"excel"}), frozenset({"excel"}), frozenset(),
                frozenset({"sql", "excel", "tableau"}))  # fmt: skip
    popular = Counter({"viz2": 5, "viz": 1, "sql": 3})
    ranked = goal_baseline(CATALOG, case, 4, popular)
    assert "excel" not in ranked  # taken
    assert ranked == ["viz2", "sql", "viz", "mix"]  # one gap skill each (excel is known)
    assert goal_baseline(CATALOG, case, 2, popular) == ["viz2", "sql"]


@pytest.mark.parametrize(
    ("rows", "median"),
    [
        ([(1, True), (2, True), (3, False), (4, True)], 2),
        ([(1, False), (2, True), (3, True), (4, True)], 3),  # the censored one leaves the risk set
        ([(5, False), (5, False)], None),
        ([(2, True), (2, False), (9, False)], None),  # 1/3 reached: survival 2/3 > 0.5
    ],
)
def test_km_median_handles_censoring(rows, median):
    assert km_median(rows) == median


def test_time_to_goal_groups_learners_by_what_they_took_after_the_cut():
    goal = frozenset({"python", "statistics"})
    found = [
        Case(x, frozenset(), frozenset({"sql"}), frozenset(), goal)
        for x in ("follows", "strays", "mixes", "idle", "slow")
    ]
    enrolments = frame(
        [
            ("follows", "py", 32), ("follows", "stats", 40),
            ("strays", "viz", 33),
            ("mixes", "py", 33), ("mixes", "viz", 34),
            ("slow", "py", 35),
        ]
    )  # fmt: skip
    completions = frame(
        [("follows", "py", 38), ("follows", "stats", 46), ("strays", "viz", 40),
         ("mixes", "py", 39), ("slow", "py", 50)]
    )  # fmt: skip
    end = CUT + timedelta(days=60)
    untaught = Case("follows", frozenset(), frozenset({"sql"}), frozenset({"py"}), goal | {"cobol"})
    next_courses(CATALOG, [untaught], lambda ls, n: {}, Counter(), CUT.date())  # plans it once
    found[0] = untaught  # a skill no course teaches is not part of the reachable goal
    got = time_to_goal(CATALOG, found, enrolments, completions, CUT, end)
    assert got["followed"]["learners"] == 2  # follows, slow (idle enrolled in nothing)
    assert got["followed"]["reached"] == 0.5
    assert got["followed"]["median_days"] == pytest.approx((46 - 31) * 1.0)
    # follows covered both gap skills, slow one of two: in 60 days, 3 skills for 2 learners
    assert got["followed"]["covered_share"] == 0.75
    assert got["followed"]["skills_per_30_days"] == pytest.approx(0.75)
    assert got["not"] == {
        "learners": 1, "reached": 0.0, "median_days": None, "mean_gap_skills": 2.0,
        "covered_share": 0.0, "skills_per_30_days": 0.0, "completed": 1.0,
        "skills_per_completion": 0.0,
    }  # fmt: skip
    assert got["followed"]["skills_per_completion"] == 1.0  # 3 skills from 3 path courses
    assert got["partly"]["learners"] == 1 and got["partly"]["reached"] == 0.0


def test_evaluate_fits_the_recommender_at_the_cut_it_scores_after():
    seen = []

    def recommender_at(cut):
        seen.append(cut)
        return lambda learners, n: {x: ["py", "stats", "viz"][:n] for x in learners}

    history = History(
        catalog=CATALOG,
        enrolments=ENROLMENTS,
        completions=frame([("ann", "sql", 10)]),
        goals={"ann": frozenset({"statistics"}), "bob": frozenset({"tableau"})},
        stated={},
    )
    report = evaluate(history, recommender_at, test_share=0.5)
    (cut,) = seen
    assert cut == cut_time(ENROLMENTS, 0.5) == T0 + timedelta(days=35) and report["cut"] == str(cut)
    assert set(report["next_courses"]) == {"later_skills", "stated_role"}
    stated = report["next_courses"]["stated_role"]
    assert stated["learners"] == 2  # ann and bob stated a role; both have a path
    # ann's path (py, stats) holds her next course; so does the recommender's list of 2
    assert stated["results"]["recommender"]["hit_rate"] == 0.5
    assert set(report["time_to_goal"]) == {"window_days", "followed", "partly", "not"}


def test_start_date_does_not_change_which_courses_a_path_holds():
    found = cases(CATALOG, ENROLMENTS, CUT)
    a = next_courses(CATALOG, found, lambda ls, n: {}, Counter(), date(2026, 2, 1))
    b = next_courses(CATALOG, found, lambda ls, n: {}, Counter(), date(2030, 1, 1))
    assert a["results"]["path"] == b["results"]["path"]
