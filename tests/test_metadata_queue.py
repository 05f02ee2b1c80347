"""The metadata review queue (pathwise/metadata_queue.py): accept / edit / reject, each audited;
auto-accept above the admins' threshold; superseding on a changed course; and the real path of
an accepted tag into the catalog marts through a real `dbt build`."""

from __future__ import annotations

import pytest

from pathwise.controls import ControlError
from pathwise.metadata_queue import MetadataQueue, Suggestion, load_accepted
from pathwise.warehouse import connect


def skill(course: str, value: str, confidence: float = 0.7) -> Suggestion:
    return Suggestion(course, "skill", value, confidence, {"sentence": f"Learn {value}."})


@pytest.fixture
def queue(pathwise_home) -> MetadataQueue:
    return MetadataQueue()


def test_accept_edit_and_reject_are_each_audited_with_who_and_why(queue):
    queue.propose("c-1", [skill("c-1", "SQL"), skill("c-1", "Excel"), skill("c-1", "Pandas")],
                  fingerprint="f1")  # fmt: skip
    ids = {s["value"]: s["suggestion_id"] for s in queue.suggestions(["c-1"])}
    queue.accept(ids["SQL"], actor="ada", reason="in module 2")
    queue.accept(ids["Pandas"], actor="ada", reason="closer name", value="pandas (Python)")
    queue.reject(ids["Excel"], actor="bob", reason="not taught")
    assert queue.suggestions(["c-1"]) == []  # nothing pending
    assert sorted((c, k, v) for c, k, v, *_ in queue.accepted()) == [
        ("c-1", "skill", "SQL"),
        ("c-1", "skill", "pandas (Python)"),
    ]
    audit = {a["action"]: a for a in queue.audit() if a["action"].startswith("metadata_")}
    assert audit["metadata_accept"]["actor"] == "ada"
    assert audit["metadata_edit"]["details"]["suggested"] == "Pandas"
    assert audit["metadata_edit"]["details"]["value"] == "pandas (Python)"
    assert (audit["metadata_reject"]["actor"], audit["metadata_reject"]["reason"]) == (
        "bob",
        "not taught",
    )
    with pytest.raises(ControlError, match="no pending suggestion"):
        queue.accept(ids["Excel"], actor="ada", reason="changed my mind")
    queue.propose("c-2", [skill("c-2", "R")], fingerprint="f")
    with pytest.raises(ControlError, match="reason"):
        queue.accept(queue.suggestions(["c-2"])[0]["suggestion_id"], actor="ada", reason=" ")


def test_an_edit_is_checked_for_its_kind(queue):
    queue.propose("c-1", [Suggestion("c-1", "difficulty", "2", 0.6, {})], fingerprint="f1")
    [s] = queue.suggestions(["c-1"])
    with pytest.raises(ControlError, match="1 to 5"):
        queue.accept(s["suggestion_id"], actor="ada", reason="harder", value="7")
    queue.accept(s["suggestion_id"], actor="ada", reason="harder", value="4")
    assert [r[2] for r in queue.accepted()] == ["4"]


def test_auto_accept_takes_only_suggestions_at_or_above_the_admins_threshold(queue):
    with pytest.raises(ControlError, match=r"\[0.5, 1\]"):
        queue.set_auto_accept(0.2, actor="root", reason="too low")
    queue.set_auto_accept(0.8, actor="root", reason="trust confident tags")
    counts = queue.propose("c-1", [skill("c-1", "SQL", 0.85), skill("c-1", "Excel", 0.79)],
                           fingerprint="f1")  # fmt: skip
    assert counts == {"proposed": 2, "auto_accepted": 1, "superseded": 0}
    assert [r[2] for r in queue.accepted()] == ["SQL"]
    assert [s["value"] for s in queue.suggestions(["c-1"])] == ["Excel"]
    auto = [a for a in queue.audit() if a["action"] == "metadata_auto_accept"]
    assert auto[0]["actor"] == "metadata-agent" and auto[0]["details"]["value"] == "SQL"
    queue.set_auto_accept(None, actor="root", reason="review everything again")
    assert queue.propose("c-3", [skill("c-3", "R", 0.99)], fingerprint="f")["auto_accepted"] == 0


def test_a_changed_course_supersedes_its_pending_suggestions_not_its_decided_ones(queue):
    queue.propose("c-1", [skill("c-1", "SQL"), skill("c-1", "Excel")], fingerprint="old")
    first = {s["value"]: s["suggestion_id"] for s in queue.suggestions(["c-1"])}
    queue.accept(first["SQL"], actor="ada", reason="ok")
    assert queue.fingerprints() == {"c-1": "old"}
    counts = queue.propose("c-1", [skill("c-1", "Tableau")], fingerprint="new")
    assert counts["superseded"] == 1
    assert [s["value"] for s in queue.suggestions(["c-1"])] == ["Tableau"]
    assert [r[2] for r in queue.accepted()] == ["SQL"]
    assert queue.fingerprints() == {"c-1": "new"}
    # The same suggestion from the same text again is not queued twice.
    assert queue.propose("c-1", [skill("c-1", "Tableau")], fingerprint="new")["proposed"] == 0
    # A course read without anything to suggest is remembered too (not read again unchanged).
    assert queue.propose("c-9", [], fingerprint="f9")["proposed"] == 0
    assert queue.fingerprints() == {"c-1": "new", "c-9": "f9"}


def test_an_accepted_tag_reaches_course_skills_and_nothing_else_does(
    pathwise_home, prefect_harness
):
    from flows.build import build_flow
    from tests.test_dbt_build import write_raw

    write_raw()
    queue = MetadataQueue()
    queue.propose("c-py", [skill("c-py", "Pandas"), skill("c-py", "NumPy"), skill("c-py", "Excel")],
                  fingerprint="f")  # fmt: skip
    queue.propose(
        "c-sql",
        [Suggestion("c-sql", "prerequisite", "c-py", 0.8, {"skill": "Python"}),
         Suggestion("c-sql", "prerequisite", "c-nowhere", 0.8, {"skill": "Rust"})],
        fingerprint="f",
    )  # fmt: skip
    ids = {s["value"]: s["suggestion_id"] for s in queue.suggestions(status=None)}
    queue.accept(ids["Pandas"], actor="ada", reason="module 2 uses it")
    queue.reject(ids["NumPy"], actor="ada", reason="not taught")
    queue.accept(ids["c-py"], actor="ada", reason="needs Python")
    queue.accept(ids["c-nowhere"], actor="ada", reason="an id not in the catalog")
    # Excel stays pending.

    def catalog() -> tuple[set, set]:
        with connect(read_only=True) as con:
            skills = con.execute("select course_id, skill_name from marts.course_skills").fetchall()
            prereqs = con.execute("select * from marts.course_prerequisites").fetchall()
        return set(skills), set(prereqs)

    build_flow(select="+course_skills +course_prerequisites")
    before_skills, before_prereqs = catalog()
    assert ("c-py", "Pandas") not in before_skills  # accepted but not yet copied: no change
    with connect() as con:
        assert load_accepted(con, queue) == {"accepted": {"skill": 1, "prerequisite": 2}}
    build_flow(select="+course_skills +course_prerequisites")
    skills, prereqs = catalog()
    assert skills - before_skills == {("c-py", "Pandas")}
    assert prereqs - before_prereqs == {("c-sql", "c-py")}  # an unknown course id is not linked


def test_the_agent_suggests_for_new_and_changed_courses_only(pathwise_home, prefect_harness):
    from agents.metadata import suggest_changed
    from flows.build import build_flow
    from tests.test_dbt_build import write_raw

    write_raw()
    build_flow(select="+courses +course_modules +course_skills skills")
    queue = MetadataQueue()
    with connect() as con:
        first = suggest_changed(con, queue)
        assert first["changed"] == first["courses"] == 3 and first["proposed"] > 0
        assert suggest_changed(con, queue)["changed"] == 0  # nothing new: nothing redone
        con.execute("update raw.catalog_courses set description = 'Now with SQL joins.' "
                    "where course_id = 'c-py'")  # fmt: skip
    build_flow(select="courses")
    with connect() as con:
        again = suggest_changed(con, queue)
    assert again["changed"] == 1
    skills = {s["value"] for s in queue.suggestions(["c-py"]) if s["kind"] == "skill"}
    assert "Python" not in skills  # the catalog already says so
    for s in queue.suggestions(status=None):
        assert 0 <= s["confidence"] <= 1 and s["detail"]
        if s["kind"] == "skill":
            assert s["detail"]["sentence"]


def test_accepted_difficulty_and_duration_reach_courses_and_nothing_else_does(
    pathwise_home, prefect_harness
):
    from flows.build import build_flow
    from tests.test_dbt_build import write_raw

    write_raw()  # c-py: level 1, 55.5 min of modules; c-sql: level 2; c-ml: level 3, no modules
    with connect() as con:
        con.execute("update raw.catalog_courses set difficulty = null where course_id = 'c-sql'")

    def level(course: str, score: str) -> Suggestion:
        return Suggestion(course, "difficulty", score, 0.7, {"level": "?"})

    def minutes(course: str, value: str) -> Suggestion:
        return Suggestion(course, "duration", value, 0.5, {"basis": "median"})

    queue = MetadataQueue()
    queue.propose("c-py", [level("c-py", "5"), minutes("c-py", "300")], fingerprint="f")
    queue.propose("c-sql", [level("c-sql", "4"), minutes("c-sql", "45")], fingerprint="f")
    queue.propose("c-ml", [level("c-ml", "1"), minutes("c-ml", "120")], fingerprint="f")
    ids = {(s["course_id"], s["kind"]): s["suggestion_id"] for s in queue.suggestions()}
    queue.reject(ids["c-py", "difficulty"], actor="ada", reason="the catalog is right")
    queue.accept(ids["c-py", "duration"], actor="ada", reason="longer than its modules say")
    queue.accept(ids["c-sql", "difficulty"], actor="ada", reason="joins are advanced")
    queue.accept(ids["c-ml", "duration"], actor="ada", reason="about two hours", value="90")
    # c-sql's duration and c-ml's difficulty stay pending.

    def courses() -> dict:
        with connect(read_only=True) as con:
            rows = con.execute(
                "select course_id, difficulty, difficulty_label, difficulty_source, "
                "catalog_difficulty, duration_minutes, duration_source from marts.courses"
            ).fetchall()
        return {r[0]: r[1:] for r in rows}

    build_flow(select="+courses")
    before = courses()
    assert before["c-sql"][:3] == (None, None, None)  # accepted but not yet copied: no change
    with connect() as con:
        load_accepted(con, queue)
    build_flow(select="+courses")
    after = courses()
    assert {c for c in after if after[c] != before[c]} == {"c-sql", "c-ml"}
    # The accepted score 4 is an advanced course; the catalog had no level.
    assert after["c-sql"][:4] == (3, "advanced", "accepted", None)
    assert after["c-ml"][:4] == before["c-ml"][:4] == (3, "advanced", "catalog", 3)  # pending
    assert after["c-ml"][4:] == (90.0, "accepted")  # as edited
    # The catalog's own module minutes win over an accepted duration; a rejected level is unused.
    assert after["c-py"] == before["c-py"] == (1, "beginner", "catalog", 1, 55.5, "catalog")

    # An accepted level overrides the catalog's, which stays in catalog_difficulty...
    queue.accept(ids["c-ml", "difficulty"], actor="ada", reason="an introduction")
    with connect() as con:
        load_accepted(con, queue)
    build_flow(select="courses")
    assert courses()["c-ml"][:4] == (1, "beginner", "accepted", 3)
    # ...until the course's text changes: then it goes back to review and the catalog's holds.
    queue.propose("c-ml", [], fingerprint="changed")
    with connect() as con:
        load_accepted(con, queue)
    build_flow(select="courses")
    assert courses()["c-ml"][:4] == (3, "advanced", "catalog", 3)
    assert courses()["c-ml"][4:] == (None, None)
