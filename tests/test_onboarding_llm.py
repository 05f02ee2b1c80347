"""Onboarding with a language model reading the slots (agents/paths/llm_slots.py), over a real local
OpenAI-compatible HTTP server (tests/_llm_server.py) that the real `openai` client talks to: a good
reply fills several slots in one turn; a malformed reply, a schema violation, an HTTP error and a
timeout each fall back to the offline reading of the same words, with a notice."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from _llm_server import FakeLLM, llm_server

from agents.paths.llm_slots import SlotExtractor, slot_extractor
from agents.paths.onboarding import Dialogue, State
from agents.paths.roles import RoleMatcher
from pathwise.settings import Settings

SEEDS = Path(__file__).parents[1] / "seeds"
TODAY = date(2026, 12, 7)
SAID = "I want to become a data scientist. I know Excel and Python. Write to ann@example.org"
GOOD = {
    "goal_role": "data scientist",
    "known_skills": ["Excel", "Python"],
    "hours_per_week": 5,
    "target_date": "2027-06-30",
    "no_deadline": False,
    "format": None,
}
FakeLLM.replies |= {
    "slots-ok": json.dumps(GOOD),
    "slots-fenced": f"```json\n{json.dumps(GOOD)}\n```",
    "slots-malformed": "Sure! The learner wants to be a data scientist and knows Excel.",
    "slots-out-of-range": json.dumps(GOOD | {"hours_per_week": 500}),
    "slots-extra-key": json.dumps(GOOD | {"learner_name": "Ann"}),
    "slots-later": json.dumps(
        {"goal_role": None, "known_skills": None, "hours_per_week": 4, "format": "reading"}
    ),
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with llm_server() as url:
        yield url


@pytest.fixture(scope="module")
def parts():
    with open(SEEDS / "skills.csv") as f:
        skills = [row["skill_name"] for row in csv.DictReader(f)]
    return RoleMatcher.from_seeds(SEEDS), skills


def dialogue(parts, server: str | None, model: str = "slots-ok", timeout: float = 5.0):
    extractor = None
    if server:
        extractor = SlotExtractor(
            Settings(
                llm_base_url=server,
                llm_model=model,
                llm_timeout_s=timeout,
                allow_plaintext_hosts="127.0.0.1",
                onboarding_backend="openai",
            )
        )
    return Dialogue(*parts, TODAY, extractor=extractor)


def test_offline_is_the_default():
    assert Settings().onboarding_backend == "offline"
    assert slot_extractor(Settings()) is None
    assert isinstance(slot_extractor(Settings(onboarding_backend="openai")), SlotExtractor)


@pytest.mark.parametrize("model", ["slots-ok", "slots-fenced"])
def test_a_good_reply_fills_every_slot_it_heard_in_one_turn(parts, server, model):
    FakeLLM.requests.clear()
    d = dialogue(parts, server, model)
    state, _ = d.start()
    state, reply = d.turn(state, SAID)
    assert state.step == "format"  # goal, skills, hours and date in one turn
    assert state.role_title == "Data Scientists"
    assert set(state.known) == {"Microsoft Excel", "Python"}
    assert state.hours_per_week == 5 and state.target == date(2027, 6, 30)
    assert state.pending == ()
    assert "Which format" in reply and "language model" not in reply
    assert "skills, hours a week and target date" in reply
    # What went out: the turn, redacted, with today's date; nothing that identifies the learner.
    (request,) = [r for r in FakeLLM.requests if r["path"].endswith("/chat/completions")]
    sent = json.dumps(request)
    assert "ann@example.org" not in sent and "data scientist" in sent and "2026-12-07" in sent
    assert request["response_format"] == {"type": "json_object"}
    state, reply = d.turn(state, "video")  # the model hears the format: done
    assert state.step == "done" and state.format == "video"


@pytest.mark.parametrize(
    ("model", "said"),
    [
        ("slots-malformed", "not in the expected form"),
        ("slots-out-of-range", "not in the expected form"),
        ("slots-extra-key", "not in the expected form"),
        ("error", "returned HTTP 500"),
    ],
)
def test_an_unusable_reply_falls_back_to_the_offline_reading_with_a_notice(
    parts, server, model, said
):
    offline = dialogue(parts, None)
    expected, expected_reply = offline.turn(offline.start()[0], SAID)
    d = dialogue(parts, server, model)
    state, reply = d.turn(d.start()[0], SAID)
    assert said in reply and "read your answer without it" in reply
    # Nothing lost: exactly what the offline dialogue makes of the same words.
    assert state == expected and reply.endswith(expected_reply)
    assert state.step == "role" and "Data Scientists" in dict(state.candidates).values()


def test_a_timeout_falls_back_without_waiting_for_the_reply(parts, server):
    offline = dialogue(parts, None)
    expected, expected_reply = offline.turn(offline.start()[0], SAID)
    d = dialogue(parts, server, "slow", timeout=0.5)
    started = time.perf_counter()
    state, reply = d.turn(d.start()[0], SAID)
    assert time.perf_counter() - started < 2.5  # the server answers after 3 s
    assert "timed out" in reply and state == expected and reply.endswith(expected_reply)


def test_answers_heard_before_their_question_wait_for_it(parts, server):
    """Hours and format said at the goal step, the goal itself not understood: both wait in the
    state (kept as plain data), and are used once the dialogue reaches them, model or not."""
    d = dialogue(parts, server, "slots-later")
    state, _ = d.turn(d.start()[0], "4 hours a week, and I prefer reading")
    assert state.step in ("goal", "role") and state.role_title is None  # not understood
    assert dict(state.pending) == {"hours": "4 hours", "format": "reading"}
    state = State.from_dict(json.loads(json.dumps(state.to_dict())))
    offline = dialogue(parts, None)  # the model went away in between
    state, _ = offline.turn(state, "data scientist")
    state, reply = offline.turn(state, "nothing yet")
    assert state.step == "target" and state.hours_per_week == 4  # not asked again
    assert "hours a week" in reply and "By when" in reply
    state, reply = offline.turn(state, "no rush")
    assert state.step == "done" and state.format == "reading" and state.pending == ()
