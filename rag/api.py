"""The Python API the learner app calls: `ask(question, course_id=None) -> Answer`.

Stable contract (docs/rag.md): an `Answer` always has `text`, `backend`, `refused` and
`latency_ms`; a non-refused answer cites at least one passage and every cited passage is one of
`passages` (the retrieved ones). When the retrieved passages do not support the question
(`rag.answer.support` below `rag_min_similarity`: too far in meaning, too few of its words), the
answer says the course materials do not cover it instead of guessing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from pathwise.settings import Settings, get_settings
from rag.answer import ExtractiveBackend, LLMUnusable, OpenAIBackend, support
from rag.retrieve import Passage, get_retriever

REFUSAL = (
    "The course materials do not cover this question, so I can't answer it from them. "
    "Try rephrasing, or ask about a topic the course teaches."
)


@dataclass
class Answer:
    text: str
    citations: list[Passage]
    backend: str  # the backend that produced `text` ('extractive' or 'openai')
    refused: bool
    latency_ms: float
    notice: str | None = None  # shown to the learner, e.g. "the language model timed out ..."
    passages: list[Passage] = field(default_factory=list)  # everything retrieved

    def to_dict(self) -> dict:
        d = asdict(self)
        for p in (*d["citations"], *d["passages"]):
            p.pop("chunk_id", None)
        return d


def ask(
    question: str,
    course_id: str | None = None,
    *,
    backend: str | None = None,
    on_token: Callable[[str], None] | None = None,
    settings: Settings | None = None,
) -> Answer:
    """Answer a learner's question from course content (one course, or the whole catalog).

    `backend` overrides `settings.rag_backend`; `on_token` receives the answer text as it streams.
    """
    started = time.perf_counter()
    s = settings or get_settings()
    question = " ".join(question.split())[:2000]
    chosen = backend or s.rag_backend
    passages = (
        get_retriever(s).search(question, course_id=course_id, k=s.rag_top_k) if question else []
    )

    def done(text: str, cited: list[int], used: str, refused: bool, notice: str | None) -> Answer:
        return Answer(
            text=text,
            citations=[passages[n - 1] for n in cited],
            backend=used,
            refused=refused,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            notice=notice,
            passages=passages,
        )

    if not question or support(question, passages) < s.rag_min_similarity:
        return done(REFUSAL, [], chosen, True, None)
    if chosen == "openai":
        try:
            draft = OpenAIBackend(s).answer(question, passages, on_token)
            if draft.refused:
                return done(REFUSAL, [], "openai", True, None)
            return done(draft.text, draft.cited, "openai", False, None)
        except LLMUnusable as e:
            notice = f"{e}; this answer was composed from the course passages instead."
            draft = ExtractiveBackend().answer(question, passages, on_token)
            return done(draft.text, draft.cited, "extractive", False, notice)
    draft = ExtractiveBackend().answer(question, passages, on_token)
    return done(draft.text, draft.cited, "extractive", False, None)
