"""What encryption at rest costs: each store, plain against encrypted, in the same run.

- snapshot: publish (COPY of every table to Parquet) and the API's load of it (recommendations
  joined with titles, into polars), from a warehouse of `--learners` learners x 20 recommendations;
- recommendation log: `--responses` responses appended in batches of 50 (as the API's writer
  does), then loaded into the warehouse by the nightly step;
- SQLite stores: `--ops` reads of the controls in force and of one account, each opening a
  connection (as the stores do), plain SQLite against SQLCipher.
Median of `--repeat` runs, plain and encrypted alternating. The key is a fixed test key; nothing reaches the network.

    python -m benchmarks.at_rest --learners 100000 --responses 100000 --ops 500 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pathwise.settings import get_settings

KEY = "benchmark-warehouse-key-0123456789abcdef"


def _home(root: Path, name: str, encrypted: bool) -> Path:
    home = root / name / ("encrypted" if encrypted else "plain")
    os.environ["PATHWISE_HOME"] = str(home)
    os.environ["PATHWISE_WAREHOUSE_KEY"] = KEY if encrypted else ""
    get_settings.cache_clear()
    return home


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def snapshot(root: Path, encrypted: bool, learners: int, repeat: int) -> dict:
    from apps.api import ServingSnapshot
    from pathwise import snapshots
    from pathwise.warehouse import connect

    _home(root, "snapshot", encrypted)
    with connect() as con:
        con.execute("create schema if not exists warehouse.marts; create schema warehouse.ml")
        con.execute(
            "create table warehouse.marts.courses as select 'c' || i as course_id, "
            "'Course title ' || i as course_title from range(2000) t(i)"
        )
        con.execute(
            f"""create table warehouse.ml.recommendations as
            select md5(l::varchar) as learner_key, r + 1 as rank, 'c' || ((l * 7 + r) % 2000)
                   as course_id, random() as score, 0.0 as boost, 'm1' as model_version,
                   'because you finished Course title ' || (l % 2000) as reason,
                   'video' as format_first, random() as contrib_als, random() as contrib_skills
            from range({learners}) a(l), range(20) b(r)"""
        )
    with connect(read_only=True) as con:
        publish = _median(lambda: snapshots.publish(con, keep=2), repeat)
    snap = snapshots.require_current()
    size = sum(p.stat().st_size for p in snap.path.glob("*.parquet"))
    load = _median(lambda: ServingSnapshot.load(snap), repeat)
    return {"publish_s": round(publish, 3), "api_load_s": round(load, 3), "bytes": size}


def rec_log(root: Path, encrypted: bool, responses: int, repeat: int) -> dict:
    from pathwise import served_log
    from pathwise.at_rest import private_dir
    from pathwise.warehouse import connect

    item = {"course_id": "c1", "rank": 1, "score": 0.5, "boost": 0.0, "reason": "because " * 8,
            "format_first": "video"}  # fmt: skip

    def write_and_load() -> None:
        home = _home(root, f"log-{time.perf_counter_ns()}", encrypted)
        folder = private_dir(home / "rec_log")
        path = folder / "served-2026-01-05-10.ndjson"
        lines = [
            json.dumps({
                "response_id": f"r{i}", "served_at": "2026-01-05T10:00:00Z",
                "learner_key": f"{i:032x}", "surface": "home", "cold_start": False,
                "snapshot_version": "v1", "model_version": "m1", "controls_applied": [],
                "items": [{**item, "rec_id": f"r{i}-{k}", "rank": k} for k in range(1, 11)],
            }).encode()
            for i in range(responses)
        ]  # fmt: skip
        started = time.perf_counter()
        for at in range(0, responses, 50):
            served_log.append(path, lines[at : at + 50])
        timings["write"].append(time.perf_counter() - started)
        with connect() as con:
            started = time.perf_counter()
            served_log.load_closed_files(
                con, datetime(2026, 1, 5, 10, tzinfo=UTC) + timedelta(hours=1)
            )
            timings["load"].append(time.perf_counter() - started)
        timings["bytes"].append(path.stat().st_size)

    timings: dict[str, list[float]] = {"write": [], "load": [], "bytes": []}
    for _ in range(repeat):
        write_and_load()
    return {
        "write_s": round(statistics.median(timings["write"]), 3),
        "load_s": round(statistics.median(timings["load"]), 3),
        "bytes": int(statistics.median(timings["bytes"])),
    }


def sqlite_stores(root: Path, encrypted: bool, ops: int, repeat: int) -> dict:
    from pathwise.accounts import UserStore
    from pathwise.controls import ControlStore

    _home(root, "stores", encrypted)
    controls, users = ControlStore(), UserStore()
    for i in range(20):
        controls.boost(f"c{i}", amount=0.1, reason="campaign", actor="ada")
    users.add("ada", "a-long-benchmark-password", "admin")

    def reads() -> None:
        for _ in range(ops):
            controls.in_force()
            users.get("ada")

    return {f"{ops}_reads_s": round(_median(reads, repeat), 3)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    saved = {k: os.environ.get(k) for k in ("PATHWISE_HOME", "PATHWISE_WAREHOUSE_KEY")}
    runs: dict[str, list[dict]] = {"plain": [], "encrypted": []}
    try:
        # Plain and encrypted alternate, so a busy spell of the machine hits both alike.
        for _ in range(args.repeat):
            for kind in runs:
                with tempfile.TemporaryDirectory(prefix="pathwise-bench-at-rest-") as tmp:
                    root, encrypted = Path(tmp), kind == "encrypted"
                    runs[kind].append({
                        "snapshot": snapshot(root, encrypted, args.learners, 1),
                        "rec_log": rec_log(root, encrypted, args.responses, 1),
                        "sqlite": sqlite_stores(root, encrypted, args.ops, 1),
                    })  # fmt: skip
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        get_settings.cache_clear()
    results = {
        kind: {
            store: {m: statistics.median(r[store][m] for r in rs) for m in rs[0][store]}
            for store in rs[0]
        }
        for kind, rs in runs.items()
    }
    print(json.dumps({"args": vars(args), **results}, indent=2))
    return results


if __name__ == "__main__":
    main()
