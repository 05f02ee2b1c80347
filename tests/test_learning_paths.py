"""The learning-path agent's serving side: the path store (pathwise/learning_paths.py), the nightly
re-plan (agents/paths/nightly.py) on a small hand-made catalog, and onboarding plus the path over
the real read API on the shared app platform (one real nightly run, tests/_app_platform.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from _api_server import api_server
from _app_platform import served

from agents.paths.nightly import adapt
from agents.paths.planner import Catalog, Course, Goal, plan
from agents.paths.serving import path_from_dict, path_to_dict
from pathwise.api_keys import KeyStore
from pathwise.learning_paths import PathStore
from pathwise.privacy import pseudonym
from pathwise.settings import PROJECT_ROOT, get_settings

START = date(2027, 1, 4)  # a Monday


# ---------------------------------------------------------------- the store


def test_the_store_keeps_a_learners_conversation_goal_path_and_changes(pathwise_home):
    store, lk = PathStore(), "a" * 32
    assert store.view(lk) == {"path": None, "goal": None, "changes": [], "onboarding_step": None}
    store.save_onboarding(lk, {"step": "goal"}, [("agent", "What would you like to become?")])
    store.save_onboarding(lk, {"step": "skills"}, [("learner", "data analyst"), ("agent", "Ok.")])
    store.save_goal(lk, {"role": "Data Analysts"})
    store.save_path(lk, {"steps": []}, ["Your path was planned."])
    store.save_path(lk, {"steps": [1]}, ["You finished X early.", "You now finish sooner."])
    view = store.view(lk)
    assert view["onboarding_step"] == "skills" and view["path"] == {"steps": [1]}
    assert [c["reason"] for c in view["changes"]] == [
        "You now finish sooner.",
        "You finished X early.",
        "Your path was planned.",
    ]
    assert [t["speaker"] for t in store.turns(lk)] == ["agent", "learner", "agent"]
    assert [lk for lk, _, _ in PathStore().planned()] == [lk]  # another process sees it
    store.restart_onboarding(lk)
    assert store.onboarding(lk) is None and store.turns(lk) == []
    assert store.current_path(lk) == {"steps": [1]}  # kept until a new one is made


def test_erasure_leaves_no_byte_of_the_learner_and_keeps_the_others(pathwise_home):
    store, lk, other = PathStore(), "b" * 32, "c" * 32
    words = "I want to become a zeppelin navigator"
    for key in (lk, other):
        store.save_onboarding(key, {"step": "done"}, [("learner", f"{words} {key}")])
        store.save_goal(key, {"role": "Navigators"})
        store.save_path(key, {"steps": []}, [f"Planned for {key}"])
    records = store.learner_records(lk)
    assert {t: len(r) for t, r in records.items()} == {
        "learning_paths.onboarding": 1,
        "learning_paths.turns": 1,
        "learning_paths.goals": 1,
        "learning_paths.paths": 1,
        "learning_paths.path_changes": 1,
    }
    assert records["learning_paths.goals"][0]["goal"] == {"role": "Navigators"}
    assert store.forget_learner(lk) == 5
    files = [store.path, *(store.path.with_name(store.path.name + x) for x in ("-wal", "-shm"))]
    data = b"".join(f.read_bytes() for f in files if f.exists())
    assert lk.encode() not in data and f"{words} {lk}".encode() not in data
    assert other.encode() in data and store.current_path(other) == {"steps": []}


def test_retention_takes_the_old_conversation_and_log_and_keeps_the_present(pathwise_home):
    store, lk = PathStore(), "d" * 32
    old, new = datetime(2024, 1, 5, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    store.save_onboarding(lk, {"step": "done"}, [("learner", "old words")], at=old)
    store.save_path(lk, {"steps": []}, ["old change"], at=old)
    store.save_path(lk, {"steps": [2]}, ["new change"], at=new)
    store.save_goal(lk, {"role": "R"}, at=old)
    cutoff = datetime(2025, 1, 1)
    assert store.forget_before(cutoff, dry_run=True) == 2 and len(store.turns(lk)) == 1
    assert store.forget_before(cutoff) == 2 and store.forget_before(cutoff) == 0
    assert store.turns(lk) == [] and [c["reason"] for c in store.changes(lk)] == ["new change"]
    assert store.goal(lk) == {"role": "R"} and store.current_path(lk) == {"steps": [2]}


def test_with_the_at_rest_key_the_store_is_encrypted(pathwise_home, monkeypatch):
    monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", "an-at-rest-key-of-more-than-32-characters")
    get_settings.cache_clear()
    store, lk = PathStore(), "e" * 32
    store.save_goal(lk, {"role": "Zeppelin navigators"})
    files = [store.path, store.path.with_name(store.path.name + "-wal")]
    data = b"".join(f.read_bytes() for f in files if f.exists())
    assert not data.startswith(b"SQLite format 3") and b"Zeppelin" not in data
    assert PathStore().goal(lk) == {"role": "Zeppelin navigators"}


# ---------------------------------------------------------------- the nightly re-plan


def small_catalog() -> Catalog:
    return Catalog(
        [
            Course("SQL", "SQL basics", frozenset({"sql"}), 10),
            Course("TAB", "Tableau", frozenset({"tableau"}), 10, prerequisites=("SQL",)),
            Course("TAB2", "Tableau the long way", frozenset({"tableau"}), 25),
            Course("STA", "Statistics", frozenset({"statistics"}), 10),
            Course("ALL", "Everything at once", frozenset({"sql", "statistics"}), 40),
            Course("ART", "Art history", frozenset({"art"}), 5),
        ]
    )


@pytest.fixture
def stored() -> dict:
    goal = Goal("Data Analysts", frozenset({"sql", "tableau", "statistics"}), 5, START)
    path = plan(small_catalog(), goal)
    assert [s.course_id for s in path.steps] == ["SQL", "STA", "TAB"]
    return path_to_dict(path)


def ids(path: dict) -> list[str]:
    return [s["course_id"] for s in path["steps"]]


def test_a_stored_path_reads_back_as_it_was_planned(stored):
    assert path_to_dict(path_from_dict(stored)) == stored


def test_nothing_new_changes_nothing_not_even_the_dates(stored):
    catalog, tomorrow = small_catalog(), START + timedelta(days=1)
    assert adapt(catalog, stored, {}, tomorrow) == (None, [])
    assert adapt(catalog, stored, {"SQL": "active"}, tomorrow + timedelta(days=10)) == (None, [])


def test_a_completed_step_is_ticked_with_its_reason_and_never_comes_back(stored):
    catalog, today = small_catalog(), START + timedelta(days=7)  # SQL was due on day 14
    new, changes = adapt(catalog, stored, {"SQL": "completed"}, today)
    assert ids(new) == ["STA", "TAB"] and changes[0] == "You finished SQL basics early."
    assert new["steps"][0]["start"] == today.isoformat()  # the rest moves up
    again, later = adapt(catalog, new, {"SQL": "completed"}, today + timedelta(days=1))
    assert (again, later) == (None, [])


def test_a_stalled_step_gets_an_alternative(stored):
    new, changes = adapt(small_catalog(), stored, {"TAB": "stalled"}, START + timedelta(days=3))
    assert "TAB" not in ids(new) and "TAB2" in ids(new)
    assert "Tableau stalled, so the path goes another way." in changes
    assert any(c.startswith("Tableau the long way joins the path: covers tableau") for c in changes)
    # Stalled stays avoided on the nights after.
    assert adapt(small_catalog(), new, {"TAB": "stalled"}, START + timedelta(days=4)) == (None, [])


def test_a_missed_week_moves_the_dates(stored):
    first_end = date.fromisoformat(stored["steps"][0]["end"])
    today = first_end + timedelta(days=8)
    new, changes = adapt(small_catalog(), stored, {"SQL": "active"}, today)
    assert ids(new) == ids(stored) and new["steps"][0]["start"] == today.isoformat()
    assert (
        changes[0] == f"SQL basics was planned to end on {first_end:%d %b %Y}, so the dates move."
    )
    assert changes[1].startswith("You now finish on ")


def test_a_course_outside_the_path_that_teaches_its_skills_shortens_it(stored):
    new, changes = adapt(small_catalog(), stored, {"ALL": "completed"}, START + timedelta(days=2))
    assert ids(new) == ["TAB"] or ids(new) == ["SQL", "TAB"]
    assert "Statistics is no longer needed: you have shown its skills." in changes
    # An unrelated course: remembered, the path and its dates kept.
    kept, none = adapt(small_catalog(), stored, {"ART": "completed"}, START + timedelta(days=2))
    assert none == [] and kept["steps"] == stored["steps"]
    assert kept["planned_from"]["done"] == ["ART"]


# ---------------------------------------------------------------- over the real read API


@pytest.fixture(scope="module")
def platform(tmp_path_factory, prefect_harness):
    with served(tmp_path_factory) as home:
        yield home


@pytest.fixture(scope="module")
def api(platform):
    from apps.api import create_app

    _, service = KeyStore().create("paths test", "service")
    with api_server(create_app()) as url:
        yield {"url": url, "headers": {"Authorization": f"Bearer {service}"}}


def test_onboarding_over_the_api_plans_a_path_the_api_then_serves(api):
    user = "paths-api-newcomer"
    learner = f"{api['url']}/v1/learners/{user}"

    def say(text: str | None = None) -> dict:
        body = {} if text is None else {"text": text}
        answer = httpx.post(f"{learner}/onboarding", json=body, headers=api["headers"], timeout=60)
        assert answer.status_code == 200, answer.text
        return answer.json()

    before = httpx.get(f"{learner}/path", headers=api["headers"]).json()
    assert before == {"path": None, "goal": None, "changes": [], "onboarding_step": None}
    opening = say()
    assert opening["step"] == "goal" and "aiming for" in opening["reply"]
    assert say()["reply"] == opening["reply"]  # asking again repeats the question
    assert say("I want to become a data scientist")["step"] == "skills"
    assert say("nothing yet")["step"] == "hours"
    assert say("about 6 hours a week")["step"] == "target"
    assert say("no rush")["step"] == "format"
    done = say("video")
    assert done["done"] and "Your path:" in done["reply"]
    path = done["path"]
    assert path["goal"]["role"] == "Data Scientists" and path["goal"]["hours_per_week"] == 6
    assert path["steps"] and all(s["reason"] for s in path["steps"])
    served_path = httpx.get(f"{learner}/path", headers=api["headers"]).json()
    assert served_path["path"] == path and served_path["onboarding_step"] == "done"
    assert served_path["changes"][0]["reason"].startswith("Your path was planned:")
    # Stored under the learner_key only: the platform's id is nowhere in the store.
    key = pseudonym(user, get_settings().pseudonym_key.get_secret_value())
    assert user.encode() not in get_settings().learning_paths_path.read_bytes()
    assert PathStore().current_path(key) == path
    # Starting over asks for the goal again; the path stays until a new one is made.
    again = say("start over")
    assert again["step"] == "goal" and again["path"] is None
    assert httpx.get(f"{learner}/path", headers=api["headers"]).json()["path"] == path


def test_the_api_refuses_an_overlong_turn(api):
    answer = httpx.post(
        f"{api['url']}/v1/learners/someone/onboarding",
        json={"text": "x" * 2001},
        headers=api["headers"],
    )
    assert answer.status_code == 400 and "text" in answer.json()["problems"][0]


# ---------------------------------------------------------------- the learner page (AppTest)


def test_a_new_learner_talks_through_onboarding_on_the_page_and_sees_the_path(platform):
    import dataclasses
    import time

    from streamlit.testing.v1 import AppTest

    from pathwise.accounts import UserStore

    key = pseudonym("paths-page-newcomer", get_settings().pseudonym_key.get_secret_value())
    user = UserStore().add("paths-newcomer", "a-test-password", "learner", learner_key=key)
    at = AppTest.from_file(str(PROJECT_ROOT / "apps" / "streamlit_app.py"), default_timeout=60)
    at.session_state["pathwise_user"] = dataclasses.replace(user, signed_in_at=time.time())
    at.run().switch_page("app_pages/learning_path.py").run()
    assert not at.exception and at.title[0].value == "My learning path"
    assert "aiming for" in at.chat_message[0].markdown[0].value
    for text in ["I want to become a data scientist", "Excel and SQL", "4 hours", "no rush"]:
        at.chat_input[0].set_value(text).run()
        assert not at.exception, text
    assert at.chat_message[-1].markdown[0].value.startswith("No deadline. Which format")
    at.chat_input[0].set_value("hands-on").run()
    assert not at.exception and not at.chat_input  # the conversation is over: the path shows
    path = PathStore().current_path(key)
    assert at.subheader[0].value == "Your path to Data Scientists"
    assert len(at.get("vega_lite_chart")) == 1
    shown = "\n".join(m.value for m in at.markdown)
    assert all(s["title"] in shown and s["reason"] in shown for s in path["steps"])
    assert "Your path was planned:" in shown  # the change log
    assert path["goal"]["preferred_format"] == "hands-on"
    # Changing the goal opens the conversation again, the path still shown above it.
    [change] = [b for b in at.button if b.label == "Change my goal"]
    change.click().run()
    assert not at.exception and at.chat_input and at.subheader[0].value.startswith("Your path")
    assert "aiming for" in at.chat_message[-1].markdown[0].value


def test_the_nightly_agent_replans_stored_paths_on_the_real_marts(platform):
    from agents.paths.nightly import run
    from agents.paths.serving import Served
    from pathwise import snapshots
    from pathwise.warehouse import connect

    store, snap = PathStore(), snapshots.require_current()
    with snap.connect() as con:  # a learner of the platform who has completed no course
        [(lk,)] = con.execute(
            "select learner_key from learner_course_progress group by 1 "
            "having count(*) filter (status = 'completed') = 0 order by 1 limit 1"
        ).fetchall()
    served = Served(store)
    for text in ("I want to become a data scientist", "nothing yet", "5", "no rush", "video"):
        answer = served.turn(snap, lk, text)
    first = answer["path"]["steps"][0]
    # Three months on, nothing done: the first step is long past its end, so the dates move.
    later = datetime.now(UTC) + timedelta(days=90)
    with connect() as con:  # the agent also writes the uncovered skills' demand
        summary = run(con, None, str, later, store=store)  # type: ignore[arg-type]
        assert run(con, None, str, later, store=store)["changed"] == 0  # nothing new since
    assert summary["paths"] >= 1 and summary["changed"] >= 1
    reasons = [c["reason"] for c in store.changes(lk)]
    assert reasons[-1].startswith("Your path was planned:")  # newest first
    assert reasons[-2].startswith(f"{first['title']} was planned to end on")
    assert reasons[0].startswith("You now finish on")
    assert store.current_path(lk)["steps"][0]["start"] == later.date().isoformat()
