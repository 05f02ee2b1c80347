"""The whole system on a simulated platform, agents in the loop: simulate, the nightly flow, the
platform's learners responding to the nudges for a few days, the nightly flow again, a summary.

1. Simulate DEMO["days"] days of a platform (`pathwise.sources.simulator`).
2. The nightly flow on the night after them (`now` = that night, 02:00 UTC): ingest, build the
   marts, index course content, train and score the models, publish a serving snapshot, and the
   agents decide and deliver their nudges (holdout kept out) into the outbox.
3. The simulated platform reads the outbox and runs LOOP["extra_days"] more days in which its
   learners open, click and respond to what they got, with a planted effect
   (`pathwise/sources/simulator/loop.py`); its true size goes to truth/nudge_effects.json.
4. The nightly flow on the night after those days: the new days are ingested and built, and the
   uplift step measures each agent's effect against its holdout (`agents.uplift`, published for
   the Control Tower). The uplift the demo shows is simulated: learners responding as planted,
   not evidence that nudges work on a real platform.

Safe to run again: the simulation (and the loop) is deterministic and only redone when its
parameters change, ingestion skips files it has loaded, dbt and the models rebuild
idempotently, agents' decisions have idempotent ids, and each run publishes a new snapshot.

    pathwise demo            # or: make demo

It refuses a home that holds accounts or ingested data that are not the demo's (a real
PATHWISE_HOME): the demo would add accounts with a public password and publish simulated learners
beside real ones. `pathwise demo --force` runs anyway.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from prefect import flow, get_run_logger

from flows.nightly import nightly_flow
from pathwise.settings import get_settings
from pathwise.warehouse import connect, table_counts

DEMO = {"learners": 2000, "courses": 60, "days": 30, "seed": 7, "start": "2026-01-05"}
# The days the platform responds to the agents' first nudges: enough for the 7-day return to be
# known (uplift's shortest horizon); draws of those days behind the true effect.
LOOP = {"extra_days": 8, "replications": 8}
NIGHTLY_HOUR = 2  # flows/nightly.py's cron: 02:00 UTC


def night_after(days: int) -> dt.datetime:
    """02:00 UTC of the night after the demo platform's first `days` days."""
    first = dt.datetime.fromisoformat(DEMO["start"]).replace(hour=NIGHTLY_HOUR, tzinfo=dt.UTC)
    return first + dt.timedelta(days=days)


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
    """Simulate a small platform with the agents in the loop (once), then run the nightly flow on
    it (refused in a home with more than the demo in it, unless `force`)."""
    check_demo_home(force)
    log = get_run_logger()
    s = get_settings()
    landing = s.landing_dir / "demo"
    # Sign-ups go on through the loop's days: a platform whose arrivals stopped on the first night
    # ages (no new learners), and the drift check rightly saw its learners' activity shift
    # (active days in 30: PSI 0.27 with sign-ups stopped, 0.01 with them going on).
    signup_days = DEMO["days"] + LOOP["extra_days"]
    params = {**DEMO, "fmt": fmt, "bad_share": bad_share, "signup_days": signup_days}
    marker = landing / "simulation.json"
    up_to_date = marker.exists() and json.loads(marker.read_text()) == {**params, **LOOP}
    if up_to_date:
        log.info("simulation in %s is up to date", landing)
    else:
        simulate_with_agents(params, landing)
        marker.write_text(json.dumps({**params, **LOOP}))
    # The second night (or the only one, when the simulation was there): content is unchanged.
    nightly = nightly_flow(
        landing=[str(landing)],
        now=night_after(DEMO["days"] + LOOP["extra_days"]),
        skip=None if up_to_date else ["index"],
    )
    loop = json.loads((landing / "truth" / "nudge_effects.json").read_text())
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
        "loop": loop,
        "ingest": ingested,
        "build": built,
        "nightly": nightly,
        "tables": counts,
        "totals": {**dict(zip(cols, sums, strict=False)), "batches": sums[-1]},
        "quarantine_reasons": dict(reasons),
    }


def simulate_with_agents(params: dict, landing: Path) -> dict:
    """Simulate the platform, run the nightly flow after its last day (the agents decide and
    deliver), then the days in which its learners respond; returns the loop's summary."""
    from agents.uplift import HORIZONS
    from pathwise.outbox import Outbox
    from pathwise.privacy import pseudonym
    from pathwise.sources.simulator import simulate
    from pathwise.sources.simulator.loop import respond_to_outbox

    log = get_run_logger()
    log.info(
        "simulating %s learners, %s courses, %s days",
        *(DEMO[k] for k in ("learners", "courses", "days")),
    )
    simulate(**params, out=landing)
    # DEMO ONLY: campaigns go out on proposal (no admin reviews them in the demo), so the loop
    # measures a campaign's uplift beside the re-engagement agent's.
    from pathwise.campaigns import TYPES, CampaignStore

    for kind in TYPES:
        CampaignStore().set_auto(kind, True, actor="demo", reason="demo: no admin to approve")
    # New simulated files: a full refresh, so no model keeps rows of an earlier simulation.
    nightly_flow(landing=[str(landing)], now=night_after(DEMO["days"]), full_refresh=True)
    key = get_settings().pseudonym_key.get_secret_value()
    log.info("the platform's learners respond to the outbox for %s days", LOOP["extra_days"])
    return respond_to_outbox(
        **params,
        out=landing,
        **LOOP,
        outbox=Outbox(),
        learner_key=lambda user_id: pseudonym(user_id, key),
        horizons=HORIZONS,
    )


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
        *_loop_lines(result["loop"], result["nightly"]["steps"].get("uplift", {})),
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


def _loop_lines(loop: dict, uplift: dict) -> list[str]:
    """The agents in the loop: what was delivered and done, the planted effect, the measured."""
    first, last = loop["days"]
    held = loop["assignments"]
    lines = [
        f"  agents in the loop   SIMULATED, {first} to {last}: learners respond as planted "
        "(pathwise/sources/simulator/loop.py)",
        f"    held out (all agents) {held['holdout']}, messaged: {held['holdout_messaged']}",
    ]
    for agent, m in loop["messages"].items():
        lines.append(
            f"    {agent:<18} {m['delivered']} nudges delivered, {m['opened']} opened, "
            f"{m['clicked']} clicked"
        )
    measured = uplift.get("uplift", {})
    for agent, outcomes in loop["true_effect"].items():
        for outcome, t in outcomes.items():
            got = measured.get(f"{agent}/{outcome}")
            text = (
                f"measured {100 * got[0]:+.1f} points, 95% CI {100 * got[1]:+.1f} to "
                f"{100 * got[2]:+.1f} ({got[3]})"
                if got and got[0] is not None
                else "not measured yet"
            )
            lines.append(
                f"    {agent + '/' + outcome:<30} planted {100 * t['effect']:+.1f} points "
                f"(treated {t['rate_with_messages']:.1%} vs {t['rate_without']:.1%} without); {text}"
            )
    return lines
