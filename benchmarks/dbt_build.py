"""dbt build time on simulated platforms of about 1M and 10M events: full, then incremental.

For each size: ingest every day but the last, run a full `dbt build` (models, seeds and all
tests) through the build flow; then ingest the last day and run the nightly incremental build.

Then the busy day (`--day-events`, default 10M): on top of the 10M-event, 30-day history, one
new day of 10M events, the nightly incremental build over it timed against a full rebuild of
the same warehouse. That day comes from a second, independent cohort of learners on the same
catalog (simulator seed 12), its 30 days of activity compressed into one UTC day.
Target: the incremental nightly build over a new 10M-event day in <= 2 minutes on 2 cores.

    python -m benchmarks.dbt_build --sizes 1000000 10000000 --day-events 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from pathwise.settings import get_settings

TARGET_INCREMENTAL_S = 120


def run_size(events: int, work: Path) -> dict:
    from flows.build import build_flow
    from pathwise.ingestion import ingest_file
    from pathwise.sources.simulator import simulate

    sim = work / f"sim-{events}-parquet"
    if not (sim / "events").exists():  # shared with benchmarks.ingest's cache
        simulate(learners=max(1000, events // 110), courses=200, days=30, seed=11, out=sim,
                 fmt="parquet", start="2026-01-05", bad_share=0.01)  # fmt: skip
    home = work / f"dbt-home-{events}"
    shutil.rmtree(home, ignore_errors=True)
    os.environ["PATHWISE_HOME"] = str(home)
    get_settings.cache_clear()
    days = sorted((sim / "events").iterdir())
    from flows.ingest import discover
    from pathwise.catalog import load_catalog_file
    from pathwise.warehouse import connect

    catalogs, _ = discover([str(sim)])
    with connect() as con:
        for path in catalogs:
            load_catalog_file(con, path)
    history = sum(ingest_file(d).received for d in days[:-1])
    t0 = time.perf_counter()
    full = build_flow(full_refresh=True)
    full_s = time.perf_counter() - t0
    new_day = ingest_file(days[-1]).received
    t0 = time.perf_counter()
    incremental = build_flow()
    incremental_s = time.perf_counter() - t0
    return {
        "events_history": history,
        "events_new_day": new_day,
        "full_build_s": round(full_s, 1),
        "incremental_build_s": round(incremental_s, 1),
        "full_summary": full.get("summary"),
        "incremental_summary": incremental.get("summary"),
    }


def busy_day_file(events: int, work: Path, day: str) -> Path:
    """One Parquet file of about `events` events, all on `day` (see the module docstring)."""
    from pathwise.sources.simulator import simulate

    out = work / f"busy-day-{events}" / f"events-{day}.parquet"
    if out.exists():
        return out
    sim = work / f"sim-{events}-parquet-cohort2"
    if not (sim / "events").exists():
        simulate(learners=max(1000, events // 110), courses=200, days=30, seed=12, catalog_seed=11,
                 out=sim, fmt="parquet", start="2026-01-05", bad_share=0.01)  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    # Offsets from the cohort's first midnight, divided by 30, from `day`'s midnight (UTC); the
    # malformed timestamps the simulator injects stay as they are, to be quarantined.
    duckdb.sql(f"""
        copy (
            select * replace (coalesce(strftime(make_timestamp(
                epoch_us(timestamptz '{day} 00:00:00+00')
                + (epoch_us(try_cast(occurred_at as timestamptz))
                   - epoch_us(timestamptz '2026-01-05 00:00:00+00')) // 30
            ), '%Y-%m-%dT%H:%M:%S.%gZ'), occurred_at) as occurred_at)
            from read_parquet('{sim}/events/*.parquet')
        ) to '{out}' (format parquet, compression zstd)
    """)
    return out


def run_busy_day(events: int, work: Path) -> dict:
    """The 10M-event history, then one new day of `events` events: incremental vs full."""
    from flows.build import build_flow
    from pathwise.ingestion import ingest_file

    day_file = busy_day_file(events, work, "2026-02-04")  # the history ends on 2026-02-03
    run_size(10_000_000, work)  # history ingested and built, plus its own last day
    new_day = ingest_file(day_file).received
    t0 = time.perf_counter()
    incremental = build_flow()
    incremental_s = time.perf_counter() - t0
    # Kept for a look at where the time went (per model and test).
    shutil.copy(incremental["run_results"], work / "busy-day-incremental-run_results.json")
    t0 = time.perf_counter()
    build_flow(full_refresh=True)
    full_s = time.perf_counter() - t0
    return {
        "events_new_day": new_day,
        "incremental_build_s": round(incremental_s, 1),
        "full_build_s": round(full_s, 1),
        "incremental_summary": incremental.get("summary"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    ap.add_argument("--day-events", type=int, default=10_000_000,
                    help="events in the busy new day on top of the 10M history (0: skip)")  # fmt: skip
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pathwise-bench")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for events in args.sizes:
        r = {"events": events, **run_size(events, args.work)}
        rows.append(r)
        print(
            f"{r['events_history']:>11,} events: full build {r['full_build_s']:6.1f}s; "
            f"+ new day of {r['events_new_day']:,} events: incremental {r['incremental_build_s']:6.1f}s "
            f"(target <= {TARGET_INCREMENTAL_S}s)",
            flush=True,
        )
    if args.day_events:
        r = {"busy_day": True, **run_busy_day(args.day_events, args.work)}
        rows.append(r)
        print(
            f"+ a busy day of {r['events_new_day']:,} events on the 10M history: incremental "
            f"{r['incremental_build_s']:6.1f}s (target <= {TARGET_INCREMENTAL_S}s); "
            f"full rebuild of the same warehouse {r['full_build_s']:6.1f}s",
            flush=True,
        )
    (args.work / "dbt-build-results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
