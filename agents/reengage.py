"""The re-engagement agent: one contextual nudge to a learner slipping away from an open course.

Observe (marts and ML tables only): open enrolments (`marts.learner_course_progress`, status
active or stalled) with their progress, next module and course calendar, the learner's goal and
consent (`marts.learners`), and tonight's dropout risk (`ml.dropout_risk`, only where the model is
validated for decisions).

Decide: an enrolment qualifies when the learner has been inactive for at least the course's
threshold (PATHWISE_REENGAGE_INACTIVE_DAYS, per course in _BY_COURSE) or its dropout risk band is
at least PATHWISE_REENGAGE_RISK_BAND. Per learner one nudge a night, about their most urgent
course (highest risk, then longest inactive, then course id). The guardrails
(`agents/guardrails.py`) decide whether it is sent; every decision is recorded with its signals
and thresholds, the holdout's too.

Act: a deterministic template with the real context ("You are 60% through SQL Basics. Next:
Module 5, "Joins", about 18 minutes."), its goal and plan date, and a hint to ask the course Q&A
about the next module. Ids are (agent, learner, reason/course, day): a re-run the same day adds
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import polars as pl

from agents.guardrails import Guardrails
from pathwise.outbox import Decision, Message, Outbox, message_id
from pathwise.settings import Settings, get_settings
from pathwise.warehouse import table_exists

AGENT = "reengage"
TEMPLATE = "reengage-v1"
BAND_ORDER = {"low": 0, "medium": 1, "high": 2}

OBSERVE = """
select
    p.learner_key,
    p.course_id,
    c.course_title,
    p.percent_complete,
    p.modules_done,
    p.modules_total,
    p.next_module_position,
    p.next_module_title,
    p.next_module_duration_minutes,
    p.days_inactive,
    p.reference_date,
    coalesce(l.has_message_consent, true) as has_message_consent,
    l.target_role,
    cast(coalesce(k.starts_at, p.enrolled_at) + to_days(cast(k.length_days as integer)) as date)
        as plan_end,
    case when r.used_for_decisions then r.risk end as risk,
    case when r.used_for_decisions then r.risk_band end as risk_band,
    r.checkpoint,
    r.model_version
from marts.learner_course_progress as p
join marts.courses as c using (course_id)
left join marts.learners as l using (learner_key)
left join marts.ml_course_calendars as k using (course_id)
left join ml.dropout_risk as r using (learner_key, course_id)
where p.status in ('active', 'stalled') and p.next_module_title is not null
"""


@dataclass(frozen=True)
class Thresholds:
    inactive_days: int
    by_course: dict[str, int]
    risk_band: str

    @classmethod
    def from_settings(cls, s: Settings) -> Thresholds:
        return cls(
            s.reengage_inactive_days, s.reengage_inactive_days_by_course, s.reengage_risk_band
        )


def observe(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Open enrolments with their context and risk (one row per learner and course)."""
    if not table_exists(con, "ml", "dropout_risk"):  # before the first dropout run
        return con.sql(
            OBSERVE.replace("left join ml.dropout_risk as r using (learner_key, course_id)", "")
            .replace("case when r.used_for_decisions then r.risk end", "null::double")
            .replace("case when r.used_for_decisions then r.risk_band end", "null::varchar")
            .replace("r.checkpoint", "null::varchar as checkpoint")
            .replace("r.model_version", "null::varchar as model_version")
        ).pl()
    return con.sql(OBSERVE).pl()


def candidates(frame: pl.DataFrame, t: Thresholds) -> pl.DataFrame:
    """The qualifying enrolments, one per learner (the most urgent), with `reason` and the
    threshold that applied."""
    threshold = pl.col("course_id").replace_strict(
        t.by_course, default=t.inactive_days, return_dtype=pl.Int64
    )
    band = pl.col("risk_band").replace_strict(BAND_ORDER, default=-1, return_dtype=pl.Int64)
    risky = band >= BAND_ORDER[t.risk_band]
    inactive = pl.col("days_inactive") >= pl.col("inactive_threshold")
    return (
        frame.with_columns(inactive_threshold=threshold)
        .filter(inactive | risky)
        .with_columns(
            reason=pl.when(risky).then(pl.lit("dropout_risk")).otherwise(pl.lit("inactive"))
        )
        .sort(
            ["learner_key", "risk", "days_inactive", "course_id"],
            descending=[False, True, True, False],
            nulls_last=True,
        )
        .unique("learner_key", keep="first", maintain_order=True)
    )


def _minutes(x: float | None) -> str:
    return f"{round(x)} min" if x is not None else "a few minutes"


def render(row: dict) -> tuple[str, str]:
    """(subject, body) of the nudge: every number and name from the marts, nothing invented."""
    module = f"Module {row['next_module_position']}"
    subject = f"{row['course_title']}: {module} is next"
    lines = [
        f"You are {row['percent_complete']:g}% through {row['course_title']} "
        f"({row['modules_done']} of {row['modules_total']} modules).",
        f'Next: {module}, "{row["next_module_title"]}", about '
        f"{_minutes(row['next_module_duration_minutes'])}.",
    ]
    goal = []
    if row.get("target_role"):
        goal.append(f"It is a step towards your goal: {row['target_role']}.")
    if row.get("plan_end") is not None and row["plan_end"] >= row["reference_date"]:
        goal.append(f"To finish on plan, complete the course by {row['plan_end']:%d %B %Y}.")
    lines += goal
    lines.append(f"Stuck? Ask a question about {module} in the course Q&A.")
    return subject, "\n".join(lines)


def evidence(row: dict, t: Thresholds) -> dict:
    """Why the nudge was decided: the signals and the thresholds they crossed."""
    return {
        "signals": {
            "days_inactive": row["days_inactive"],
            "risk": row["risk"],
            "risk_band": row["risk_band"],
            "checkpoint": row["checkpoint"],
            "percent_complete": row["percent_complete"],
        },
        "thresholds": {"inactive_days": row["inactive_threshold"], "risk_band": t.risk_band},
        "model_version": row["model_version"],
    }


def run(
    con: duckdb.DuckDBPyConnection,
    outbox: Outbox,
    route: Callable[[str], str] = lambda _: "in_app",
    now: datetime | None = None,
    settings: Settings | None = None,
) -> dict[str, int]:
    """Decide tonight's nudges; record every decision and enqueue the treated learners'
    messages. `route` gives a learner_key's channel."""
    s = settings or get_settings()
    now = now or datetime.now(UTC)
    today: date = now.date()
    t = Thresholds.from_settings(s)
    chosen = candidates(observe(con), t)
    guard = Guardrails.load(outbox, now, s)
    decisions, messages = [], []
    for row in chosen.iter_rows(named=True):
        reason_key = f"{row['reason']}/{row['course_id']}"
        mid = message_id(AGENT, row["learner_key"], reason_key, today.isoformat())
        why = evidence(row, t)
        outcome = guard.screen(row["learner_key"], row["has_message_consent"])
        decisions.append(
            Decision(mid, row["learner_key"], AGENT, today.isoformat(), row["reason"], outcome,
                     why, row["course_id"])
        )  # fmt: skip
        if outcome != "treated":
            continue
        subject, body = render(row)
        messages.append(
            Message(
                message_id=mid,
                learner_key=row["learner_key"],
                agent=AGENT,
                channel=route(row["learner_key"]),
                template=TEMPLATE,
                subject=subject,
                body=body,
                reason=row["reason"],
                evidence=why,
                course_id=row["course_id"],
                created_at=now,
            )
        )
    # Decisions first: a crash between the two leaves decisions without messages, and the
    # re-run (same ids) adds the messages and nothing twice.
    outbox.decide(decisions, now)
    added = outbox.enqueue(messages)
    summary = {"candidates": chosen.height, "enqueued": added}
    for d in decisions:
        summary[d.outcome] = summary.get(d.outcome, 0) + 1
    return summary
