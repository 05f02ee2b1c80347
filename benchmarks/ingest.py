"""Ingest throughput at 10M events: Parquet and NDJSON.gz, ours vs a bare DuckDB load.

The bare baseline is what DuckDB does with no checks at all, into a fresh database file:
`create table t as select * from read_parquet(...)` (and `read_json` for NDJSON). Ours is the
whole batch: contract checks, pseudonyms, dedup, consent, quarantine, vault, one transaction.
Targets (2 cores): >= 400k events/s from Parquet, >= 150k events/s from NDJSON.gz, and no more
than 3x the bare load's time. The machine is noisy, so each figure is the median of --repeat runs.

    python -m benchmarks.ingest --events 10000000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from pathwise.events_io import suffix_for
from pathwise.ingestion import BatchResult, ingest_file
from pathwise.settings import Settings
from pathwise.sources.simulator import simulate

TARGETS = {"parquet": 400_000, "ndjson": 150_000}
MAX_RATIO = 3.0


def make_input(work: Path, events: int, fmt: str) -> tuple[Path, int]:
    """One file of about `events` simulated events (1% bad input), made once and cached.

    The simulator writes a file per day; they are joined into one file, as the target is about
    one large batch (gzip members concatenate into a valid gzip file).
    """
    out = work / f"sim-{events}-{fmt}"
    if not (out / "events").exists():
        # About 3.7 events per learner-day at these settings.
        simulate(
            learners=max(1000, events // 110),
            courses=200,
            days=30,
            seed=11,
            out=out,
            fmt=fmt,
            start="2026-01-05",
            bad_share=0.01,
        )
    days = sorted((out / "events").iterdir())
    single = work / f"events-{events}{suffix_for(fmt)}"
    if not single.exists():
        if fmt == "parquet":
            duckdb.execute(
                f"copy (select * from read_parquet({[str(d) for d in days]})) "
                f"to '{single}' (format parquet, compression zstd)"
            )
        else:
            with single.open("wb") as dst:
                for day in days:
                    dst.write(day.read_bytes())
    n = count_events(single, fmt)
    return single, n


def count_events(path: Path, fmt: str) -> int:
    """Non-blank lines (NDJSON) or rows (Parquet): what ingestion receives."""
    if fmt == "parquet":
        return duckdb.sql(f"select count(*) from read_parquet('{path}')").fetchall()[0][0]
    return duckdb.sql(
        f"select count(*) from read_csv('{path}', columns = {{'line': 'VARCHAR'}}, header = false, "
        "delim = '\\x1e', quote = '', escape = '', max_line_size = 67108864) "
        "where trim(line) <> ''"
    ).fetchall()[0][0]


def bare_load(path: Path, fmt: str, work: Path) -> float:
    db = work / "bare.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    reader = {
        "parquet": f"read_parquet('{path}')",
        "ndjson": f"read_json('{path}', format = 'newline_delimited', ignore_errors = true)",
        "csv": f"read_csv('{path}')",  # a source file (benchmarks.oulad_clickstream)
    }[fmt]
    t0 = time.perf_counter()
    con.execute(f"create table t as select * from {reader}")
    con.close()  # the checkpoint into the file, as ingestion's own close does
    seconds = time.perf_counter() - t0
    db.unlink()
    return seconds


def ours(path: Path, work: Path) -> BatchResult:
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    result = ingest_file(path, Settings(home=home))
    assert result.status == "loaded"
    assert (
        result.received
        == result.loaded + result.duplicates + result.quarantined + result.consent_dropped
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=10_000_000, help="events per file (default 10M)")
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; the median is kept"
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "pathwise-bench",
        help="scratch folder (inputs are cached there)",
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for fmt in ("parquet", "ndjson"):
        path, n = make_input(args.work, args.events, fmt)
        bare = statistics.median(bare_load(path, fmt, args.work) for _ in range(args.repeat))
        runs = sorted((ours(path, args.work) for _ in range(args.repeat)), key=lambda b: b.seconds)
        median_run = runs[len(runs) // 2]
        mine = median_run.seconds
        rows.append(
            {
                "format": fmt,
                "events": n,
                "file_mb": round(path.stat().st_size / 2**20, 1),
                "bare_s": round(bare, 2),
                "ours_s": round(mine, 2),
                "bare_events_per_s": round(n / bare),
                "ours_events_per_s": round(n / mine),
                "ratio": round(mine / bare, 2),
                "target_events_per_s": TARGETS[fmt],
                "meets_target": n / mine >= TARGETS[fmt] and mine / bare <= MAX_RATIO,
                "ours_steps_s": median_run.steps,  # where the median run spent its time
            }
        )
        r = rows[-1]
        print(
            f"{fmt:8} {n:>11,} events  bare {r['bare_s']:6.2f}s ({r['bare_events_per_s']:>9,}/s)  "
            f"ours {r['ours_s']:6.2f}s ({r['ours_events_per_s']:>9,}/s)  ratio {r['ratio']:.2f}x  "
            f"target {TARGETS[fmt]:,}/s & <= {MAX_RATIO}x: {'met' if r['meets_target'] else 'MISSED'}"
        )
        print("         steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in median_run.steps.items()))
    (args.work / "ingest-results.json").write_text(json.dumps(rows, indent=2))
    print(f"results: {args.work / 'ingest-results.json'}")


if __name__ == "__main__":
    main()
