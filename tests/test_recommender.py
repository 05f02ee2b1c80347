"""The hybrid recommender: rules on a hand-built catalog with known answers, implicit's
checkerboard, and a real nightly run on a small simulated warehouse checked against the warehouse.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from _growing_platform import build as growing_platform
from _growing_platform import grown
from typer.testing import CliRunner

from ml.recommender import (
    DIVERSITY_CAP,
    FORMATS,
    Hybrid,
    RecData,
    cold_start,
    collaborative,
    default_weights,
    diversified,
    eligible,
    model_version,
    names,
    rank,
    recommend_all,
)
from ml.recommender.nightly import WEIGHTS_VERSION
from ml.recommender.ranking import Rules, prerequisites_met
from ml.recommender.tuning import default_config
from pathwise import snapshots
from pathwise.controls import ControlError, ControlHistory, CourseControl, resolve_weights
from pathwise.warehouse import connect

T0 = datetime(2026, 3, 2, 9)
SMALL = {"factors": 4, "iterations": 5}

# course_id, title, category, difficulty, format, skills, prerequisite
CATALOG = [
    ("c-sql", "Intro to SQL", "data", 1, "reading", ["SQL"], None),
    ("c-sql2", "SQL Analytics", "data", 2, "reading", ["SQL", "Tableau"], "c-sql"),
    ("c-py", "Python Basics", "code", 1, "video", ["Python"], None),
    ("c-py2", "Python for Data", "code", 2, "hands-on", ["Python", "pandas"], "c-py"),
    ("c-xl", "Excel Essentials", "office", 1, "video", ["Excel"], None),
    ("c-viz", "Tableau Dashboards", "data", 2, "video", ["Tableau"], None),
    ("c-ml", "Machine Learning", "code", 3, "hands-on", ["Python", "scikit-learn"], None),
]
# learner -> [(course, kinds, day)]; kinds from the interaction events
HISTORY = {
    "ana": [("c-sql", ["enroll", "passed"], 0), ("c-py", ["enroll"], 3)],
    "ben": [("c-sql", ["enroll"], 1)],
    "dan": [("c-viz", ["enroll", "passed"], 0), ("c-xl", ["enroll", "passed"], 2)],
    "eve": [("c-xl", ["enroll", "dropped"], 4)],
}


def tiny_data() -> RecData:
    courses = pl.DataFrame(
        {
            "course_id": [c[0] for c in CATALOG],
            "title": [c[1] for c in CATALOG],
            "description": [None] * len(CATALOG),
            "category": [c[2] for c in CATALOG],
            "difficulty": [c[3] for c in CATALOG],
            "language": ["en"] * len(CATALOG),
            "primary_format": [c[4] for c in CATALOG],
        }
    )
    skills = pl.DataFrame(
        [(c[0], s) for c in CATALOG for s in c[5]], schema=["course_id", "skill"], orient="row"
    )
    prereqs = pl.DataFrame(
        [(c[0], c[6]) for c in CATALOG if c[6]],
        schema=["course_id", "prerequisite_course_id"],
        orient="row",
    )
    learners = pl.DataFrame(
        {
            "learner_key": ["ana", "ben", "cy", "dan", "eve"],
            "target_role": ["Data Analysts", None, "Data Analysts", None, None],
            "current_skills": [["Excel"], None, ["SQL"], None, None],
            "preferred_format": ["hands-on", None, None, "reading", None],
            "style_format": [None, None, None, "video", None],
        }
    )
    roles = pl.DataFrame(
        {"role": ["Data Analysts"] * 4, "skill": ["SQL", "Python", "Tableau", "Excel"]}
    )
    events = pl.DataFrame(
        [
            (who, course, kind, T0 + timedelta(days=day, hours=i), 1.0)
            for who, rows in HISTORY.items()
            for course, kinds, day in rows
            for i, kind in enumerate(kinds)
        ],
        schema=["learner_key", "course_id", "kind", "at", "value"],
        orient="row",
    )
    quizzes = pl.DataFrame(
        [  # ben is acing Intro to SQL (still in progress); eve struggled with Excel
            ("ben", "c-sql", T0 + timedelta(days=2), 0.85),
            ("ben", "c-sql", T0 + timedelta(days=3), 0.95),
            ("eve", "c-xl", T0 + timedelta(days=4, hours=2), 0.4),
        ],
        schema=["learner_key", "course_id", "at", "score"],
        orient="row",
    )
    return RecData(courses, skills, prereqs, learners, roles, events, quizzes)


@pytest.fixture(scope="module")
def tiny() -> Hybrid:
    return Hybrid(tiny_data(), params=SMALL)


def lists(h: Hybrid, weights=None, controls=(), n=10) -> dict[str, list[str]]:
    rows = np.arange(len(h.learner_keys))
    top = rank(h, rows, n, weights or default_weights(), controls=controls)[0]
    return {
        h.learner_keys[r]: [h.course_ids[c] for c in top[i] if c >= 0] for i, r in enumerate(rows)
    }


def test_rules_enrolled_prerequisites_and_difficulty(tiny):
    got = lists(tiny)
    # Never what the learner enrolled in or completed (dropped counts as enrolled too).
    for who, rows in HISTORY.items():
        assert not {c for c, _, _ in rows} & set(got[who]), who
    # Prerequisites: ana passed Intro to SQL; ben only enrolled (acing its quizzes does not
    # count); nobody passed Python Basics, has Python or passed a harder "code" course.
    assert "c-sql2" in got["ana"]
    assert "c-sql2" not in got["ben"]
    assert all("c-py2" not in got[w] for w in got)
    # Difficulty: advanced (3) only for dan, whose hardest passed course is intermediate (2).
    assert "c-ml" in got["dan"]
    assert all("c-ml" not in got[w] for w in ("ana", "ben", "cy", "eve"))
    # A learner with no history gets the beginner/intermediate courses without prerequisites,
    # and SQL Analytics: cy states SQL, all that its prerequisite Intro to SQL teaches.
    assert set(got["cy"]) == {"c-sql", "c-py", "c-xl", "c-viz", "c-sql2"}


def test_prerequisites_are_waived_by_the_skills_or_a_shown_level_on_the_topic(tiny):
    rows = np.array([tiny.lidx[k] for k in ("ana", "ben", "cy", "dan", "eve")])
    sql2 = tiny.course_ids.index("c-sql2")
    strict = prerequisites_met(tiny, rows, waivers=False)[:, sql2]
    met = prerequisites_met(tiny, rows)[:, sql2]
    # ana passed Intro to SQL; cy has its skill (SQL); dan passed Tableau Dashboards, an
    # intermediate "data" course: at or above the prerequisite's level on that topic.
    assert strict.tolist() == [True, False, False, False, False]
    assert met.tolist() == [True, False, True, True, False]
    assert "c-sql2" in lists(tiny)["dan"]


def test_level_fit_follows_the_level_shown_by_passes_and_quizzes(tiny):
    level_fit = tiny.signals["level_fit"]
    shown = {k: level_fit.shown_level[tiny.lidx[k]] for k in tiny.learner_keys}
    # ana passed a beginner course, dan an intermediate one, ben averages 0.9 on a beginner
    # course's quizzes; cy has done nothing and eve's quizzes (0.4) show no level.
    assert shown == {"ana": 1, "ben": 1, "cy": 0, "dan": 2, "eve": 0}
    assert tiny.course_ids[level_fit.level_course[tiny.lidx["dan"]]] == "c-viz"
    everything = np.ones((1, len(tiny.course_ids)), dtype=bool)
    dan = level_fit.score(np.array([tiny.lidx["dan"]]), everything)[0].tolist()
    fit = dict(zip(tiny.course_ids, dan, strict=True))
    assert fit["c-sql2"] == 1.0 and fit["c-sql"] == 0.5 and fit["c-ml"] == 0.5
    assert not level_fit.score(np.array([tiny.lidx["cy"], tiny.lidx["eve"]]), everything).any()
    # With only level_fit weighted, ben's beginner courses come before intermediate ones.
    only_level = dict.fromkeys(names(), 0.0) | {"level_fit": 1.0}
    ben = lists(tiny, only_level)["ben"]
    difficulty = dict(zip(tiny.course_ids, tiny.difficulty.tolist(), strict=True))
    assert [difficulty[c] for c in ben] == sorted(difficulty[c] for c in ben)


def control(control_id: int, course: str, action: str, amount: float = 0.0, **times):
    week_ago = datetime.now(UTC) - timedelta(days=7)
    times.setdefault("created_at", week_ago)
    times.setdefault("expires_at", None)
    return CourseControl(control_id, course, action, amount, "test", "ada", **times)


def test_suppression_removes_boost_lifts_and_ended_controls_are_ignored(tiny):
    now = datetime.now(UTC)
    history = ControlHistory(
        controls=(
            control(1, "c-viz", "suppress"),
            control(2, "c-py", "suppress", expires_at=now - timedelta(days=1)),
            control(3, "c-sql", "suppress", revoked_at=now - timedelta(hours=1)),
            control(4, "c-xl", "boost", 1.0),
        ),
        weights=(),
    )
    in_force = history.at(now).controls
    assert [c.control_id for c in in_force] == [1, 4]  # the expired and the revoked are gone
    got = lists(tiny, controls=in_force)
    assert all("c-viz" not in rows for rows in got.values())
    assert "c-py" in got["cy"] and "c-sql" in got["cy"]
    for who in ("ana", "ben", "cy"):  # eligible for Excel, which the boost puts first
        assert got[who][0] == "c-xl", who
    # A week ago the suppression of c-sql was in force: cy did not get it then.
    assert "c-sql" not in lists(tiny, controls=history.at(now - timedelta(days=1)).controls)["cy"]
    with pytest.raises(ControlError, match="boost"):
        lists(tiny, controls=[control(5, "c-xl", "pin")])


def test_diversity_cap_moves_excess_courses_of_a_category_down():
    top = np.array([[0, 1, 2, 3, 4, 5]])
    category = np.array([7, 7, 7, 7, 8, 9])  # four of category 7 lead the list
    got = diversified(top, category, cap=2)[0].tolist()
    assert got == [0, 1, 4, 5, 2, 3]  # tier 1: two of 7, then 8 and 9; tier 2: the rest
    assert diversified(top, category, cap=3)[0].tolist() == [0, 1, 2, 4, 5, 3]
    assert DIVERSITY_CAP >= 1
    # Padding (ineligible courses) goes last, and does not use up its category's places.
    valid = np.array([[True, False, True, True]])
    got = diversified(np.array([[0, 1, 2, 3]]), np.array([7, 8, 7, 9]), 1, valid)[0].tolist()
    assert got == [0, 3, 2, 1]


def test_checkerboard_is_completed_within_its_block():
    """Two groups of learners, each taking only its own five courses, each learner missing one:
    the missing course of the own block must outrank every course of the other block, for every
    collaborative model."""
    rows, cols = [], []
    for u in range(20):
        block = 0 if u < 10 else 5
        missing = block + u % 5
        for c in range(block, block + 5):
            if c != missing:
                rows.append(u)
                cols.append(c)
    X = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(20, 10))
    # BPR's default steps are sized for thousands of learners: on 80 pairs they complete the
    # blocks for about half of all seeds; these complete them for every seed tried (20 of 20).
    bpr = {"factors": 4, "learning_rate": 0.05, "iterations": 300}
    fits = (("als", {"factors": 4, "iterations": 20}), ("bpr", bpr), ("ease", {"l2": 1.0}))
    for algorithm, params in fits:
        scores = collaborative.fit(X, algorithm, params).score(np.arange(20))
        for u in range(20):
            block = 0 if u < 10 else 5
            other = [c for c in range(10) if not block <= c < block + 5]
            assert scores[u, block + u % 5] > scores[u, other].max(), (algorithm, u)


def test_rows_explain_themselves_and_add_up(tiny):
    recs = recommend_all(tiny, 10, default_weights())
    contrib = sum(recs[f"contrib_{s}"] for s in names()) + recs["boost"]
    assert (recs["score"] - contrib).abs().max() < 1e-9
    ana = recs.filter(pl.col("learner_key") == "ana")
    sql2 = ana.filter(pl.col("course_id") == "c-sql2").row(0, named=True)
    # Same category as the course ana passed; Tableau is a skill her target role needs.
    assert sql2["reason_courses"] == ["c-sql"]
    assert sql2["reason"].startswith("Recommended because you completed Intro to SQL")
    assert sql2["reason_role"] == "Data Analysts" and "Tableau" in sql2["reason_skills"]
    assert "your target role Data Analysts needs" in sql2["reason"]
    # Format: detected style first (dan), then the stated preference (ana), then the course's.
    fmt = dict(recs.group_by("learner_key").agg(pl.col("format_first").first()).iter_rows())
    assert fmt["dan"] == "video" and fmt["ana"] == "hands-on"
    ben = recs.filter(pl.col("learner_key") == "ben")
    titles = dict(zip(tiny.course_ids, tiny.courses["primary_format"], strict=True))
    assert ben["format_first"].to_list() == [titles[c] for c in ben["course_id"]]
    assert set(recs["rank"].to_list()) <= set(range(1, 11))


def test_cold_start_is_popular_and_startable(tiny):
    cold = cold_start(tiny, 10, default_weights())
    assert set(cold["course_id"]) == {"c-sql", "c-py", "c-xl", "c-viz"}  # no prereqs, level <= 2
    assert cold["rank"].to_list() == list(range(1, cold.height + 1))
    assert cold["reason"].str.starts_with("Popular with learners").all()
    # Most enrolled (Intro to SQL, Excel: 2 each) before the never-enrolled Python Basics.
    order = cold["course_id"].to_list()
    assert order.index("c-sql") < order.index("c-py") and order.index("c-xl") < order.index("c-py")


def test_weights_are_checked_and_versioned():
    defaults = default_weights()
    assert resolve_weights(defaults) == defaults
    assert resolve_weights(defaults, {"popularity": 0})["popularity"] == 0.0
    with pytest.raises(ValueError, match="Unknown signal"):
        resolve_weights(defaults, {"recency": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        resolve_weights(defaults, {"popularity": -1})
    config = default_config()
    assert model_version(config, defaults) == "hybrid-als-" + WEIGHTS_VERSION
    assert model_version(config, resolve_weights(defaults, {"popularity": 0.9})).startswith(
        "hybrid-als-" + WEIGHTS_VERSION + "+w"
    )


# -- a real nightly run on a simulated warehouse ---------------------------------------------------


def test_the_next_step_of_a_path_leads_the_list_within_the_rules(tiny):
    """ana completed Intro to SQL, the first step of her path: Tableau Dashboards, the next one,
    comes first, saying why; nobody else's list moves; the rules and suppressions still hold."""
    before = recommend_all(tiny, 10, default_weights())
    path = {"ana": (["c-sql", "c-viz", "c-sql2"], "Data Analysts")}
    after = recommend_all(tiny, 10, default_weights(), paths=path)
    ana_before = before.filter(pl.col("learner_key") == "ana")
    ana = after.filter(pl.col("learner_key") == "ana")
    assert ana_before["course_id"][0] != "c-viz" and "c-viz" in ana_before["course_id"]
    first = ana.row(0, named=True)
    assert first["course_id"] == "c-viz"
    assert first["reason"] == "Next step of your path to Data Analysts"
    assert first["reason_role"] == "Data Analysts" and first["reason_courses"] == []
    # Its contributions are its own (as before the pin), so its score still adds up.
    was = ana_before.filter(pl.col("course_id") == "c-viz").row(0, named=True)
    assert all(first[f"contrib_{s}"] == was[f"contrib_{s}"] for s in names())
    contrib = sum(after[f"contrib_{s}"] for s in names()) + after["boost"]
    assert (after["score"] - contrib).abs().max() < 1e-9
    # The rest of her list keeps its order; everyone else's list is what it was.
    assert ana["course_id"].to_list()[1:] == [c for c in ana_before["course_id"] if c != "c-viz"]
    others = pl.col("learner_key") != "ana"
    assert after.filter(others).equals(before.filter(others))

    # A suppressed next step is not forced in: her list is the one without a path.
    hidden = [control(1, "c-viz", "suppress")]
    suppressed = recommend_all(tiny, 10, default_weights(), controls=hidden, paths=path)
    assert suppressed.equals(recommend_all(tiny, 10, default_weights(), controls=hidden))
    # Nor one she is enrolled in (Python Basics) or whose prerequisite she has not met.
    for steps in (["c-py"], ["c-py2"]):
        got = recommend_all(tiny, 10, default_weights(), paths={"ana": (steps, "Data Analysts")})
        assert got.equals(before), steps


@pytest.fixture(scope="module")
def sim_home(tmp_path_factory, prefect_harness) -> Path:
    """A small simulated platform, ingested and built with dbt, then ranked by the recommender
    (its first days: tests/_growing_platform.py)."""
    return growing_platform(tmp_path_factory) / "home"


@pytest.fixture
def sim_con(sim_home, monkeypatch):
    from pathwise.settings import get_settings

    monkeypatch.setenv("PATHWISE_HOME", str(sim_home))
    monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", "")
    get_settings.cache_clear()
    with connect() as con:
        yield con
    get_settings.cache_clear()


def q(con, sql: str) -> pl.DataFrame:
    return pl.from_arrow(con.execute(sql).to_arrow_table())


def test_simulated_reasons_name_the_learners_own_courses_skills_and_roles(sim_con):
    recs = q(sim_con, "select * from ml.recommendations")
    history = q(
        sim_con,
        "select learner_key, list(distinct course_id) as taken from staging.stg_pathwise__enrolments "
        "group by 1",
    )
    titles = dict(
        q(sim_con, "select course_id, course_title from staging.stg_pathwise__courses").iter_rows()
    )
    roles = dict(q(sim_con, "select learner_key, target_role from marts.learners").iter_rows())
    role_skills = q(
        sim_con,
        "select rs.role_title, list(s.skill_name) as skills from reference.role_skills rs "
        "join reference.skills s using (skill_id) group by 1",
    )
    role_skills = {r: set(s) for r, s in role_skills.iter_rows()}
    course_skills = q(
        sim_con,
        "select course_id, list(skill_name) as skills from staging.stg_pathwise__course_skills group by 1",
    )
    course_skills = {c: set(s) for c, s in course_skills.iter_rows()}
    taken = {k: set(v) for k, v in history.iter_rows()}
    named = 0
    for r in recs.iter_rows(named=True):
        for c in r["reason_courses"]:
            assert c in taken.get(r["learner_key"], set()), r
            assert titles[c] in r["reason"], r
        if r["reason_skills"]:
            role = roles[r["learner_key"]]
            assert r["reason_role"] == role and role in r["reason"], r
            for s in r["reason_skills"]:
                assert s in role_skills[role] and s in course_skills[r["course_id"]], r
                assert s in r["reason"], r
        if r["reason_courses"] or r["reason_skills"]:
            named += 1
        else:
            assert r["reason"].startswith("Popular with learners"), r
        assert r["format_first"] in FORMATS
    assert named / recs.height > 0.9  # nearly every row names the learner's own data


def test_served_quality_is_reported_per_history_segment_and_adds_up(sim_con):
    """The model card's segments: NDCG@10 of the served configuration per band of history, on
    the learners the weights were tuned on; weighted by learners they give the overall figure."""
    from ml.model_cards import build

    validation = json.loads(q(sim_con, "select validation from ml.recommendation_model")[0, 0])
    segments = validation["segments"]
    assert len(segments) >= 2
    total = sum(s["learners"] for s in segments.values())
    assert total == validation["validation_learners"]
    weighted = sum(s["served"] * s["learners"] for s in segments.values()) / total
    assert weighted == pytest.approx(validation["ndcg"]["served"])
    card = build(sim_con).filter(pl.col("model") == "recommender")["card"].item()
    for name, s in segments.items():
        said = f"NDCG@10 {s['served']:.3f} served" if s["learners"] >= 20 else "too few to judge"
        assert f"{name} ({s['learners']:,} learners): {said}" in card


def test_simulated_lists_follow_the_rules_and_add_up(sim_con):
    recs = q(sim_con, "select * from ml.recommendations")
    assert recs["model_version"].n_unique() == 1
    contrib = sum(recs[f"contrib_{s}"] for s in names()) + recs["boost"]
    assert (recs["score"] - contrib).abs().max() < 1e-9
    enrolled_again = q(
        sim_con,
        "select count(*) as n from ml.recommendations r join staging.stg_pathwise__enrolments e "
        "using (learner_key, course_id)",
    )
    assert enrolled_again["n"][0] == 0
    # Every prerequisite met: passed, or waived (all its skills, or a pass at its level on its
    # topic), re-derived here in SQL from staging.
    unmet = q(
        sim_con,
        """with passed as (
               select learner_key, course_id from staging.stg_pathwise__course_ends where is_passed
           ),
           has_skill as (
               select learner_key, unnest(current_skills) as skill from marts.learners
               union
               select p.learner_key, s.skill_name from passed p
               join staging.stg_pathwise__course_skills s using (course_id)
           ),
           not_passed as (
               select r.learner_key, r.course_id, p.prerequisite_course_id as pre
               from ml.recommendations r
               join staging.stg_pathwise__course_prerequisites p using (course_id)
               where not exists (select 1 from passed x where x.learner_key = r.learner_key
                                 and x.course_id = p.prerequisite_course_id)
           ),
           waived as (
               select *,
                   exists (select 1 from staging.stg_pathwise__course_skills s
                           where s.course_id = n.pre)
                   and not exists (
                       select 1 from staging.stg_pathwise__course_skills s
                       where s.course_id = n.pre and s.skill_name not in (
                           select skill from has_skill h where h.learner_key = n.learner_key))
                   as by_skills,
                   exists (
                       select 1 from passed x
                       join staging.stg_pathwise__courses c on c.course_id = x.course_id
                       join staging.stg_pathwise__courses pc on pc.course_id = n.pre
                       where x.learner_key = n.learner_key and c.category = pc.category
                         and c.difficulty >= pc.difficulty) as by_level
               from not_passed n
           )
           select count(*) as n, count(*) filter (where not by_skills and not by_level) as unmet
           from waived""",
    )
    assert unmet["unmet"][0] == 0
    assert unmet["n"][0] > 0  # the waivers are used: some learners skip a prerequisite
    # Top-k complete: ranks 1..n without holes, n = 10 or every course the learner may take.
    ranks = recs.group_by("learner_key").agg(n=pl.len(), top=pl.col("rank").max())
    assert (ranks["n"] == ranks["top"]).all()
    learners = q(sim_con, "select learner_key from marts.learners")
    assert set(ranks["learner_key"]) == set(learners["learner_key"])
    from ml.recommender import load_data

    served = q(sim_con, "select rules from ml.recommendation_model")["rules"][0]
    h = Hybrid(load_data(sim_con), params={"factors": 4, "iterations": 2})
    rows = np.array([h.lidx[k] for k in ranks["learner_key"]])
    may_take = eligible(h, rows, Rules(**json.loads(served))).sum(axis=1)
    assert (ranks["n"].to_numpy() == np.minimum(10, may_take)).all()
    cold = q(sim_con, "select * from ml.recommendations_cold_start")
    assert cold.height == 10 and cold["reason"].str.starts_with("Popular").all()


def test_evaluate_recs_command_records_every_method(sim_home, monkeypatch):
    from cli import app
    from pathwise.settings import get_settings

    monkeypatch.setenv("PATHWISE_HOME", str(sim_home))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["evaluate", "recs", "--no-tune", "--k", "5"])
    assert result.exit_code == 0, result.output
    assert "served" in result.output and "ndcg@5" in result.output
    with connect(read_only=True) as con:
        rows = q(con, "select method, metric, k, value from ml.evaluations where kind = 'recs'")
    get_settings.cache_clear()
    assert set(rows["method"]) >= {
        "served",
        "als_untuned",
        "als_tuned",
        "popularity",
        "served_without_diversity_cap",
        "served_without_prerequisites",
    }
    assert set(rows["metric"]) >= {"precision", "recall", "ndcg", "map", "coverage"}
    assert (rows["k"] == 5).all() and rows["value"].is_between(0, 1).all()


def test_the_served_table_is_scored_against_what_learners_did_next(
    tmp_path_factory, monkeypatch, prefect_harness
):
    """The snapshot published after day 15, against the enrolments of days 16-21 (ingested and
    built by the nightly's incremental build: tests/_growing_platform.py)."""
    from cli import app
    from pathwise.settings import get_settings

    monkeypatch.setenv("PATHWISE_HOME", str(grown(tmp_path_factory)["home"]))
    monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", "")
    get_settings.cache_clear()
    served = snapshots.require_current()
    result = CliRunner().invoke(app, ["evaluate", "recs", "--served", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    with connect(read_only=True) as con:
        later = q(
            con,
            "select count(distinct learner_key) as n from staging.stg_pathwise__enrolments "
            f"where enrolled_at > '{report['data_until']}'",
        )["n"][0]
        rows = q(con, "select method from ml.evaluations where kind = 'recs_served'")
    get_settings.cache_clear()
    assert report["snapshot"] == served.version
    assert 0 < report["split"]["test_learners"] <= later
    assert set(report["results"]) == {"served", "popularity", "als_untuned", "als_tuned"}
    assert all(0 <= r["ndcg"] <= 1 for r in report["results"].values())
    assert report["results"]["served"]["ndcg"] > 0  # the lists found some of what came next
    assert set(rows["method"]) == set(report["results"])


def test_a_new_signal_is_one_module_and_everything_picks_it_up(tmp_path):
    """A toy signal, declared and registered here alone, reaches the blend and its contribution
    column, the weights' validation, the reasons, the signals table the app's sliders read, and
    the evaluation's weight grid."""
    from ml.recommender.nightly import signals_table
    from ml.recommender.signals import Reason, Signal, register, unregister
    from ml.recommender.tuning import weight_grid
    from pathwise.controls import ControlStore

    @register
    class Newness(Signal):
        name = "newness"
        order = 5  # first in the blend, so first in the reasons
        default_weight = 0.0
        label = "New in the catalog"
        description = "1 for courses added this month."
        grid = (0.0, 2.0)

        def score(self, rows, ok):
            new = np.array([c == "c-viz" for c in self.model.course_ids], dtype=np.float32)
            return np.broadcast_to(new, ok.shape)

        def reason(self, long):
            return long, Reason(
                key="newness",
                applies=pl.col("contrib_newness") > 0,
                text=pl.lit("it is new in the catalog"),
            )

    try:
        assert names()[0] == "newness" and default_weights()["newness"] == 0.0
        model = Hybrid(tiny_data(), params=SMALL)
        weights = resolve_weights(default_weights(), {"newness": 5.0})
        recs = recommend_all(model, 10, weights)
        viz = recs.filter(pl.col("course_id") == "c-viz")
        assert viz.height and (viz["contrib_newness"] == 5.0).all() and (viz["rank"] == 1).all()
        assert viz["reason"].str.starts_with("Recommended because it is new in the catalog").all()
        others = recs.filter(pl.col("course_id") != "c-viz")
        assert (others["contrib_newness"] == 0).all()
        assert not others["reason"].str.contains("new in the catalog").any()
        store = ControlStore(tmp_path / "controls.sqlite")
        store.set_weights({"newness": 1.0}, reason="try it", actor="ada", known=names())
        assert store.in_force().weights(default_weights())["newness"] == 1.0
        table = signals_table(default_weights(), weights, "v", datetime.now(UTC))
        assert table.row(0, named=True) | {"generated_at": None} == {
            "signal": "newness",
            "position": 1,
            "label": "New in the catalog",
            "description": "1 for courses added this month.",
            "default_weight": 0.0,
            "weight": 5.0,
            "model_version": "v",
            "generated_at": None,
        }
        assert weight_grid()["newness"] == (0.0, 2.0)
    finally:
        unregister("newness")
    assert "newness" not in names()
    with pytest.raises(ControlError, match="Unknown signal 'newness'"):
        ControlStore(tmp_path / "controls.sqlite").set_weights(
            {"newness": 1.0}, reason="gone", actor="ada", known=names()
        )
