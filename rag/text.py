"""Words of a question or passage: content words for full-text queries, sentence choice and the
lexical coverage that backs up the refusal decision."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

_WORD = re.compile(r"[a-z0-9_]+")
# Question words and glue: they carry no topic, and the full-text index (Lucene's short English
# list) keeps most of them. Learners drop apostrophes ("whats", "dont").
_STOP_WORDS = """
    a an and are as at be but by can do does for from how i if in into is it its me my of on
    or so that the their then there these this to was what when where which who why will
    with would you your we our use using get make made want should could have has had not no
    yes than whats dont cant doesnt didnt isnt arent wont im ive thats theres hows lets youre
    shouldnt wouldnt couldnt
"""
_STOP = frozenset(_STOP_WORDS.split())


def content_words(text: str) -> list[str]:
    """Lower-case words that carry meaning (stop words and single characters dropped)."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1]


def stem(word: str) -> str:
    """A crude stem: plural 's' dropped (enough to match "files" with "file")."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def terms(text: str) -> list[str]:
    """Lower-case content words, crudely stemmed."""
    return [stem(w) for w in content_words(text)]


def coverage(question_terms: Collection[str], text: str) -> float:
    """Share of the question's terms that `text` contains (0 for a question without any)."""
    if not question_terms:
        return 0.0
    return len(set(question_terms) & set(terms(text))) / len(question_terms)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD_OR_OTHER = re.compile(r"[A-Za-z]+|[^A-Za-z]+")
MIN_TYPO_LENGTH = 4  # shorter words have too many neighbours one edit away


def one_edit(word: str) -> set[str]:
    """Every string one deletion, swap of neighbours, substitution or insertion from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return {
        *(a + b[1:] for a, b in splits if b),
        *(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1),
        *(a + c + b[1:] for a, b in splits if b for c in _LETTERS),
        *(a + c + b for a, b in splits for c in _LETTERS),
    }


def correct_typos(
    question: str, vocabulary: Mapping[str, int], known: Collection[str] = ()
) -> tuple[str, set[str]]:
    """The question with each misspelt word replaced by the index word one edit away that most
    passages use ("delte" -> "delete", "comit" -> "commit"). A word is left alone when the index
    has it, when it is a known word of the language (`known`: e.g. the embedding tokenizer's
    whole words, so "bread" never becomes "break"), when it is short or when nothing is one edit
    away. Learners misspell; the lessons' words are the ones retrieval can match.

    Returns the corrected question and the terms that replaced a misspelt word (a correction can
    be wrong: "stash" is one edit from "slash", so coverage counts them for half)."""
    out: list[str] = []
    corrected: set[str] = set()
    for part in _WORD_OR_OTHER.findall(question):
        word = part.lower()
        if (
            not part.isalpha()
            or len(word) < MIN_TYPO_LENGTH
            or word in _STOP
            or stem(word) in vocabulary
            or word in known
        ):
            out.append(part)
            continue
        swapped = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
        glue = sorted(swapped & _STOP)  # "waht" is "what", not "want"
        near = [w for w in one_edit(word) if stem(w) in vocabulary]
        best = glue[0] if glue else max(near, key=lambda w: (vocabulary[stem(w)], w), default="")
        out.append(best or part)
        if best:
            corrected.add(stem(best))
    return "".join(out), corrected
