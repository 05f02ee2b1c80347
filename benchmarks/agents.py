"""The nightly agents step at scale: 100k learners, 300k open enrolments (issue 14's target: <= 60 s).

The messaging agents are timed as the nightly flow runs them (`agents.run.run_agents`), first
each alone, then together (the figure the target is about): the kill-switch check, reading the
marts and ML tables, the decision rule, the guardrails (consent, holdout, caps), recording every
decision and message in the outbox, and delivering the in-app messages. The campaign agent finds
cohorts, proposes campaigns and sends them (every campaign type set to auto, so the sends are
timed too). The paths and metadata agents have their own benchmarks (path_serving, metadata).
The inputs are the tables the agents read, with their columns, filled with seeded random rows in
a fresh warehouse (a simulated platform of this size takes far longer to build than to act on):
a third of the enrolments inactive beyond the threshold, a tenth at high risk, 2% opted out.

    python -m benchmarks.agents [--learners 100000 --enrolments 300000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

TARGET_S = 60.0

TABLES = """
create schema if not exists marts;
create schema if not exists ml;
create table marts.courses as
select 'C' || lpad(i::varchar, 4, '0') as course_id, 'Course number ' || i as course_title
from range(1, 301) t(i);
create table marts.ml_course_calendars as
select course_id, null::timestamp as starts_at, 60 as length_days from marts.courses;
create table marts.learners as
select md5('learner' || i)::varchar as learner_key,
       random() >= 0.02 as has_message_consent,
       'Data Scientists' as target_role,
       ['new', 'returning', 'professional'][1 + i % 3] as segment
from range($learners) t(i);
create table marts.course_modules as
select course_id, course_id || '-M' || m as module_id, 'Module title ' || m as module_title,
       m as module_position, 15.0 + m * 5 as duration_minutes
from marts.courses, range(1, 9) t(m);
create table marts.course_prerequisites as
select course_id, 'C' || lpad((1 + (i * 31) % 300)::varchar, 4, '0') as prerequisite_course_id
from (select course_id, row_number() over (order by course_id) as i from marts.courses)
where i % 3 = 0;
create table marts.course_skills as
select course_id, 'skill ' || ((i * s) % 120) as skill_name
from (select course_id, row_number() over (order by course_id) as i from marts.courses),
     range(1, 6) t(s);
create table ml.recommendations as
select learner_key, 'C' || lpad((1 + (i * 13 + r * 29) % 300)::varchar, 4, '0') as course_id,
       r as rank
from (select md5('learner' || i)::varchar as learner_key, i from range($learners) t(i)),
     range(1, 11) t(r);
create table marts.learner_course_progress as
select md5('learner' || (i % $learners))::varchar as learner_key,
       'C' || lpad((1 + (i * 7919) % 300)::varchar, 4, '0') as course_id,
       round(100.0 * m / 8, 1) as percent_complete, m as modules_done, 8 as modules_total,
       m + 1 as next_module_position, 'Module title ' || (m + 1) as next_module_title,
       'C' || lpad((1 + (i * 7919) % 300)::varchar, 4, '0') || '-M' || (m + 1) as next_module_id,
       15.0 + (i % 40) as next_module_duration_minutes,
       (random() * 21)::integer as days_inactive,
       date '2026-03-01' as reference_date,
       timestamp '2026-02-01' as enrolled_at,
       case when i % 5 = 0 then 'stalled' else 'active' end as status
from (select i, (i % 7) as m from range($enrolments) t(i));
create table ml.dropout_risk as
select learner_key, course_id, r as risk,
       case when r >= 0.5 then 'high' when r >= 0.2 then 'medium' else 'low' end as risk_band,
       true as used_for_decisions, 'p25' as checkpoint, 'bench' as model_version
from (select learner_key, course_id, random() * 0.56 as r from marts.learner_course_progress);
"""


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--enrolments", type=int, default=300_000)
    args = parser.parse_args(argv)
    template = Path(tempfile.mkdtemp(prefix="pathwise-bench-agents-"))
    _use_home(template)
    from pathwise.warehouse import connect

    with connect() as con:
        con.execute("select setseed(0.14)")
        sql = TABLES.replace("$learners", str(args.learners))
        con.execute(sql.replace("$enrolments", str(args.enrolments)))
    result: dict = {"learners": args.learners, "open_enrolments": args.enrolments,
                    "target_s": TARGET_S}  # fmt: skip
    # Each run starts from a copy of the same inputs: an agent's run changes what the next sees.
    for label, names in (("reengage", ["reengage"]), ("campaigns", ["campaigns"]),
                         ("step", ["reengage", "campaigns"])):  # fmt: skip
        result[label] = _timed(template, label, names)
        print(
            f"{label}: {result[label]['seconds']} s ({result[label]['cpu_seconds']} s CPU)",
            flush=True,
        )
    print(json.dumps(result, indent=2))
    from pathwise.settings import get_settings

    out = get_settings().benchmarks_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "agents.json").write_text(json.dumps(result, indent=2))
    return result


def _use_home(home: Path) -> None:
    os.environ["PATHWISE_HOME"] = str(home)
    os.environ["PATHWISE_WAREHOUSE_KEY"] = ""
    from pathwise.settings import get_settings

    get_settings.cache_clear()


def _timed(template: Path, label: str, names: list[str]) -> dict:
    """One run of the named agents (then delivery) on a fresh copy of the inputs."""
    home = template.with_name(f"{template.name}-{label}")
    shutil.copytree(template, home)
    _use_home(home)
    from agents.run import run_agents
    from pathwise.campaigns import TYPES, CampaignStore
    from pathwise.outbox import Outbox

    for kind in TYPES:  # no admin here to approve: every campaign type is sent when proposed
        CampaignStore().set_auto(kind, True, actor="benchmark", reason="benchmark: timed sends")
    started, cpu = time.perf_counter(), time.process_time()
    summary = run_agents(names)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    campaigns = summary["agents"].get("campaigns", {})
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),  # all threads: a shared machine's wall time is noisy
        "reengage": summary["agents"].get("reengage"),
        "cohorts": campaigns.get("cohorts"),
        "campaign_sends": campaigns.get("sends"),
        "delivery": summary["delivery"],
        "outbox_rows": sum(Outbox().counts().values()),
    }


if __name__ == "__main__":
    main()
