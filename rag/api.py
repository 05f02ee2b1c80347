"""The Python API the learner app calls: `ask(question, course_id=None) -> Answer`.

Stable contract (docs/rag.md): an `Answer` always has `text`, `grade`, `backend`, `refused` and
`latency_ms`; a non-refused answer cites at least one passage and every cited passage is one of
`passages` (the retrieved ones). The grade comes from `rag.decision`: `confident` (answered from
the passages), `closest` (the closest material, said to perhaps not answer the question: shown,
never sent to a language model) or `refused` (nothing in the course is close; `refused` is True).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from pathwise.qa_outcomes import QaOutcomes
from pathwise.settings import Settings, get_settings
from rag.answer import ExtractiveBackend, LLMUnusable, OpenAIBackend
from rag.decision import Grade, decide
from rag.retrieve import Passage, candidate_count, get_retriever, rank

REFUSAL = (
    "The course materials do not cover this question, so I can't answer it from them. "
    "Try rephrasing, or ask about a topic the course teaches."
)
CLOSEST = (
    "The course may not answer this exactly. Here is the closest material I found in it; "
    "check whether it covers what you need: "
)
GRADE_LABELS = {
    "confident": "answered from the course",
    "closest": "closest material, may not fully answer the question",
    "refused": "not covered by the course",
}


@dataclass
class Answer:
    text: str
    citations: list[Passage]
    backend: str  # the backend that produced `text` ('extractive' or 'openai')
    refused: bool
    latency_ms: float
    notice: str | None = None  # shown to the learner, e.g. "the language model timed out ..."
    passages: list[Passage] = field(default_factory=list)  # everything retrieved
    grade: Grade = "confident"  # 'confident' | 'closest' | 'refused' (rag.decision)
    confidence: float = 0.0  # the decision model's probability that the course answers it

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
    log_outcome: bool = False,
) -> Answer:
    """Answer a learner's question from course content (one course, or the whole catalog).

    `backend` overrides `settings.rag_backend`; `on_token` receives the answer text as it streams
    (whatever the grade). `log_outcome` logs the grade, course and best passage's module (never
    the question: pathwise/qa_outcomes.py) for the course quality benchmark: learners' questions
    only (the app's page), not evaluations, warm-ups or `pathwise ask`.
    """
    started = time.perf_counter()
    s = settings or get_settings()
    question = " ".join(question.split())[:2000]
    chosen = backend or s.rag_backend
    passages: list[Passage] = []
    grade, confidence = "refused", 0.0
    if question:
        c = get_retriever(s).candidates(
            question, course_id=course_id, n=candidate_count(s.rag_top_k)
        )
        passages = rank(c, k=s.rag_top_k)
        decision = decide(c, passages)
        grade, confidence, question = decision.grade, decision.confidence, c.question

    def done(text: str, cited: list[int], used: str, notice: str | None = None) -> Answer:
        if log_outcome:
            best = passages[0] if passages else None
            QaOutcomes().record(
                course_id=course_id or (best.course_id if best else None),
                scope="course" if course_id else "catalog",
                module=best.module if best else None,
                grade=grade,
            )
        return Answer(
            text=text,
            citations=[passages[n - 1] for n in cited],
            backend=used,
            refused=grade == "refused",
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            notice=notice,
            passages=passages,
            grade=grade,
            confidence=round(confidence, 4),
        )

    if grade == "refused":
        if on_token:
            on_token(REFUSAL)
        return done(REFUSAL, [], chosen)
    if grade == "closest":  # shown as found: a model would answer it with more confidence
        draft = ExtractiveBackend(lead=CLOSEST).answer(question, passages, on_token)
        return done(draft.text, draft.cited, "extractive")
    if chosen == "openai":
        try:
            draft = OpenAIBackend(s).answer(question, passages, on_token)
            if draft.refused:
                grade = "refused"
                return done(REFUSAL, [], "openai")
            return done(draft.text, draft.cited, "openai")
        except LLMUnusable as e:
            notice = f"{e}; this answer was composed from the course passages instead."
            draft = ExtractiveBackend().answer(question, passages, on_token)
            return done(draft.text, draft.cited, "extractive", notice)
    draft = ExtractiveBackend().answer(question, passages, on_token)
    return done(draft.text, draft.cited, "extractive")


def render_answer(answer: Answer, *, text: bool = True) -> str:
    """What `pathwise ask` prints: the answer's text (unless it was already streamed through
    `on_token`: text=False), its grade, the cited passages, then the backend and latency."""
    lines = [answer.text, ""] if text else []
    lines.append(f"[{answer.grade}: {GRADE_LABELS[answer.grade]}]")
    lines += [f"  [{n}] {p.citation} ({p.source})" for n, p in enumerate(answer.citations, 1)]
    lines.append(f"({answer.backend}, {answer.latency_ms:.0f} ms)")
    return "\n".join(lines)
