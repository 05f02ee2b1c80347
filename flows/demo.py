"""The whole system on a simulated platform: simulate -> ingest -> dbt build, then a summary.

Safe to run again: the simulation is deterministic and only redone when its parameters change,
ingestion skips files it has loaded, and dbt builds idempotently.

    pathwise demo            # or: make demo
"""

from __future__ import annotations

import json

from prefect import flow, get_run_logger

from flows.build import build_flow
from flows.ingest import ingest_flow
from pathwise.settings import get_settings
from pathwise.warehouse import connect, table_counts

DEMO = {"learners": 2000, "courses": 60, "days": 30, "seed": 7, "start": "2026-01-05"}


@flow(name="demo")
def demo_flow(fmt: str = "parquet", bad_share: float = 0.01) -> dict:
    """Simulate a small platform (once), ingest it and build the warehouse."""
    from pathwise.sources.simulator import simulate

    log = get_run_logger()
    s = get_settings()
    landing = s.home / "landing" / "demo"
    params = {**DEMO, "fmt": fmt, "bad_share": bad_share}
    marker = landing / "simulation.json"
    if marker.exists() and json.loads(marker.read_text()) == params:
        log.info("simulation in %s is up to date", landing)
    else:
        log.info(
            "simulating %s learners, %s courses, %s days",
            *(DEMO[k] for k in ("learners", "courses", "days")),
        )
        simulate(**params, out=landing)
        marker.write_text(json.dumps(params))
    ingested = ingest_flow(paths=[str(landing)])
    built = build_flow()
    with connect(read_only=True) as con:
        counts = table_counts(con)
        # Totals over every batch ever loaded, so a re-run (which skips them all) reads the same.
        cols = ("received", "loaded", "aggregated", "duplicates", "quarantined", "consent_dropped")
        sums = con.execute(
            f"select {', '.join(f'sum({c})::bigint' for c in cols)}, count(*) "
            "from raw.ingest_batches where source_format <> 'catalog'"
        ).fetchall()[0]
        reasons = con.execute(
            "select reason, count(*) from raw.quarantined_events group by 1 order by 2 desc"
        ).fetchall()
    return {
        "landing": str(landing),
        "ingest": ingested,
        "build": built,
        "tables": counts,
        "totals": {**dict(zip(cols, sums, strict=False)), "batches": sums[-1]},
        "quarantine_reasons": dict(reasons),
    }


def render(result: dict) -> str:
    s = get_settings()
    t = result["totals"]
    new = sum(b["status"] == "loaded" for b in result["ingest"]["batches"])
    tables = result["tables"]
    lines = [
        "",
        "Pathwise demo: done",
        f"  simulated platform   {result['landing']}",
        f"  warehouse            {s.warehouse_path} ({'encrypted' if s.encrypted else 'plain'})",
        f"  identity vault       {s.vault_path}",
        f"  batches              {t['batches']} ({new} new in this run, the rest already loaded)",
        f"  events received      {t['received']:,}",
        f"    loaded             {t['loaded']:,}  (fine signals aggregated: {t['aggregated']:,})",
        f"    duplicates         {t['duplicates']:,}",
        f"    quarantined        {t['quarantined']:,}  {result['quarantine_reasons']}",
        f"    consent dropped    {t['consent_dropped']:,}",
        f"    reconciled         {'yes' if result['ingest']['reconciled'] else 'NO'}"
        " (received = loaded + duplicates + quarantined + consent dropped, per batch)",
        f"  dbt build            {result['build'].get('summary', result['build'])}",
        f"  tables               {len(tables)} ({sum(tables.values()):,} rows)",
        "",
        "Next:",
        "  pathwise status                      row counts of every table",
        f"  duckdb -readonly {s.warehouse_path}   explore (schemas raw, staging, marts)",
        "  pathwise import oulad ../shared/data/oulad && pathwise ingest var/landing/oulad",
        "  pathwise --help                      everything else",
    ]
    return "\n".join(lines)
