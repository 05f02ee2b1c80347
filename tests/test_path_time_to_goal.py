"""Time to goal on the simulator: the simulator's `chooser` hook, the milestone days, and a short
randomized run of agents/paths/time_to_goal.py (the README's figures come from the long one)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from agents.paths import time_to_goal
from agents.paths.planner import Catalog, Course
from pathwise.sources.simulator.run import build_platform


def small_platform(learners: int = 60, days: int = 30):
    return build_platform(
        seed=3,
        catalog_seed=3,
        courses=20,
        learners=learners,
        days=days,
        first_day=dt.date(2026, 1, 5),
        completion_factor=1.0,
        shift_from_day=0,
    )


def enrolments(platform, days: int) -> list[tuple[int, int]]:
    found = []
    for d in range(days):
        events = platform.day(d)
        enrol = events.filter(events["event_type"] == "enroll")
        found += list(zip(enrol["u"].to_list(), enrol["course"].to_list(), strict=True))
    return found


def test_without_a_chooser_the_simulator_draws_the_same_days():
    a, b = small_platform(), small_platform()
    b.chooser = lambda p, us, choice: choice  # a chooser that changes nothing
    assert enrolments(a, 30) == enrolments(b, 30)


def test_a_chooser_decides_what_learners_enrol_in_however_they_find_it():
    # Learners even pick course 0 only, from a recommendation or by themselves: they enrol in
    # it or in nothing, once (a course tried is never picked again).
    platform = small_platform()
    even = lambda p, us, choice: np.where(us % 2 == 0, 0, choice)  # noqa: E731
    platform.chooser = even
    found = enrolments(platform, 30)
    chosen = [c for u, c in found if u % 2 == 0]
    assert chosen and set(chosen) == {0}
    assert len(chosen) == len({u for u, _ in found if u % 2 == 0})
    assert {c for u, c in found if u % 2 == 1} - {0}  # the others choose as before


def catalog() -> tuple[Catalog, dict[str, int]]:
    courses = [
        Course("a", "A", frozenset({"x", "y"}), 1.0),
        Course("b", "B", frozenset({"y", "z"}), 1.0),
        Course("c", "C", frozenset({"w"}), 1.0),
    ]
    return Catalog(courses), {"a": 0, "b": 1, "c": 2}


@pytest.mark.parametrize(
    ("first_done", "share", "day"),
    [
        ([5, 9, -1], 1.0, 9),  # x, y on day 5, z on day 9
        ([5, 9, -1], 0.5, 5),  # 2 of 3 skills on day 5
        ([-1, 9, -1], 1.0, None),  # x is never covered
        ([-1, 9, -1], 0.5, 9),  # y and z on day 9
        ([7, 3, -1], 1.0, 7),  # b first (y, z on day 3), a on day 7 adds x
    ],
)
def test_a_milestone_is_reached_when_completed_courses_teach_its_share(first_done, share, day):
    cat, index = catalog()
    gap = frozenset({"x", "y", "z"})
    assert time_to_goal.reached_day(cat, index, gap, np.array(first_done), share) == day


@pytest.mark.slow
def test_a_short_randomized_run_splits_learners_and_followers_keep_to_their_path():
    report = time_to_goal.run(learners=80, days=150, seed=5)
    arms = report["milestones"]["half"]
    assert report["eligible"] == arms["follow"]["learners"] + arms["own"]["learners"]
    assert abs(arms["follow"]["learners"] - arms["own"]["learners"]) <= 1  # half at random
    # Followers' completed courses are steps of the path planned at sign-up far more often.
    assert report["path_share"]["follow"] > report["path_share"]["own"] + 0.15
    for milestone in ("goal", "half"):
        for arm in time_to_goal.ARMS:
            s = report["milestones"][milestone][arm]
            if s["reached"] == 0:
                assert s["median_days"] is None and s["censored_share"] == 1
            low, high = s["median_days_ci"]
            if s["median_days"] is not None and high is not None:
                assert low <= s["median_days"] <= high
    # The goal is the whole gap: never reached before half of it.
    goal, half = report["milestones"]["goal"], arms
    for arm in time_to_goal.ARMS:
        assert goal[arm]["reached"] <= half[arm]["reached"]
    assert "KM median days" in time_to_goal.render(report)
