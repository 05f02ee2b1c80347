"""The cohort finder (agents/cohorts.py): hand-made enrolments with a known answer, invariants on
random ones, and a run over real marts and ML tables in a DuckDB warehouse."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl
import pytest

from agents import cohorts
from pathwise.rights.stores import covering
from pathwise.settings import get_settings
from pathwise.warehouse import connect

K = 10


def enrolments(rows: list[tuple]) -> pl.DataFrame:
    """(learner, course, week, segment, module, band, risk) -> the finder's input."""
    df = pl.DataFrame(
        rows,
        schema=[
            "learner_key", "course_id", "enrolment_week", "segment", "stall_module_id",
            "risk_band", "risk",
        ],
        orient="row",
    )  # fmt: skip
    return df.with_columns(
        course_title=pl.lit("Course ") + pl.col("course_id"),
        stall_module_title=pl.lit("Module ") + pl.col("stall_module_id"),
        used_for_decisions=pl.lit(True),
    )


W1, W2 = date(2026, 3, 2), date(2026, 3, 9)


def _course_a(stalled: int) -> list[tuple]:
    """`stalled` learners of the data segment stuck before module m3 at high risk; 18 others at
    low risk, over other modules, all enrolled in the first week."""
    rows = [(f"s{i}", "a", W1 if i % 2 else W2, "data", "m3", "high", 0.8) for i in range(stalled)]
    for i in range(18):
        rows.append((f"o{i}", "a", W1, "web", f"m{i % 3}", "low", 0.1))
    return rows


def test_finds_the_risky_group_that_stalls_on_one_module():
    found = cohorts.find(enrolments(_course_a(12)), k=K)
    assert found.cohorts.height == 1
    c = found.cohorts.row(0, named=True)
    assert c["stall_module_id"] == "m3" and c["size"] == 12
    assert c["mean_risk"] == pytest.approx(0.8)
    assert c["base_rate"] == pytest.approx((12 * 0.8 + 18 * 0.1) / 30)
    assert c["expected_prevented"] == pytest.approx(12 * 0.8 * cohorts.EXPECTED_LIFT)
    assert c["enrolment_week"] is None  # the 12 enrolled in two weeks: not a shared attribute
    members = enrolments(_course_a(12))[found.members[0]]["learner_key"].to_list()
    assert sorted(members) == sorted(f"s{i}" for i in range(12))
    sentence = c["explanation"]
    assert sentence.startswith("12 learners in Course a")
    assert "from the data segment, stalled before Module m3, with high dropout risk" in sentence
    assert "80% against 38%" in sentence


def test_ranks_by_expected_prevented_dropouts_not_by_risk():
    """18 learners at 57% (10.2 expected dropouts) outrank 12 of them at 80% (9.6): the ranking
    is size x risk x lift, so a broader group above its course's rate can win."""
    rows = _course_a(12)
    rows = [r if i < 12 or i % 3 else (*r[:3], "data", *r[4:]) for i, r in enumerate(rows)]
    rows += [(f"x{i}", "a", W1, "web", "m9", "low", 0.1) for i in range(6)]
    found = cohorts.find(enrolments(rows), k=K)
    top = found.cohorts.row(0, named=True)
    assert (top["segment"], top["stall_module_id"], top["size"]) == ("data", None, 18)


def test_no_cohort_smaller_than_k():
    found = cohorts.find(enrolments(_course_a(K - 1)), k=K)
    assert found.cohorts.is_empty() and found.members == []


def test_a_group_no_riskier_than_its_course_is_not_a_cohort():
    rows = [(f"l{i}", "b", W1, "data", "m1", "medium", 0.4) for i in range(30)]
    assert cohorts.find(enrolments(rows), k=K).cohorts.is_empty()


def test_k_comes_from_the_settings(monkeypatch):
    monkeypatch.setenv("PATHWISE_K_ANONYMITY", "13")
    get_settings.cache_clear()
    try:
        assert cohorts.find(enrolments(_course_a(12))).cohorts.is_empty()
        assert cohorts.find(enrolments(_course_a(13))).cohorts.height == 1
    finally:
        get_settings.cache_clear()


def random_enrolments(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    risk = rng.beta(2, 4, n)
    return enrolments(
        list(
            zip(
                [f"l{i}" for i in range(n)],
                rng.choice(["a", "b", "c"], n).tolist(),
                rng.choice([W1, W2], n).tolist(),
                rng.choice(["data", "web", "unknown"], n).tolist(),
                rng.choice(["m1", "m2", "m3", "m4"], n, p=[0.4, 0.3, 0.2, 0.1]).tolist(),
                ["high" if r >= 0.5 else "medium" if r >= 0.2 else "low" for r in risk],
                risk.tolist(),
                strict=True,
            )
        )
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cohorts_are_disjoint_k_anonymous_riskier_than_their_course_and_share_what_they_say(seed):
    df = random_enrolments(3000, seed)
    found = cohorts.find(df, k=K)
    assert found.cohorts.height >= 3
    base = dict(df.group_by("course_id").agg(pl.col("risk").mean()).iter_rows())
    seen: set[int] = set()
    for c, m in zip(found.cohorts.iter_rows(named=True), found.members, strict=True):
        members = df[m]
        assert len(m) == c["size"] >= K
        assert not seen & set(m.tolist())
        seen |= set(m.tolist())
        assert members["risk"].mean() == pytest.approx(c["mean_risk"])
        assert c["mean_risk"] > base[c["course_id"]] == pytest.approx(c["base_rate"])
        assert members["course_id"].unique().to_list() == [c["course_id"]]
        for a in cohorts.ATTRIBUTES:
            if c[a] is not None:
                assert members[a].unique().to_list() == [c[a]]
    prevented = found.cohorts["expected_prevented"].to_list()
    assert prevented == sorted(prevented, reverse=True)
    assert found.cohorts["rank"].to_list() == list(range(1, found.cohorts.height + 1))


def test_every_enrolment_counts_once_in_the_expected_prevented_dropouts():
    """Candidates overlap; a cohort is counted on the members no better cohort took."""
    df = random_enrolments(3000, 4)
    found = cohorts.find(df, k=K)
    total = found.cohorts["expected_prevented"].sum()
    # every enrolment counted once: the total is the lift x the summed risk of the members
    members = np.concatenate(found.members)
    assert total == pytest.approx(df["risk"].to_numpy()[members].sum() * cohorts.EXPECTED_LIFT)


# ---------------------------------------------------------------- a run over the warehouse
def _write_marts(con, df: pl.DataFrame) -> None:
    """The finder's sources, as the dbt build and the dropout step leave them (only the columns
    it reads plus status)."""
    con.register("_df", df.to_arrow())
    con.execute(
        "create schema if not exists warehouse.marts; create schema if not exists warehouse.ml"
    )
    con.execute(
        """
        create table warehouse.ml.dropout_risk as
            select learner_key, course_id, risk, risk_band, used_for_decisions from _df;
        create table warehouse.marts.learner_course_progress as
            select learner_key, course_id, cast(enrolment_week as timestamp) as enrolled_at,
                   stall_module_id as next_module_id, stall_module_title as next_module_title,
                   'active' as status from _df
            union all  -- a completed enrolment is not open: never in a cohort
            select 'done', 'a', timestamp '2026-03-02', null, null, 'completed';
        create table warehouse.marts.learners as
            select distinct learner_key, segment from _df;
        create table warehouse.marts.courses as
            select distinct course_id, course_title from _df;
        """
    )
    con.unregister("_df")


def test_run_writes_cohorts_and_members_keyed_by_run(pathwise_home):
    df = enrolments(_course_a(12))
    with connect() as con:
        _write_marts(con, df)
        first = cohorts.run(con, k=K)
        second = cohorts.run(con, k=K)
        assert first["cohorts"] == second["cohorts"] == 1 and first["members"] == 12
        assert first["open_enrolments"] == 30
        latest = cohorts.latest(con)
        assert latest["run_id"].to_list() == [second["run_id"]]
        per_run = con.execute(
            "select run_id, count(*), count(distinct cohort_id) from warehouse.agents.cohort_members "
            "group by 1 order by 1"
        ).fetchall()
        assert per_run == [(first["run_id"], 12, 1), (second["run_id"], 12, 1)]
        found_at = con.execute("select max(found_at) from warehouse.agents.cohorts").fetchall()
        assert isinstance(found_at[0][0], datetime)
    # members hold learner keys: erased and exported with the warehouse; the cohort rows do not
    assert covering("warehouse", "agents", "cohort_members", {"learner_key", "run_id"})
    assert "learner_key" not in latest.columns
