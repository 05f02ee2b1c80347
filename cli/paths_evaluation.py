"""`pathwise evaluate paths`: the learning-path evaluation (agents/paths/evaluate.py) with the
recommender's top-k beside it. Here because it joins two layers: the agent layer never imports
the models, so the recommender comes in as a function.

The recommender is the one the nightly run serves (ml.recommender: the blend under its rules),
fitted on the interactions before the cut only, with the versioned default configuration
(tuning would take minutes; `pathwise evaluate recs` measures what tuning adds). On the simulator,
time to goal comes from a randomized simulated run of its own (agents/paths/time_to_goal.py):
the warehouse's days after the cut are too few to reach a role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np

from agents.paths import time_to_goal
from agents.paths.evaluate import Recommend, evaluate, load_history
from ml.recommender import Hybrid, RecData, load_data, rank
from ml.recommender.tuning import default_config
from pathwise.results import record_evaluation
from pathwise.settings import get_settings
from pathwise.warehouse import connect

BATCH = 2000  # learners scored at once (a learner x course matrix per signal)


def recommender_at(data: RecData) -> Callable[[datetime], Recommend]:
    """For a cut: the served blend fitted on what happened before it, as a `Recommend`."""
    config = default_config()

    def at(cut: datetime) -> Recommend:
        model = Hybrid(data, as_of=cut, algorithm=config.algorithm, params=config.params)

        def recommend(learners: list[str], n: int) -> dict[str, list[str]]:
            known = [x for x in learners if x in model.lidx]
            lists: dict[str, list[str]] = {}
            for i in range(0, len(known), BATCH):
                chunk = known[i : i + BATCH]
                rows = np.array([model.lidx[x] for x in chunk], dtype=np.int64)
                top = rank(model, rows, n, config.weights, rules=config.rules)[0]
                for learner, cols in zip(chunk, top, strict=True):
                    lists[learner] = [model.course_ids[c] for c in cols if c >= 0]
            return lists

        return recommend

    return at


def run(
    dataset: str,
    test_share: float,
    record: bool = True,
    goal_learners: int = 400,
    goal_days: int = 730,
    goal_seed: int = 7,
) -> dict:
    """Evaluate on one dataset of the warehouse; on the simulator, also time to goal on a
    simulated run of its own (`goal_learners` over `goal_days`, `goal_seed`; 0 learners:
    skipped). Store the figures in ml.evaluations."""
    with connect(read_only=True) as con:
        history = load_history(con, dataset, get_settings().k_anonymity)
        data = load_data(con, dataset)
    report = evaluate(history, recommender_at(data), test_share)
    if dataset == "simulator" and goal_learners:
        report["simulated_time_to_goal"] = time_to_goal.run(
            learners=goal_learners, days=goal_days, seed=goal_seed
        )
    if record:
        with connect() as con:
            report["evaluation_id"] = record_evaluation(
                con,
                kind="paths",
                dataset=dataset,
                model_version="planner+hybrid-default",
                rows=rows_for_evaluations(report),
                params={
                    k: v
                    for k, v in report.items()
                    if k not in ("next_courses", "simulated_time_to_goal")
                },
            )
    return report


def rows_for_evaluations(report: dict) -> list[dict]:
    rows = []
    for goal, r in report["next_courses"].items():
        for method, figures in r["results"].items():
            for metric, value in figures.items():
                rows.append(
                    {"method": f"{goal}:{method}", "metric": metric, "k": None, "value": value}
                )
    for group, s in report.get("time_to_goal", {}).items():
        for metric in ("reached", "median_days", "covered_share", "skills_per_30_days"):
            if isinstance(s, dict) and s.get(metric) is not None:
                rows.append(
                    {
                        "method": f"time_to_goal:{group}",
                        "metric": metric,
                        "k": None,
                        "value": s[metric],
                    }
                )
    simulated = report.get("simulated_time_to_goal", {})
    for milestone, arms in simulated.get("milestones", {}).items():
        for arm in time_to_goal.ARMS:
            s = arms[arm]
            figures = {
                "reached": s["reached"],
                "censored_share": s["censored_share"],
                "median_days": s["median_days"],
                "median_days_ci_low": s["median_days_ci"][0],
                "median_days_ci_high": s["median_days_ci"][1],
            }
            for metric, value in figures.items():
                if value is not None:
                    rows.append(
                        {
                            "method": f"simulated_time_to_goal:{milestone}:{arm}",
                            "metric": metric,
                            "k": None,
                            "value": value,
                        }
                    )
    return rows
