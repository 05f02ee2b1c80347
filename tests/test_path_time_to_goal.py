"""Time to goal on the simulator: the simulator's `offer` hook, the path's open steps, the
milestone days, and a short randomized run of agents/paths/time_to_goal.py (the README's figures come from the long one)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from agents.paths import time_to_goal
from agents.paths.planner import Catalog, Course, Goal, plan
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


def test_without_an_offer_or_with_nothing_offered_the_simulator_draws_the_same_days():
    a, b = small_platform(), small_platform()
    b.offer = lambda p, us: np.zeros((len(us), len(p.cat.difficulty)), dtype=bool)
    assert enrolments(a, 30) == enrolments(b, 30)


def offered(courses: list[int], to):
    """An offer of `courses` to the learners `to(us)` selects."""

    def offer(p, us):
        mask = np.zeros((len(us), len(p.cat.difficulty)), dtype=bool)
        mask[np.ix_(np.flatnonzero(to(us)), courses)] = True
        return mask

    return offer


def test_an_offered_course_is_started_on_the_draw_that_decides_the_others():
    platform = small_platform()
    platform.day(0)  # the day's random stream and event buffer
    s = np.array([0, 1, 2, 3])
    platform.course[s] = -1
    platform.course[3] = 5  # enrolled: nothing is started
    u = np.full((4, platform.completed.shape[1]), -1.0)
    u[:, 2], u[:, 4] = 3.0, -30.0  # 2 appeals (enrolment chance 0.98), 4 does not
    platform.offer = offered([2, 4], lambda us: us != 1)  # learner 1 is offered nothing
    draw = np.array([0.5, 0.5, 0.995, 0.5])
    took = platform.take_offer(s, u, np.zeros_like(u), draw)
    # The one they like best, when the draw is under its chance (0.995 is not: learner 2 does
    # what they would have done).
    assert took.tolist() == [True, False, False, False]
    assert platform.course[s].tolist() == [2, -1, -1, 5]
    assert platform.tried[0, 2] and not platform.tried[[1, 2], 2].any()


def test_learners_start_an_offered_course_or_what_they_would_have_started():
    # Even learners are offered course 0, however they come to pick a course: they start it at
    # most once (a course tried is not offered again) and, when they do not want it, still
    # start other courses (not only after trying it).
    platform = small_platform()
    platform.offer = offered([0], lambda us: us % 2 == 0)
    found = enrolments(platform, 30)
    even = [(u, c) for u, c in found if u % 2 == 0]
    zero = [u for u, c in even if c == 0]
    assert zero and len(zero) == len(set(zero))
    first = {}
    for u, c in even:
        first.setdefault(u, c)
    assert 0 in first.values() and set(first.values()) - {0}
    # The others never see it; some of them pick it themselves or not, as before.
    assert {c for u, c in found if u % 2 == 1} - {0}


def catalog() -> tuple[Catalog, dict[str, int]]:
    courses = [
        Course("a", "A", frozenset({"x", "y"}), 1.0),
        Course("b", "B", frozenset({"y", "z"}), 1.0),
        Course("c", "C", frozenset({"w"}), 1.0),
    ]
    return Catalog(courses), {"a": 0, "b": 1, "c": 2}


def test_the_steps_open_now_are_those_whose_prerequisites_are_done():
    courses = [
        Course("a", "A", frozenset({"x"}), 1.0),
        Course("b", "B", frozenset({"y"}), 1.0, prerequisites=("a",)),
        Course("c", "C", frozenset({"z"}), 1.0),
        Course("d", "D", frozenset({"w"}), 1.0, prerequisites=("b", "c")),
    ]
    cat = Catalog(courses)
    goal = Goal("R", frozenset("xyzw"), 5.0, dt.date(2026, 1, 5))
    assert time_to_goal.frontier(cat, plan(cat, goal), set()) == ["a", "c"]
    assert time_to_goal.frontier(cat, plan(cat, goal, done={"a"}), {"a"}) == ["b", "c"]
    assert time_to_goal.frontier(cat, plan(cat, goal, done={"a", "b"}), {"a", "b"}) == ["c"]
    assert time_to_goal.frontier(cat, plan(cat, goal, done="abc"), {"a", "b", "c"}) == ["d"]


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
