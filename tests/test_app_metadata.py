"""The Review metadata page with `AppTest`: closed to learners and visitors, and honest when
nothing is published yet. Accepting a suggestion in it is tested in a real browser
(tests/test_browser.py) on the shared platform, whose nightly run queues the agent's suggestions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pathwise.accounts import UserStore

PAGE = str(Path(__file__).resolve().parent.parent / "apps" / "app_pages" / "course_metadata.py")
ENTRY = str(Path(__file__).resolve().parent.parent / "apps" / "streamlit_app.py")


def signed_in(user, script: str) -> AppTest:
    import dataclasses

    at = AppTest.from_file(script, default_timeout=60)
    at.session_state["pathwise_user"] = dataclasses.replace(user, signed_in_at=time.time())
    return at


def test_the_page_is_closed_to_learners_and_visitors(pathwise_home):
    learner = UserStore().add("lea", "a-test-password", "learner", learner_key="0" * 32)
    at = signed_in(learner, PAGE).run()
    assert "This page is for instructor or admin accounts" in at.error[0].value
    assert not at.button and not at.title
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert "Please sign in" in at.warning[0].value and not at.button


@pytest.mark.parametrize("role", ["instructor", "admin"])
def test_the_page_explains_when_nothing_is_published(pathwise_home, role):
    user = UserStore().add(role, "a-test-password", role, instructor_id="I001")
    at = signed_in(user, ENTRY).run()
    at.switch_page("app_pages/course_metadata.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Review metadata"
    message = " ".join(i.value for i in at.info)
    assert "No data published yet" in message or "being prepared" in message
    assert not [b for b in at.button if b.label in ("Accept", "Reject")]


def test_a_visitor_is_offered_sign_in_at_the_pages_address(pathwise_home):
    """The page is in two roles' menus: the app still starts (one sign-in page per address)."""
    at = AppTest.from_file(ENTRY, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Pathwise"]
