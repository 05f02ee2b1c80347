"""Ingest flow: platform files -> validated, pseudonymized, consent-checked warehouse tables.

Each event file is one atomic batch (`pathwise.ingestion.ingest_file`); batches run one after
another because DuckDB has one writer. Catalog CSVs load first so events can refer to them.

    python -m flows.ingest var/landing          # or: pathwise ingest var/landing
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pathwise.catalog import LOAD_ORDER, load_catalog_file
from pathwise.ingestion import event_format, ingest_file
from pathwise.settings import get_settings
from pathwise.warehouse import connect


def discover(paths: list[str]) -> tuple[list[Path], list[Path]]:
    """(catalog files, event files) in load order.

    A folder contributes `catalog/<name>.csv` and the event files under `events/` when it has
    those subfolders (so a simulator's `truth/` beside them is never read), else its own files.
    """
    catalogs: list[Path] = []
    events: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise FileNotFoundError(f"{p} does not exist")
        if p.is_file():
            if p.name in LOAD_ORDER:
                catalogs.append(p)
            elif event_format(p):
                events.append(p)
            else:
                raise ValueError(f"{p}: not an event file (.parquet, .ndjson[.gz], .jsonl[.gz])")
            continue
        cat_dir = p / "catalog" if (p / "catalog").is_dir() else p
        catalogs += [cat_dir / n for n in LOAD_ORDER if (cat_dir / n).is_file()]
        ev_dir = p / "events" if (p / "events").is_dir() else p
        events += sorted(f for f in ev_dir.rglob("*") if f.is_file() and event_format(f))
    catalogs.sort(key=lambda f: LOAD_ORDER.index(f.name))
    return catalogs, events


def held_by_another_writer(task, task_run, state) -> bool:
    """Retry only a lock conflict (another process held the warehouse); bad input fails twice."""
    return isinstance(state.result(raise_on_failure=False), duckdb.IOException)


@task(
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=held_by_another_writer,
    cache_policy=NO_CACHE,
)
def load_catalog(path: Path) -> dict:
    """Load one catalog CSV."""
    with connect() as con:
        result = load_catalog_file(con, path)
    get_run_logger().info("catalog %s: %s, %s rows", path.name, result["status"], result["rows"])
    return result


@task(
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=held_by_another_writer,
    cache_policy=NO_CACHE,
)
def load_events(path: Path) -> dict:
    """Load one event file as one atomic batch."""
    result = ingest_file(path).as_dict()
    get_run_logger().info(
        "%s: %s received=%s loaded=%s duplicates=%s quarantined=%s consent_dropped=%s (%.1fs)",
        path.name,
        result["status"],
        result["received"],
        result["loaded"],
        result["duplicates"],
        result["quarantined"],
        result["consent_dropped"],
        result["seconds"],
    )
    return result


COUNTS = (
    "received",
    "loaded",
    "aggregated",
    "duplicates",
    "quarantined",
    "consent_dropped",
    "undeclared_dropped",
)


@flow(name="ingest", log_prints=True)
def ingest_flow(paths: list[str]) -> dict:
    """Load catalog files, then every event file, each as one atomic batch."""
    catalogs, events = discover(paths)
    if not catalogs and not events:
        raise FileNotFoundError(f"no event or catalog files under {', '.join(paths)}")
    catalog_results = [load_catalog(p) for p in catalogs]
    batches = [load_events(p) for p in events]
    totals = {k: sum(b[k] for b in batches) for k in COUNTS}
    reasons: dict[str, int] = {}
    for b in batches:
        for reason, n in b["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + n
    return {
        "warehouse": str(get_settings().warehouse_path),
        "catalog": catalog_results,
        "batches": batches,
        "totals": totals,
        "quarantine_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "reconciled": all(
            b["received"] == b["loaded"] + b["duplicates"] + b["quarantined"] + b["consent_dropped"]
            for b in batches
        ),
    }


def render_summary(result: dict) -> str:
    """A short human summary of `ingest_flow`'s result."""
    t = result["totals"]
    loaded = sum(1 for b in result["batches"] if b["status"] == "loaded")
    skipped = len(result["batches"]) - loaded
    lines = [
        f"warehouse: {result['warehouse']}",
        f"catalog files: {len(result['catalog'])}   event batches: {loaded} loaded, "
        f"{skipped} already loaded (skipped)",
        f"events received {t['received']:,} = loaded {t['loaded']:,} "
        f"(of which {t['aggregated']:,} aggregated fine signals) + duplicates {t['duplicates']:,}"
        f" + quarantined {t['quarantined']:,} + consent_dropped {t['consent_dropped']:,}",
    ]
    if t["undeclared_dropped"]:
        lines.append(
            f"undeclared properties dropped from {t['undeclared_dropped']:,} loaded events "
            "(PATHWISE_UNDECLARED_PROPERTIES=quarantine quarantines them instead)"
        )
    if result["quarantine_reasons"]:
        lines.append(
            "quarantine reasons: "
            + ", ".join(f"{r} {n:,}" for r, n in result["quarantine_reasons"].items())
        )
    lines.append("reconciled: " + ("yes" if result["reconciled"] else "NO"))
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_summary(ingest_flow(sys.argv[1:] or ["var/landing"])))
