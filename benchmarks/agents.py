"""The nightly agents step at scale: 100k learners, 300k open enrolments (issue 14's target: <= 60 s).

The step is timed whole, as the nightly flow runs it (`agents.run.run_agents`): the kill-switch
check, reading the marts and ML tables, the decision rule, the guardrails (consent, holdout,
caps), recording every decision and message in the outbox, and delivering the in-app nudges.
The inputs are the tables the agent reads, with their columns, filled with seeded random rows in
a fresh warehouse (a simulated platform of this size takes far longer to build than to act on):
a third of the enrolments inactive beyond the threshold, a tenth at high risk, 2% opted out.

    python -m benchmarks.agents [--learners 100000 --enrolments 300000]
"""

from __future__ import annotations

import argparse
import json
import os
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
       'Data Scientists' as target_role
from range($learners) t(i);
create table marts.learner_course_progress as
select md5('learner' || (i % $learners))::varchar as learner_key,
       'C' || lpad((1 + (i * 7919) % 300)::varchar, 4, '0') as course_id,
       round(100.0 * m / 8, 1) as percent_complete, m as modules_done, 8 as modules_total,
       m + 1 as next_module_position, 'Module title ' || (m + 1) as next_module_title,
       15.0 + (i % 40) as next_module_duration_minutes,
       (random() * 21)::integer as days_inactive,
       date '2026-03-01' as reference_date,
       timestamp '2026-02-01' as enrolled_at,
       'active' as status
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
    home = Path(tempfile.mkdtemp(prefix="pathwise-bench-agents-"))
    os.environ["PATHWISE_HOME"] = str(home)
    os.environ["PATHWISE_WAREHOUSE_KEY"] = ""

    from pathwise.settings import get_settings

    get_settings.cache_clear()
    from agents.run import run_agents
    from pathwise.outbox import Outbox
    from pathwise.warehouse import connect

    with connect() as con:
        con.execute("select setseed(0.14)")
        sql = TABLES.replace("$learners", str(args.learners))
        con.execute(sql.replace("$enrolments", str(args.enrolments)))
    started = time.perf_counter()
    summary = run_agents(["reengage"])
    seconds = time.perf_counter() - started
    result = {
        "learners": args.learners,
        "open_enrolments": args.enrolments,
        "seconds": round(seconds, 1),
        "target_s": TARGET_S,
        "decisions": summary["agents"]["reengage"],
        "delivery": summary["delivery"],
        "outbox_rows": sum(Outbox().counts().values()),
    }
    print(json.dumps(result, indent=2))
    out = get_settings().benchmarks_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "agents.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
