"""The learning-path agent as served, on the published snapshot of PATHWISE_HOME (`make demo`):
onboarding turns through the path store (`agents/paths/serving.py`: the dialogue, the first plan
when it ends, every turn written to learning_paths.sqlite), then the nightly re-plan of every
path made (`agents/paths/nightly.py`) on the warehouse's marts. Target: a turn <= 300 ms p95.

Each simulated learner is a real one of the snapshot (their completed courses pre-fill what they
know) and answers with one of a few scripted conversations; the store is a temporary copy, so the
home's own is not touched.

    python -m benchmarks.path_serving --learners 100
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.paths.nightly import run as replan_all
from agents.paths.serving import Served
from pathwise import snapshots
from pathwise.learning_paths import PathStore
from pathwise.warehouse import connect

TARGET_MS = 300
STEPS = ("goal", "skills", "hours", "target", "format")
SCRIPTS = [  # the answer at each step; "1" picks the first occupation offered when unsure
    ("I want to become a data scientist", "yes", "5 hours", "by June", "video"),
    ("web developer", "HTML and JavaScript", "8", "in 6 months", "hands-on"),
    ("I'd like to work as an accountant", "nothing yet", "3 hours a week", "no rush", "reading"),
    ("database administrator", "SQL", "10 hours", "30 June 2027", "yes"),
]


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[-1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=100)
    args = parser.parse_args(argv)
    snap = snapshots.require_current()
    with snap.connect() as con:
        learners = [
            r[0]
            for r in con.execute(
                "select learner_key from learners order by learner_key limit ?", [args.learners]
            ).fetchall()
        ]
    with tempfile.TemporaryDirectory() as tmp:
        store = PathStore(Path(tmp) / "learning_paths.sqlite")
        served = Served(store)
        started = time.perf_counter()
        served.turn(snap, "0" * 32, None)  # knowledge and catalog, once per process
        print(f"loading the agent and the catalog: {time.perf_counter() - started:.1f} s")
        took, planned = [], 0
        for i, learner_key in enumerate(learners):
            answers = {"role": "1", **dict(zip(STEPS, SCRIPTS[i % len(SCRIPTS)], strict=True))}
            text: str | None = None
            for _ in range(12):  # a script that is not understood asks again: stop somewhere
                t = time.perf_counter()
                answer = served.turn(snap, learner_key, text)
                took.append((time.perf_counter() - t) * 1000)
                if answer["done"]:
                    break
                text = answers[answer["step"]]
            planned += bool(answer["path"])
        print(
            f"onboarding turn: p50 {statistics.median(took):.1f} ms, p95 {p95(took):.1f} ms "
            f"(target {TARGET_MS} ms) over {len(took):,} turns; {planned} of {len(learners)} "
            "learners got a path"
        )
        later = datetime.now(UTC) + timedelta(days=30)  # a month on: missed weeks move dates
        with connect() as con:  # the agent also writes the uncovered skills' demand
            t = time.perf_counter()
            summary = replan_all(con, None, str, later, store=store)  # type: ignore[arg-type]
        print(f"nightly re-plan: {summary} in {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
