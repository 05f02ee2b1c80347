"""The whole system on a simulated platform: simulate, then the nightly flow, then a summary.

The nightly flow ingests, builds the marts, indexes course content, trains and scores the models
and publishes a serving snapshot. Safe to run again: the simulation is deterministic and only
redone when its parameters change, ingestion skips files it has loaded, dbt and the models
rebuild idempotently, and each run publishes a new snapshot version.

    pathwise demo            # or: make demo

It refuses a home that holds accounts or ingested data that are not the demo's (a real
PATHWISE_HOME): the demo would add accounts with a public password and publish simulated learners
beside real ones. `pathwise demo --force` runs anyway.
"""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow, get_run_logger

from flows.nightly import nightly_flow
from pathwise.settings import get_settings
from pathwise.warehouse import connect, table_counts

DEMO = {"learners": 2000, "courses": 60, "days": 30, "seed": 7, "start": "2026-01-05"}


class DemoRefused(RuntimeError):
    """This PATHWISE_HOME holds more than the demo; the message says what and how to proceed."""


def check_demo_home(force: bool = False) -> None:
    """Raise DemoRefused if the home holds accounts or ingested files that are not the demo's."""
    from pathwise.accounts import UserStore

    if force:
        return
    s = get_settings()
    found = []
    if s.users_path.exists():
        real = [u.username for u in UserStore().list() if not u.demo]
        if real:
            found.append(f"accounts that are not demo accounts: {', '.join(real)}")
    if s.warehouse_path.exists():
        with connect(read_only=True) as con:
            rows = con.execute("select source_file from raw.ingest_batches").fetchall()
        files = [r[0] for r in rows]
        # Demo batches come from <home>/landing/demo (also when ingested by a relative path).
        other = [f for f in files if not _in_demo_landing(Path(f))]
        if other:
            found.append(f"{len(other)} ingested files from outside landing/demo, e.g. {other[0]}")
    if found:
        raise DemoRefused(
            f"PATHWISE_HOME={s.home} is not a demo home; it holds "
            + "; ".join(found)
            + ". Run the demo in another home (export PATHWISE_HOME=/tmp/pathwise-demo), or pass "
            "--force to add the demo's accounts (public password) and data to this one."
        )


def _in_demo_landing(path: Path) -> bool:
    parts = path.parts
    return any(parts[i : i + 2] == ("landing", "demo") for i in range(len(parts) - 1))


@flow(name="demo")
def demo_flow(fmt: str = "parquet", bad_share: float = 0.01, force: bool = False) -> dict:
    """Simulate a small platform (once), then run the nightly flow on it (refused in a home with
    more than the demo in it, unless `force`)."""
    from pathwise.sources.simulator import simulate

    check_demo_home(force)
    log = get_run_logger()
    s = get_settings()
    landing = s.landing_dir / "demo"
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
    nightly = nightly_flow(landing=[str(landing)])
    # DEMO ONLY: sign-in accounts admin / instructor / learner (PATHWISE_DEMO_PASSWORD).
    from pathwise.accounts import demo_accounts

    demo_accounts(force=force)
    ingested, built = nightly["steps"]["ingest"]["events"], nightly["steps"]["build"]
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
        "nightly": nightly,
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
        *_nightly_lines(result["nightly"]),
        "",
        "Next:",
        "  pathwise keys create me --role service   a read-API key (shown once), then:",
        "  pathwise serve                       the read API: /v1/learners/{id}/recommendations",
        "  pathwise app                         the Control Tower, creator and learner pages",
        "                                       (demo sign-ins admin, instructor, learner;"
        " password $PATHWISE_DEMO_PASSWORD)",
        '  pathwise ask "How do I loop over files in the shell?"',
        "  pathwise status                      row counts of every table",
        f"  duckdb -readonly {s.warehouse_path}   explore (schemas raw, staging, marts)",
        "  pathwise import oulad ../shared/data/oulad && pathwise ingest var/landing/oulad",
        "  pathwise --help                      everything else",
    ]
    return "\n".join(lines)


def _brief(summary: object, keys: tuple[str, ...]) -> str:
    if not isinstance(summary, dict):
        return str(summary)
    return ", ".join(f"{k} {summary[k]}" for k in keys if k in summary) or "done"


def _nightly_lines(nightly: dict) -> list[str]:
    steps, seconds = nightly["steps"], nightly.get("seconds", {})
    dropout = steps.get("dropout", {})
    # One model per dataset in the warehouse (the demo has one: the simulated platform).
    models = {k: v for k, v in dropout.items() if isinstance(v, dict)}
    dropout_brief = "; ".join(
        f"{name}: " + _brief(m, ("scored", "validation_auc", "used_for_decisions", "skipped"))
        for name, m in models.items()
    )
    lines = {
        "index": _brief(
            steps.get("index"),
            ("documents_seen", "documents_added", "documents_updated", "chunks_total"),
        ),
        "styles": _brief(steps.get("styles"), ("rows_written", "styles")),
        "dropout": dropout_brief or "no model",
        "recommend": _brief(
            steps.get("recommend"),
            ("learners_with_recommendations", "recommendations", "model_version"),
        ),
        "drift": _brief(steps.get("drift"), ("checks", "alerts", "alerted")),
    }
    return [
        *(
            f"  {name:<20} {text} ({seconds.get(name, '?')} s)"
            for name, text in lines.items()
            if name in steps
        ),
        f"  serving snapshot     {nightly['snapshot']}",
    ]
