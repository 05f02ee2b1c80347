"""The cohort finder: groups of at least k open enrolments that share what an admin can see and
act on, whose predicted dropout is above their course's, ranked by the dropouts a campaign could
prevent.

Observe: one row per open enrolment (`open_enrolments`), from marts and ML tables only
(`marts.learner_course_progress`, `marts.learners`, `marts.courses`, `ml.dropout_risk`). Its
attributes are the course (always shared), the enrolment week, the learner's segment, the module
where they stall (the next module they have not done) and the risk band.

Decide (`find`): every grouping of the course with any subset of the other four attributes is a
candidate (16 groupings); a candidate counts when it has at least `k` members (the k-anonymity
setting: no campaign addresses fewer people than an instructor may see) and its mean predicted
risk exceeds the course's base rate. The base rate is the mean predicted risk of the course's
open enrolments: a course whose earlier runs dropped more is no reason to single out anyone in
it, only being riskier than one's classmates is. Candidates overlap, and a learner should get one
campaign per course, so cohorts are chosen greedily by expected prevented dropouts

    size x mean risk x EXPECTED_LIFT

each candidate counted on the members no better cohort took (lazy greedy: a candidate whose
value fell since it was queued is re-queued, so the next cohort taken is always the best left).
What is left of a candidate must still be at least k members, riskier than the course.

Write: one run of `agents.cohorts` (aggregates: sizes, rates, the sentence; no learner) and
`agents.cohort_members` (run, cohort, learner_key: learner data, so erased and exported with the
warehouse by `pathwise/rights/stores.py`, which covers every warehouse table with a learner_key).

Measured (`python -m benchmarks.agents`): a run over 300k open enrolments of 100k learners in
2,000 courses (read, find 3,450 cohorts, write) takes 18.9 s, median of 3, on 2 cores at load 9-13.
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import numpy as np
import polars as pl

from pathwise.settings import get_settings

# Assumed relative reduction of a cohort member's dropout probability by a campaign, used only to
# rank cohorts until campaigns have measured uplift (agents/uplift.py). 5% is deliberately modest:
# the largest randomised nudge studies in online courses found effects of a few percent at most,
# often indistinguishable from zero (Kizilcec et al. 2020, PNAS 117:14900).
EXPECTED_LIFT = 0.05
# The attributes a cohort may share besides its course, in the order a sentence names them.
ATTRIBUTES = ("enrolment_week", "segment", "stall_module_id", "risk_band")
OPEN_STATUSES = ("active", "stalled")  # learner_course_progress.status of an open enrolment

_OPEN_ENROLMENTS = f"""
    select
        r.learner_key,
        r.course_id,
        coalesce(c.course_title, r.course_id) as course_title,
        cast(date_trunc('week', p.enrolled_at) as date) as enrolment_week,
        coalesce(l.segment, 'unknown') as segment,
        coalesce(p.next_module_id, '(none left)') as stall_module_id,
        coalesce(p.next_module_title, p.next_module_id, 'no module left') as stall_module_title,
        r.risk_band,
        r.risk,
        r.used_for_decisions
    from warehouse.ml.dropout_risk as r
    join warehouse.marts.learner_course_progress as p using (learner_key, course_id)
    left join warehouse.marts.learners as l using (learner_key)
    left join warehouse.marts.courses as c using (course_id)
    where p.status in {OPEN_STATUSES}
    order by r.course_id, r.learner_key  -- ties between cohorts are broken by row order
"""


def open_enrolments(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per open enrolment with a predicted risk, with the attributes cohorts share."""
    try:
        return pl.from_arrow(con.execute(_OPEN_ENROLMENTS).to_arrow_table())
    except duckdb.CatalogException as e:
        raise RuntimeError(
            "The cohort finder reads marts.learner_course_progress, marts.learners, "
            "marts.courses and ml.dropout_risk: run `pathwise nightly` (or `pathwise build` and "
            f"the dropout step) first. ({e})"
        ) from e


@dataclass(frozen=True)
class Found:
    """A run's cohorts (one row each, best first) and their members (row indices into the
    enrolments the run was given)."""

    cohorts: pl.DataFrame
    members: list[np.ndarray]


def _candidates(df: pl.DataFrame, k: int) -> pl.DataFrame:
    """Every grouping of course + a subset of ATTRIBUTES with >= k members, riskier than its
    course: attributes not shared are null; `rows` lists the members' row indices.

    An attribute every open enrolment of the course shares (OULAD's segment is 'unknown' for
    all) says nothing about a cohort, so groupings by it are left out in that course."""
    per_course = df.group_by("course_id", maintain_order=True).agg(
        pl.col("risk").mean().alias("base_rate"),
        *(pl.col(a).n_unique().gt(1).alias(f"_varies_{a}") for a in ATTRIBUTES),
    )
    frames, columns = [], ["course_id", *ATTRIBUTES, "size", "risk", "rows"]
    for n in range(len(ATTRIBUTES) + 1):
        for shared in itertools.combinations(ATTRIBUTES, n):
            groups = (
                df.group_by("course_id", *shared, maintain_order=True)
                .agg(size=pl.len(), risk=pl.col("risk").mean(), rows=pl.col("row"))
                .filter(pl.col("size") >= k)
                .join(per_course, on="course_id", maintain_order="left")
                .filter(
                    pl.col("risk") > pl.col("base_rate"), *(pl.col(f"_varies_{a}") for a in shared)
                )
            )
            if groups.height:
                missing = [
                    pl.lit(None, df.schema[a]).alias(a) for a in ATTRIBUTES if a not in shared
                ]
                frames.append(groups.with_columns(missing).select(*columns, "base_rate"))
    return pl.concat(frames) if frames else pl.DataFrame()


def find(df: pl.DataFrame, k: int | None = None, lift: float = EXPECTED_LIFT) -> Found:
    """Choose cohorts from open enrolments `df` (columns of `open_enrolments`): disjoint groups of
    >= k enrolments sharing the course and some attributes, riskier than their course, best
    first by expected prevented dropouts (see the module docstring)."""
    k = get_settings().k_anonymity if k is None else k
    df = df.with_row_index("row")
    cands = _candidates(df, k)
    empty = Found(_cohort_frame([]), [])
    if cands.is_empty():
        return empty
    risk = df["risk"].to_numpy().astype(float)
    rows = [np.asarray(r, dtype=np.int64) for r in cands["rows"].to_list()]
    base = cands["base_rate"].to_numpy()
    # Ties: the more specific cohort first (more shared attributes), then a fixed order.
    shared = cands.select(pl.sum_horizontal(pl.col(a).is_not_null() for a in ATTRIBUTES))
    values = (cands["size"] * cands["risk"] * lift).to_list()
    heap = [(-v, -n, i) for i, (v, n) in enumerate(zip(values, shared.to_series(), strict=True))]
    heapq.heapify(heap)
    taken = np.zeros(df.height, dtype=bool)
    chosen, members = [], []
    while heap:
        stored, tie, i = heapq.heappop(heap)
        free = rows[i][~taken[rows[i]]]
        if len(free) < k or risk[free].mean() <= base[i]:
            continue  # no longer a cohort: too few left, or what is left is not riskier
        value = len(free) * risk[free].mean() * lift
        if heap and value < -heap[0][0] and value < -stored:
            heapq.heappush(heap, (-value, tie, i))  # worth less than when queued: re-rank
            continue
        taken[free] = True
        chosen.append((i, len(free), float(risk[free].mean()), value))
        members.append(np.sort(free))
    used = df["used_for_decisions"].to_numpy().astype(bool)
    cohorts = []
    for rank, ((i, size, mean_risk, value), m) in enumerate(zip(chosen, members, strict=True), 1):
        c = cands.row(i, named=True)
        first = df.row(int(m[0]), named=True)
        cohorts.append(
            {
                "rank": rank,
                "course_id": c["course_id"],
                "course_title": first["course_title"],
                **{a: c[a] for a in ATTRIBUTES},
                "stall_module_title": first["stall_module_title"] if c["stall_module_id"] else None,
                "size": size,
                "mean_risk": mean_risk,
                "base_rate": float(c["base_rate"]),
                "expected_lift": lift,
                "expected_prevented": value,
                "trusted_share": float(used[m].mean()),
            }
        )
    frame = _cohort_frame(cohorts)
    return Found(
        frame.with_columns(explanation=pl.Series(explain(frame), dtype=pl.String)), members
    )


_COHORT_SCHEMA = {
    "rank": pl.Int32,
    "course_id": pl.String,
    "course_title": pl.String,
    "enrolment_week": pl.Date,
    "segment": pl.String,
    "stall_module_id": pl.String,
    "risk_band": pl.String,
    "stall_module_title": pl.String,
    "size": pl.Int64,
    "mean_risk": pl.Float64,
    "base_rate": pl.Float64,
    "expected_lift": pl.Float64,
    "expected_prevented": pl.Float64,
    # share of members whose risk comes from a checkpoint the dropout gate trusts for decisions
    "trusted_share": pl.Float64,
}


def _cohort_frame(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=_COHORT_SCHEMA)
    return frame if rows else frame.with_columns(explanation=pl.lit(None, pl.String))


def explain(cohorts: pl.DataFrame) -> list[str]:
    """One plain sentence per cohort: who they are, how risky, and what a campaign could do."""
    out = []
    for c in cohorts.iter_rows(named=True):
        who = [f"{c['size']} learners in {c['course_title']}"]
        if c["enrolment_week"] is not None:
            who.append(f"who enrolled in the week of {c['enrolment_week']:%d %b %Y}")
        if c["segment"] is not None:
            who.append(f"from the {c['segment']} segment")
        if c["stall_module_id"] is not None:
            who.append(f"stalled before {c['stall_module_title']}")
        if c["risk_band"] is not None:
            who.append(f"with {c['risk_band']} dropout risk")
        out.append(
            f"{', '.join(who)}: predicted dropout {c['mean_risk']:.0%} against "
            f"{c['base_rate']:.0%} for the course, so about {c['expected_prevented']:.1f} "
            f"dropouts prevented if a campaign lowers it by {c['expected_lift']:.0%}."
        )
    return out


COHORTS_DDL = """
create schema if not exists warehouse.agents;
create table if not exists warehouse.agents.cohorts (
    run_id             varchar not null,
    found_at           timestamp with time zone not null,
    cohort_id          varchar not null,   -- <run_id>-<rank>
    rank               integer not null,   -- 1 = most expected prevented dropouts
    course_id          varchar not null,
    course_title       varchar,
    enrolment_week     date,               -- null: not a shared attribute of this cohort
    segment            varchar,
    stall_module_id    varchar,
    risk_band          varchar,
    stall_module_title varchar,
    size               bigint not null,    -- >= k_anonymity
    mean_risk          double not null,
    base_rate          double not null,    -- mean predicted risk of the course's open enrolments
    expected_lift      double not null,
    expected_prevented double not null,    -- size x mean_risk x expected_lift
    trusted_share      double,
    explanation        varchar not null
);
create table if not exists warehouse.agents.cohort_members (
    run_id      varchar not null,
    cohort_id   varchar not null,
    learner_key varchar not null,
    course_id   varchar not null,
    risk        double not null
);
"""


def write(con: duckdb.DuckDBPyConnection, found: Found, enrolments: pl.DataFrame) -> str:
    """Append one run to `agents.cohorts` and `agents.cohort_members`; returns its run id."""
    found_at = datetime.now(UTC)
    run_id = f"{found_at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:4]}"  # sorts by time
    cohorts = found.cohorts.with_columns(
        run_id=pl.lit(run_id),
        found_at=pl.lit(found_at),
        cohort_id=pl.format("{}-{}", pl.lit(run_id), pl.col("rank")),
    )
    member_rows = [
        enrolments[m].select("learner_key", "course_id", "risk").with_columns(cohort_id=pl.lit(cid))
        for cid, m in zip(cohorts["cohort_id"], found.members, strict=True)
    ]
    members = (
        pl.concat(member_rows) if member_rows else pl.DataFrame(
            schema={"learner_key": pl.String, "course_id": pl.String, "risk": pl.Float64,
                    "cohort_id": pl.String}
        )
    ).with_columns(run_id=pl.lit(run_id))  # fmt: skip
    con.execute(COHORTS_DDL)
    con.register("_cohorts", cohorts.to_arrow())
    con.register("_members", members.to_arrow())
    try:
        con.execute("begin")
        con.execute("insert into warehouse.agents.cohorts by name select * from _cohorts")
        con.execute("insert into warehouse.agents.cohort_members by name select * from _members")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_cohorts")
        con.unregister("_members")
    return run_id


def run(con: duckdb.DuckDBPyConnection, k: int | None = None) -> dict:
    """Observe, decide, write: one cohort run over the warehouse. Returns a summary."""
    enrolments = open_enrolments(con)
    found = find(enrolments, k)
    run_id = write(con, found, enrolments)
    return {
        "run_id": run_id,
        "open_enrolments": enrolments.height,
        "cohorts": found.cohorts.height,
        "members": int(sum(len(m) for m in found.members)),
        "expected_prevented": float(found.cohorts["expected_prevented"].sum() or 0.0),
    }


def latest(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The cohorts of the latest run, best first (empty before the first run)."""
    con.execute(COHORTS_DDL)
    return pl.from_arrow(
        con.execute(
            """
            select * from warehouse.agents.cohorts
            where run_id = (select max(run_id) from warehouse.agents.cohorts)
            order by rank
            """
        ).to_arrow_table()
    )
