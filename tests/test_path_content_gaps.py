"""Skills learners' path goals need and no course teaches reach the instructors' content gaps.

The `paths` agent counts them per skill over the stored paths (tonight's catalog decides what is
taught), writes the k-anonymous aggregate to `agents.uncovered_skill_demand`, and the next build's
`content_gaps` shows the count beside the skill. End to end on a hand-made warehouse at k = 3:
a real dbt build of the catalog and insights marts, paths planned by the planner and kept in the
real path store, the real agent, a second real build.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from agents.paths import nightly
from agents.paths.catalog import load_catalog
from agents.paths.planner import Catalog, Course, Goal, plan, skill_key
from agents.paths.serving import goal_to_dict, path_to_dict
from flows.build import build_flow
from pathwise.learning_paths import PathStore
from pathwise.settings import get_settings
from pathwise.warehouse import connect

T0 = datetime(2026, 3, 2, 9, 0)
SELECT = (
    "+content_gaps +unmatched_search_topics +marts.catalog +course_kpis +learner_course_progress"
)
AFTER_AGENT = "stg_agents__uncovered_skill_demand+"  # what the agent's table changes


def goal(names: list[str]) -> Goal:
    return Goal(
        role="Platform engineers",
        skills=frozenset(skill_key(n) for n in names),
        hours_per_week=5,
        start=T0.date(),
        skill_names={skill_key(n): n for n in names},
    )


def stored_path(catalog: Catalog, names: list[str], known: tuple[str, ...] = ()) -> dict:
    """A path as onboarding stores it (serving._plan_first): known skills are names."""
    return path_to_dict(plan(catalog, goal(names), known=known), known=known)


def small_catalog(*extra: Course) -> Catalog:
    return Catalog(
        [
            Course("c-py", "Python for data work", frozenset({"python"}), 3.0),
            Course("c-sql", "SQL basics", frozenset({"sql"}), 2.0),
            *extra,
        ]
    )


def test_demand_counts_learners_who_lack_an_untaught_skill_and_leaves_small_groups_out():
    catalog = small_catalog()
    paths = [stored_path(catalog, ["Python", "Kubernetes", "Docker"]) for _ in range(2)]
    paths += [stored_path(catalog, ["SQL", "Kubernetes"]) for _ in range(2)]
    paths.append(stored_path(catalog, ["Kubernetes", "Python"], known=("Kubernetes",)))
    # Kubernetes: 4 learners (the fifth knows it); Docker: 2; Python and SQL are taught.
    assert nightly.uncovered_demand(catalog, paths, k=2) == {"Docker": 2, "Kubernetes": 4}
    assert nightly.uncovered_demand(catalog, paths, k=3) == {"Kubernetes": 4}
    # A course teaching Kubernetes joins the catalog: the demand goes the same night, though
    # the stored paths still list it as uncovered.
    taught = small_catalog(Course("c-k8s", "Kubernetes", frozenset({"kubernetes"}), 4.0))
    assert "Kubernetes" in paths[0]["uncovered"]
    assert nightly.uncovered_demand(taught, paths, k=2) == {"Docker": 2}


def write_catalog_and_events() -> None:
    """Two courses (Python, SQL) and a few events, as ingestion writes them."""
    loaded = T0 + timedelta(days=1)
    with connect(vault=True) as con:
        con.executemany(
            "insert into raw.catalog_courses values (?, ?, null, 'data', 1, 'i1', 'en', 'video', ?)",
            [("c-py", "Python for data work", loaded), ("c-sql", "SQL basics", loaded)],
        )
        con.executemany(
            "insert into raw.catalog_modules values (?, ?, 1, null, 60.0, 'video', ?, null)",
            [("c-py", "c-py-m1", loaded), ("c-sql", "c-sql-m1", loaded)],
        )
        con.executemany(
            "insert into raw.catalog_course_skills values (?, ?, ?)",
            [("c-py", "Python", loaded), ("c-sql", "SQL", loaded)],
        )
        rows = [
            (f"e{i}", "enroll", T0 + timedelta(minutes=i), f"lk{i}", f"s{i}", "c-py", None,
             json.dumps({}), "b" * 64, loaded)
            for i in range(3)
        ]  # fmt: skip
        con.executemany(
            "insert into raw.events values ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10)", rows
        )


def content_gap(skill: str) -> tuple:
    with connect(read_only=True) as con:
        return con.execute(
            "select path_learner_count, path_demand_computed_at, course_count "
            "from marts.content_gaps where skill_name = ?",
            [skill],
        ).fetchone()


@pytest.mark.slow
def test_the_paths_agent_feeds_uncovered_skills_to_content_gaps(
    prefect_harness, pathwise_home, monkeypatch
):
    monkeypatch.setenv("PATHWISE_K_ANONYMITY", "3")
    get_settings.cache_clear()
    write_catalog_and_events()
    first = build_flow(select=SELECT)
    assert first["failures"] == []
    # Before the agent ever ran: the source exists (empty), no demand shows.
    assert content_gap("Kubernetes") == (None, None, 0)

    # Paths planned on the catalog the marts publish, kept in the path store: 4 learners need
    # Kubernetes (a fifth knows it), 2 need Docker (under k = 3), SQL and Python are taught.
    with connect(read_only=True) as con:
        catalog = load_catalog(con, 3)
    assert set(catalog.courses) == {"c-py", "c-sql"}
    store = PathStore()
    wanted = [["Python", "Kubernetes", "Docker"]] * 2 + [["SQL", "Kubernetes"]] * 2
    learners = [(f"learner-{i}", names, ()) for i, names in enumerate(wanted)]
    learners.append(("learner-knows", ["Kubernetes", "SQL"], ("Kubernetes",)))
    for lk, names, known in learners:
        store.save_goal(lk, goal_to_dict(goal(names)))
        store.save_path(lk, stored_path(catalog, names, known), ["Your path was planned."])

    now = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
    with connect() as con:
        summary = nightly.run(con, None, str, now, store=store)  # type: ignore[arg-type]
        written = con.execute(
            "select * from warehouse.agents.uncovered_skill_demand order by 1"
        ).fetchall()
        columns = [d[0] for d in con.description]
    assert summary["paths"] == 5 and summary["uncovered_skills"] == 1
    assert written == [("Kubernetes", 4, datetime(2026, 3, 4, 2, 0))]
    assert "learner_key" not in columns  # an aggregate, nothing per learner

    second = build_flow(select=AFTER_AGENT)
    assert second["failures"] == []
    assert content_gap("Kubernetes") == (4, datetime(2026, 3, 4, 2, 0), 0)
    assert content_gap("Docker")[0] is None  # 2 learners: under k, never written
    assert content_gap("Python")[:1] == (None,)  # taught
    shown_on_the_instructors_page(expected=[["Kubernetes", 4]])

    # No path left (erased, say): the next night empties the table, the next build the mart.
    for lk, _, _ in learners:
        store.forget_learner(lk)
    with connect() as con:
        assert nightly.run(con, None, str, now + timedelta(days=1), store=store)["paths"] == 0
    assert build_flow(select=AFTER_AGENT)["failures"] == []
    assert content_gap("Kubernetes")[0] is None


def shown_on_the_instructors_page(expected: list[list]) -> None:
    """Publish the marts and read the Content gaps page as an instructor (AppTest)."""
    import dataclasses
    import time

    from streamlit.testing.v1 import AppTest

    from pathwise import snapshots
    from pathwise.accounts import UserStore
    from pathwise.settings import PROJECT_ROOT

    with connect() as con:
        snapshots.publish(con)
    user = UserStore().add("gaps-instructor", "a-test-password", "instructor", instructor_id="i1")
    at = AppTest.from_file(str(PROJECT_ROOT / "apps" / "streamlit_app.py"), default_timeout=60)
    at.session_state["pathwise_user"] = dataclasses.replace(user, signed_in_at=time.time())
    at.run().switch_page("app_pages/content_gaps.py").run()
    assert not at.exception
    [table] = [d.value for d in at.dataframe if "path_learner_count" in d.value.columns]
    assert table[["skill_name", "path_learner_count"]].values.tolist() == expected
