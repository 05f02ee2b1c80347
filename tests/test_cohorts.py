"""The cohort finder (agents/cohorts.py): hand-made enrolments with a known answer, invariants on
random ones, and a run over real marts and ML tables in a DuckDB warehouse."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import pytest
from _cohort_marts import W1, W2, course_a, enrolments, write_marts

from agents import cohorts
from pathwise.rights.stores import covering
from pathwise.settings import get_settings
from pathwise.warehouse import connect

K = 10  # cohorts.find(k=K) in these tests, whatever the settings say


def test_finds_the_risky_group_that_stalls_on_one_module():
    found = cohorts.find(enrolments(course_a(12)), k=K)
    assert found.cohorts.height == 1
    c = found.cohorts.row(0, named=True)
    assert c["stall_module_id"] == "m3" and c["size"] == 12
    assert c["mean_risk"] == pytest.approx(0.8)
    assert c["base_rate"] == pytest.approx((12 * 0.8 + 18 * 0.1) / 30)
    assert c["expected_prevented"] == pytest.approx(12 * 0.8 * cohorts.EXPECTED_LIFT)
    assert c["enrolment_week"] is None  # the 12 enrolled in two weeks: not a shared attribute
    members = enrolments(course_a(12))[found.members[0]]["learner_key"].to_list()
    assert sorted(members) == sorted(f"s{i}a" for i in range(12))
    sentence = c["explanation"]
    assert sentence.startswith("12 learners in Course a")
    assert "from the data segment, stalled before Module m3, with high dropout risk" in sentence
    assert "80% against 38%" in sentence


def test_ranks_by_expected_prevented_dropouts_not_by_risk():
    """18 learners at 57% (10.2 expected dropouts) outrank 12 of them at 80% (9.6): the ranking
    is size x risk x lift, so a broader group above its course's rate can win."""
    rows = course_a(12)
    rows = [r if i < 12 or i % 3 else (*r[:3], "data", *r[4:]) for i, r in enumerate(rows)]
    rows += [(f"x{i}", "a", W1, "web", "m9", "low", 0.1) for i in range(6)]
    found = cohorts.find(enrolments(rows), k=K)
    top = found.cohorts.row(0, named=True)
    assert (top["segment"], top["stall_module_id"], top["size"]) == ("data", None, 18)


def test_no_cohort_smaller_than_k():
    found = cohorts.find(enrolments(course_a(K - 1)), k=K)
    assert found.cohorts.is_empty() and found.members == []


def test_a_group_no_riskier_than_its_course_is_not_a_cohort():
    rows = [(f"l{i}", "b", W1, "data", "m1", "medium", 0.4) for i in range(30)]
    assert cohorts.find(enrolments(rows), k=K).cohorts.is_empty()


def test_k_comes_from_the_settings(monkeypatch):
    monkeypatch.setenv("PATHWISE_K_ANONYMITY", "13")
    get_settings.cache_clear()
    try:
        assert cohorts.find(enrolments(course_a(12))).cohorts.is_empty()
        assert cohorts.find(enrolments(course_a(13))).cohorts.height == 1
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


def test_run_writes_cohorts_and_members_keyed_by_run(pathwise_home):
    df = enrolments(course_a(12))
    with connect() as con:
        write_marts(con, df)
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


def test_an_attribute_the_whole_course_shares_is_not_named():
    rows = [(*r[:3], "unknown", *r[4:]) for r in course_a(12)]  # OULAD: no segments
    c = cohorts.find(enrolments(rows), k=K).cohorts.row(0, named=True)
    assert c["segment"] is None and c["stall_module_id"] == "m3"
    assert "segment" not in c["explanation"]


def test_the_same_cohorts_whatever_order_the_rows_come_in():
    df = random_enrolments(3000, 5)
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=0)

    def chosen(frame: pl.DataFrame) -> list[tuple]:
        found = cohorts.find(frame, k=K)
        keys = [tuple(sorted(frame[m]["learner_key"].to_list())) for m in found.members]
        return list(zip(found.cohorts["explanation"].to_list(), keys, strict=True))

    assert chosen(df) == chosen(shuffled)
