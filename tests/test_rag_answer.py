"""Answer composition (rag.answer.ExtractiveBackend) on the real course content in
../shared/data/content: the answer leads with the top passage's best sentence, quotes no exercise
scaffolding, gives the command the lesson gives, and keeps its citations.

Composition only: passages are the real chunks of each evaluation question's own lesson, best
word overlap first (retrieval and its ranking are tested in test_rag and evaluated by
`pathwise evaluate rag`; the served answers over the same questions are in test_rag too)."""

from __future__ import annotations

import re
from functools import cache

import pytest

from pathwise.settings import SHARED_DATA
from rag.answer import ExtractiveBackend, is_command, is_scaffolding
from rag.content import chunk_document, load_documents, sentences
from rag.evalset import load_questions
from rag.retrieve import Passage
from rag.text import terms

CONTENT = SHARED_DATA / "content"
LEAD = "From the course materials: "

pytestmark = pytest.mark.skipif(not CONTENT.exists(), reason="needs ../shared/data/content")


@cache
def lesson_passages() -> dict[tuple[str, str], list[Passage]]:
    """Every chunk of the real content as a passage, by (course, lesson)."""
    out: dict[tuple[str, str], list[Passage]] = {}
    for doc in load_documents([CONTENT]):
        for c in chunk_document(doc):
            p = Passage(
                c.course_id, c.module, c.section, c.source, c.text, 0.0, 0.0, c.chunk_id,
                c.course_title,
            )  # fmt: skip
            out.setdefault((c.course_id, c.module), []).append(p)
    return out


def leads_with(text: str, passage: Passage) -> bool:
    """Whether the answer's first sentence is one of `passage`'s (or points to it)."""
    body = text.removeprefix(LEAD)
    return body.startswith(f"See {passage.citation}.") or any(
        body.startswith(s) for s in sentences(passage.text)
    )


def test_no_answer_on_the_eval_set_quotes_scaffolding_and_each_leads_with_the_top_passage():
    backend = ExtractiveBackend()
    chunks = lesson_passages()
    asked = blanks_in_content = 0
    for q in load_questions():
        if not q.in_scope or (q.course_id, q.lessons[0]) not in chunks:
            continue
        words = set(terms(q.q))
        ranked = sorted(
            chunks[q.course_id, q.lessons[0]],
            key=lambda p: (-len(words & set(terms(p.text))), p.chunk_id),
        )[:3]
        blanks_in_content += any(re.search(r"_{3,}", p.text) for p in ranked)
        draft = backend.answer(q.q, ranked)
        asked += 1
        assert not re.search(r"_{3,}", draft.text), (q.q, draft.text)
        assert leads_with(draft.text, ranked[0]), (q.q, draft.text, ranked[0].text[:300])
        assert draft.cited and draft.cited[0] == 1 and "[1]" in draft.text
        assert not re.search(r"(?m)(^|\] |: )(Exercise|Solution)\b", draft.text), draft.text
    assert asked >= 500, asked
    assert blanks_in_content, "no passage with a blank was given: the check proved nothing"


@pytest.mark.parametrize(
    "line",
    [
        "x = ________",
        "The result is ____ because ____.",
        "_ _ _ _ _",
        "Solution",
        "Exercise 3.2: Fill in the missing value:",
        "Concepts in Practice",
        "```bash",
        "::::::::::::: solution",
    ],
)
def test_scaffolding_is_recognised(line):
    assert is_scaffolding(line)


@pytest.mark.parametrize(
    "line",
    [
        "The solution is to commit more often.",
        "Use wc -l to count the lines in a file.",
        "An exercise at the end of the chapter checks your understanding of loops.",
    ],
)
def test_prose_is_not_scaffolding(line):
    assert not is_scaffolding(line)


def passage(text: str) -> Passage:
    return Passage("c", "Lesson", "Section", "src", text, 1.0, 1.0, "c/1", "Course")


def test_the_best_sentence_leads_and_the_command_the_lesson_gives_follows_it():
    text = (
        "Files are stored in directories on the disk of the computer.\n"
        "Exercise\n"
        "Complete the command: ls ________\n"
        "To count the lines in a file, use the word count command with its -l flag:\n"
        "$ wc -l cubane.pdb\n"
        "It prints the number of lines followed by the file name."
    )
    draft = ExtractiveBackend().answer("how do i count the lines in a file", [passage(text)])
    body = draft.text.removeprefix(LEAD)
    assert body.startswith("To count the lines in a file, use the word count command")
    assert "`$ wc -l cubane.pdb`" in body
    assert "____" not in body and "Exercise" not in body
    assert draft.cited == [1] and body.endswith("[1]")


def test_a_top_passage_of_only_exercises_is_pointed_to_not_skipped():
    only_blanks = passage("Exercise\nx = ________\ny = ________")
    other = passage("Loops repeat the commands in their body for each item in a list.")
    draft = ExtractiveBackend().answer("how do loops repeat commands", [only_blanks, other])
    assert draft.text.removeprefix(LEAD).startswith(f"See {only_blanks.citation}.")
    assert "____" not in draft.text


def test_commands_are_recognised():
    assert is_command("$ wc -l *.pdb") and is_command(">>> print(1)")
    assert not is_command("The $ sign is the prompt.") and not is_command("$ ls ____")
