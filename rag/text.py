"""Words of a question or passage: content words for full-text queries, sentence choice and the
lexical coverage that backs up the refusal decision."""

from __future__ import annotations

import re
from collections.abc import Collection

_WORD = re.compile(r"[a-z0-9_]+")
# Question words and glue: they carry no topic, and the full-text index (Lucene's short English
# list) keeps most of them.
_STOP_WORDS = """
    a an and are as at be but by can do does for from how i if in into is it its me my of on
    or so that the their then there these this to was what when where which who why will
    with would you your we our use using get make made want should could have has had not no
    yes than
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
