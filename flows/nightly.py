"""The nightly flow: ingest -> retention -> dbt build -> index content -> train and score -> drift
-> course benchmarks -> uplift -> publish -> agents.

Each step writes the warehouse; only the last one touches what the apps and the read API serve, by
publishing a new snapshot with one atomic switch. So a step that fails (after its retries) leaves the
previous snapshot serving, and the flow says which step failed and why. The agents act last, on
what was just published (a failing agent leaves the new snapshot serving); the uplift of what they
did before is measured against their holdouts just before publishing, so the snapshot serves it.
`now` (default: the clock) is when the agents decide and deliver: the demo runs the night of its
simulated platform (flows/demo.py). Re-running is safe: ingest
skips loaded files, dbt and the ML jobs rebuild their tables whole, and each publish is a new version.

Retention (pathwise/rights/retention.py) purges what is older than PATHWISE_RETENTION_MONTHS from
every store right after ingest; when raw rows went, the build refreshes the incremental models
fully, so no mart keeps aggregates of purged events; after publishing, the superseded snapshots
built from purged rows go too. The run summary has what went per store (`retention`).

    pathwise nightly                        # run once now
    pathwise nightly --serve                # a Prefect deployment on the nightly schedule
"""

from __future__ import annotations

import time
from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.build import build_flow
from flows.ingest import ingest_flow
from pathwise import snapshots
from pathwise.controls import ControlStore
from pathwise.settings import get_settings
from pathwise.warehouse import connect

SCHEDULE = "0 2 * * *"  # 02:00 UTC every night


class NightlyStepFailed(RuntimeError):
    """A step of the nightly run failed; the previous snapshot keeps serving."""


@task(cache_policy=NO_CACHE)
def load_served_log() -> dict:
    """Load the read API's closed recommendation-log files into the warehouse."""
    from pathwise.served_log import load_closed_files

    with connect() as con:
        return load_closed_files(con)


@task(retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def purge_expired(stores: list[str] | None = None) -> dict:
    """Purge what is older than the retention period from every store (or the ones named)."""
    from pathwise.rights.retention import purge

    report = purge(stores=stores)
    return {
        "cutoff": report.cutoff.date().isoformat() if report.cutoff else "off",
        "deleted": report.deleted,
        "seconds": report.seconds,
        "purge_id": report.purge_id,
    }


@task(retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def detect_learning_styles() -> dict:
    """Learning style per learner from consented fine-grained signals."""
    from ml.styles import detect_and_write

    with connect() as con:
        return detect_and_write(con)


@task(retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def score_dropout_risk() -> dict:
    """Train the drop-out model on as-of features and score the open enrolments."""
    from ml.dropout import train_and_score

    with connect() as con:
        return train_and_score(con)


@task(retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def recommend() -> dict:
    """Choose the configuration (tuned per dataset), train the hybrid recommender and write every
    learner's ranked, explained candidates."""
    from ml.recommender import train_and_recommend

    in_force = ControlStore().in_force()  # the admins' boosts, suppressions and weights
    with connect() as con:
        return train_and_recommend(con, in_force=in_force)


@task(cache_policy=NO_CACHE)
def load_accepted_metadata() -> dict:
    """Copy the course metadata accepted in the review queue into the warehouse, for the build."""
    from pathwise.metadata_queue import load_accepted

    with connect() as con:
        return load_accepted(con)


@task(cache_policy=NO_CACHE)
def load_qa_outcomes() -> dict:
    """Move the logged course Q&A outcomes into the warehouse, for the build."""
    from pathwise.qa_outcomes import load_outcomes

    with connect() as con:
        return load_outcomes(con)


@task(retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def benchmark_courses() -> dict:
    """Each course beside its 10 most similar courses (agents/metadata/benchmark.py)."""
    from agents.metadata.benchmark import compute_and_write

    with connect() as con:
        return compute_and_write(con)


@task(cache_policy=NO_CACHE)
def check_drift() -> dict:
    """Tonight's scores, features and KPIs against the published snapshot and the KPI baseline,
    and the latest figures per segment against the fairness threshold."""
    from ml import fairness
    from ml.drift import check

    with connect() as con:
        return {**check(con), "fairness": fairness.check(con)}


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def publish() -> dict:
    """Copy marts and ML results into a new snapshot and switch serving to it atomically."""
    snap = publish_snapshot()
    return {"version": snap.version, "tables": snap.tables}


def publish_snapshot() -> snapshots.Snapshot:
    """Write the model cards of the models in service, then publish (`pathwise publish` too)."""
    from ml import model_cards

    with connect() as con:
        model_cards.write(con)
    with connect(read_only=True) as con:
        return snapshots.publish(con)


@task(cache_policy=NO_CACHE)
def index_content() -> dict:
    """(Re-)index course content for Q&A; only changed documents are embedded again."""
    from flows.index_content import index_content_flow

    return index_content_flow()


@task(cache_policy=NO_CACHE)
def run_agents(now: datetime | None = None) -> dict:
    """The agents decide tonight's nudges within the guardrails and deliver what is due."""
    from agents.run import run_agents as run

    return run(now=now)


@task(retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def measure_uplift() -> dict:
    """Every agent's uplift against its holdout, from the outbox's assignments (agents.uplift)."""
    from agents.uplift import run_nightly

    return run_nightly()


STEPS = (
    "ingest",
    "retention",
    "build",
    "index",
    "styles",
    "dropout",
    "recommend",
    "drift",
    "benchmarks",
    "uplift",
    "publish",
    "agents",
)


@flow(name="nightly")
def nightly_flow(
    landing: list[str] | None = None,
    skip: list[str] | None = None,
    full_refresh: bool = False,
    now: datetime | None = None,
) -> dict:
    """Run every nightly step in order; stop at the first failure, leaving serving untouched.

    `skip` names steps to leave out this time (e.g. `index` when the content has not changed).
    `full_refresh` rebuilds the incremental models fully (as after a purge of raw rows).
    """
    log = get_run_logger()
    s = get_settings()
    # Each folder under landing/ is one source (catalog/ + events/), as `make demo` lays it out.
    if landing is None:
        root = s.landing_dir
        landing = sorted(str(p) for p in root.iterdir() if p.is_dir()) if root.exists() else []
    steps = {
        "ingest": lambda: {
            "events": ingest_flow(paths=landing) if landing else "no landing folders",
            "served_log": load_served_log(),
            "accepted_metadata": load_accepted_metadata(),
            "qa_outcomes": load_qa_outcomes(),
        },
        "retention": purge_expired,
        # A purge of raw rows: incremental models would keep aggregates of purged events.
        "build": lambda: build_flow(
            full_refresh=full_refresh or bool(purged.get("deleted", {}).get("warehouse"))
        ),
        "index": index_content,
        "styles": detect_learning_styles,
        "dropout": score_dropout_risk,
        "recommend": recommend,
        "drift": check_drift,
        "benchmarks": benchmark_courses,
        "uplift": measure_uplift,
        # The version just superseded was built before the purge: the snapshots' purge again.
        "publish": lambda: {**publish(), "retention": purge_expired(["snapshots"])},
        "agents": lambda: run_agents(now),
    }
    unknown = set(skip or ()) - set(STEPS) | ({"publish"} & set(skip or ()))
    if unknown:
        skippable = [n for n in STEPS if n != "publish"]
        raise ValueError(f"cannot skip {sorted(unknown)}; steps that can be skipped: {skippable}")
    results: dict = {"steps": {}, "skipped": list(skip or ())}
    purged: dict = {}
    for name in (n for n in STEPS if n not in (skip or ())):
        started = time.perf_counter()
        try:
            results["steps"][name] = steps[name]()
            if name == "retention":
                purged = results["steps"][name]
        except Exception as exc:
            serving = snapshots.current()
            message = f"nightly step '{name}' failed: {exc}. " + (
                f"Still serving snapshot {serving.version}."
                if serving
                else "No snapshot has been published yet."
            )
            log.error(message)
            raise NightlyStepFailed(message) from exc
        log.info("step %s done in %.1fs", name, time.perf_counter() - started)
        results.setdefault("seconds", {})[name] = round(time.perf_counter() - started, 1)
    results["snapshot"] = results["steps"]["publish"]["version"]
    # What went per store tonight: the retention step's and the publish step's snapshots.
    results["retention"] = dict(purged.get("deleted", {}))
    for store, n in results["steps"]["publish"]["retention"]["deleted"].items():
        results["retention"][store] = results["retention"].get(store, 0) + n
    return results


def deployment():
    """The nightly deployment: this flow on its cron schedule (UTC)."""
    from prefect.schedules import Cron

    return nightly_flow.to_deployment(
        name="pathwise-nightly", schedule=Cron(SCHEDULE, timezone="UTC")
    )


def serve_nightly() -> None:
    """Register the nightly deployment and run its scheduled runs from this process."""
    from prefect import serve

    serve(deployment())


if __name__ == "__main__":
    nightly_flow()
