"""The run: one call simulates the platform and writes its files, day by day.

Day d is simulated (`Platform.day`), put into contract form (`envelope`: envelope columns,
timestamps as the clients write them, sessions and client context), given its share of bad
input (`faults`) and written in the background while day d+1 is simulated. Catalog and truth
files are written around the days. Same seed, same files (see `randomness`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

from pathwise import events_io
from pathwise.contract import SCHEMA_VERSION
from pathwise.settings import PROJECT_ROOT
from pathwise.sources.simulator.catalog import Catalog, build_catalog
from pathwise.sources.simulator.faults import FAULT_KINDS, FAULT_SCHEMA, Faulty, inject_faults
from pathwise.sources.simulator.learners import Learners, make_learners
from pathwise.sources.simulator.platform import Platform
from pathwise.sources.simulator.randomness import random_ids, random_stream, uuids
from pathwise.sources.simulator.texts import text_pools

SEEDS_DIR = PROJECT_ROOT / "seeds"


def simulate(
    *,
    learners: int,
    courses: int,
    days: int,
    seed: int,
    out: Path,
    fmt: str,
    start: str,
    bad_share: float,
    catalog_seed: int | None = None,
    completion_factor: float = 1.0,
    shift_from_day: int = 0,
    signup_days: int | None = None,
) -> dict:
    """Simulate the platform and write events/, catalog/ and truth/ under `out` (see the
    package docstring); returns a JSON-able summary. `catalog_seed` (default `seed`) lets a
    second, independent cohort of learners use the same catalog. `signup_days` (default `days`):
    the days over which learners sign up, for a platform that goes on beyond `days` (the demo's
    loop, pathwise/sources/simulator/loop.py): sign-ups keep arriving at the same pace then.

    `completion_factor` (0-1) shifts the platform from day `shift_from_day` (0-based) on:
    course completions fall by that factor (0.8: 20% fewer), the days before are those of the
    unshifted run (see `platform`). 1.0 changes nothing.
    """
    _check_shift(completion_factor, shift_from_day)
    began = time.perf_counter()
    out = Path(out)
    first_day = dt.date.fromisoformat(start)
    platform = build_platform(
        seed=seed,
        catalog_seed=seed if catalog_seed is None else catalog_seed,
        courses=courses,
        learners=learners,
        days=signup_days or days,
        first_day=first_day,
        completion_factor=completion_factor,
        shift_from_day=shift_from_day,
    )
    other_files = _write_catalog(out, platform.cat)
    setup_s = time.perf_counter() - began

    suffix = events_io.suffix_for(fmt)
    names = [f"events/events-{first_day + dt.timedelta(days=d)}{suffix}" for d in range(days)]
    counts, faults, files, write_s = run_days(platform, seed, names, out, fmt, bad_share)
    other_files += _write_truth(out, platform, faults)
    total_s = time.perf_counter() - began
    rows = sum(f["rows"] for f in files)
    return {
        "out": str(out),
        "format": fmt,
        "seed": seed,
        "start": start,
        "days": days,
        "learners": learners,
        "completion_factor": completion_factor,
        "shift_from_day": shift_from_day,
        "courses": len(platform.cat.difficulty),
        "modules": len(platform.cat.mod_fmt),
        "events": sum(counts.values()),
        "events_by_type": dict(sorted(counts.items())),
        "rows_written": rows,
        "faults": {k: sum(f[2] == k for f in faults) for k in FAULT_KINDS},
        "event_files": files,
        "event_bytes": sum(f["bytes"] for f in files),
        "other_files": other_files,
        "timings_s": {
            "setup": round(setup_s, 2),
            "write_in_background": round(write_s, 2),
            "total": round(total_s, 2),
        },
        "events_per_s": round(rows / total_s),
    }


def build_platform(
    *,
    seed: int,
    catalog_seed: int,
    courses: int,
    learners: int,
    days: int,
    first_day: dt.date,
    completion_factor: float,
    shift_from_day: int,
) -> Platform:
    """The catalog (from `catalog_seed`), the learners (signing up over `days` days) and the
    platform that simulates them."""
    start_ms = int(dt.datetime.combine(first_day, dt.time(), dt.UTC).timestamp() * 1000)
    catalog, roles, skills = build_catalog(catalog_seed, courses, SEEDS_DIR)
    lrn = make_learners(seed, learners, days, catalog, roles, skills)
    texts = text_pools(catalog, roles, skills)
    return Platform(seed, start_ms, catalog, roles, lrn, texts, completion_factor, shift_from_day)


def _check_shift(completion_factor: float, shift_from_day: int) -> None:
    if not 0 <= completion_factor <= 1:
        raise ValueError(
            f"completion_factor must be between 0 and 1 (0.8: 20% fewer completions), not "
            f"{completion_factor}: the shift can only take completions away"
        )
    if shift_from_day < 0:
        raise ValueError(f"shift_from_day is a 0-based day index, not {shift_from_day}")


def _write_catalog(out: Path, catalog: Catalog) -> list[dict]:
    """Write catalog/ and empty events/ (a previous run may have had more days)."""
    written = _write_frames(
        out,
        {
            "catalog/courses.csv": catalog.courses,
            "catalog/modules.csv": catalog.modules,
            "catalog/course_skills.csv": catalog.course_skills,
            "catalog/course_prerequisites.csv": catalog.prerequisites,
        },
    )
    (out / "events").mkdir(parents=True, exist_ok=True)
    for old in (out / "events").glob("events-*"):
        old.unlink()
    return written


def run_days(
    platform: Platform,
    seed: int,
    names: list[str],
    out: Path,
    fmt: str,
    bad_share: float,
    first: int = 0,
    on_day: Callable[[int, pl.DataFrame], None] | None = None,
) -> tuple[dict[str, int], list[tuple], list[dict], float]:
    """Simulate and write one file per day (`names`, relative to `out`), the first being day
    `first`; `on_day` sees each day's events as simulated. Returns the events per type, the
    injected faults (FAULT_SCHEMA rows), the files written (path, rows, bytes) and the seconds
    spent writing in the background."""
    counts: dict[str, int] = {}
    faults: list[tuple] = []
    files: list[dict] = []
    previous = None
    writes: list[Future] = []
    # Day d is written in the background while day d+1 is simulated (DuckDB releases the GIL).
    with ThreadPoolExecutor(max_workers=1) as writer:
        for d, name in enumerate(names, start=first):
            events = platform.day(d)
            if on_day:
                on_day(d, events)
            for event_type, k in events.group_by("event_type").len().iter_rows():
                counts[event_type] = counts.get(event_type, 0) + k
            rng = random_stream(seed, 4, d)
            clean = envelope(events, rng, platform.lrn, platform.cat)
            faulty = Faulty(clean, [], [])
            if bad_share > 0:
                faulty, previous = inject_faults(rng, clean, previous, fmt, bad_share, name)
            faults += faulty.faults
            files.append({"path": name, "rows": faulty.rows.height})
            if writes:
                writes[-1].result()  # at most one day waits in memory
            writes.append(writer.submit(_write_day, faulty, out / name, fmt))
    write_s = sum(w.result() for w in writes)
    for f in files:
        f["bytes"] = (out / f["path"]).stat().st_size
    return counts, faults, files, write_s


def _write_truth(out: Path, platform: Platform, faults: list[tuple]) -> list[dict]:
    """Write truth/: the learners' planted traits (with when the run granted and revoked their
    fine consent), the injected faults and the catalog's content gaps."""
    truth = platform.lrn.truth.with_columns(
        fine_granted_at=_timestamps(platform.granted_at),
        fine_revoked_at=_timestamps(platform.revoked_at),
    )
    return _write_frames(
        out,
        {
            "truth/learners.parquet": truth,
            "truth/faults.parquet": pl.DataFrame(faults, schema=FAULT_SCHEMA, orient="row"),
            "truth/content_gaps.parquet": platform.cat.content_gaps,
        },
    )


def envelope(
    events: pl.DataFrame, rng: np.random.Generator, lrn: Learners, catalog: Catalog
) -> pl.DataFrame:
    """The day's events in contract form: ENVELOPE columns, timestamps as the clients write them.

    One session per learner and day (`ses_` + 12 hex digits); 80% of client events carry the
    learner's context; platform events have neither.
    """
    u, course, module, client = events["u"], events["course"], events["module"], events["client"]
    local = events["t"] + pl.Series(lrn.offset_ms).gather(u) * client
    sessions = random_ids(rng, len(lrn.style), 12, "ses_")  # one session per learner and day
    with_context = client & pl.Series(rng.random(events.height) < 0.8)

    def where(mask: pl.Series, values: pl.Series) -> pl.Series:
        return pl.select(pl.when(mask).then(values)).to_series()

    return pl.DataFrame(
        {
            "event_id": uuids(rng, events.height),
            "event_type": events["event_type"],
            "occurred_at": pl.from_epoch(local, time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3f")
            + where(client, lrn.suffix.gather(u)).fill_null("Z"),
            "user_id": lrn.user_id.gather(u),
            "session_id": where(client, sessions.gather(u)),
            "course_id": where(course >= 0, catalog.courses["course_id"].gather(course.clip(0))),
            "module_id": where(module >= 0, catalog.modules["module_id"].gather(module.clip(0))),
            "schema_version": np.full(events.height, SCHEMA_VERSION, dtype=np.int32),
            "properties": events["properties"],
            "context": where(with_context, lrn.context.gather(u)),
        }
    )


def _write_day(faulty: Faulty, path: Path, fmt: str) -> float:
    """Write one day's file; returns the seconds it took."""
    began = time.perf_counter()
    if fmt == "parquet" or not faulty.line_edits:
        events_io.write_events(faulty.rows, path, fmt)
    else:
        events_io.write_lines(faulty.ndjson_lines(), path)
    return time.perf_counter() - began


def _timestamps(ms: np.ndarray) -> pl.Series:
    """Epoch milliseconds (-1: never) -> UTC timestamps (null: never)."""
    series = pl.Series(ms).scatter(np.flatnonzero(ms < 0), None)
    return pl.from_epoch(series, time_unit="ms").dt.replace_time_zone("UTC")


def _write_frames(out: Path, frames: dict[str, pl.DataFrame]) -> list[dict]:
    written = []
    for name, frame in frames.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)
        written.append({"path": name, "rows": frame.height, "bytes": path.stat().st_size})
    return written
