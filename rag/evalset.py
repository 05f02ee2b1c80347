"""The course Q&A evaluation set (rag/eval/learner/*.yaml): learner questions, their lessons, and
deterministic dev/test splits and folds **by lesson**.

Each file holds one course's questions grouped under the lesson that answers them (`also`: other
lessons that answer it too), and questions near the course's topics that it does not answer
(`out_of_scope`); general.yaml holds out-of-scope questions asked of the whole catalog. A lesson
is the unit of the split: all its questions are on one side, so a classifier tuned on dev never
saw a test question's lesson. Out-of-scope questions are their own units. Within each course (and
each kind), units are ordered by the SHA-256 of their name and dealt round-robin to the folds, so
every course is on both sides and the order of the files does not matter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

QUESTIONS = Path(__file__).parent / "eval" / "learner"


@dataclass(frozen=True)
class Question:
    q: str
    course_id: str | None  # None: asked of the whole catalog
    lessons: tuple[str, ...] = ()  # the lessons (module titles) that answer it; () out of scope

    @property
    def in_scope(self) -> bool:
        return bool(self.lessons)

    @property
    def unit(self) -> str:
        """What the split deals: the (first) lesson for an in-scope question, else itself."""
        return f"{self.course_id}/{self.lessons[0]}" if self.lessons else f"out/{self.q}"

    @property
    def stratum(self) -> str:
        return f"{self.course_id}/{'in' if self.lessons else 'out'}"

    def hits(self, course_id: str, module: str) -> bool:
        """Whether a passage of this course and module answers the question."""
        return course_id == self.course_id and module in self.lessons


def load_questions(folder: Path = QUESTIONS) -> list[Question]:
    """Every question of every file, in-scope and out-of-scope."""
    out: list[Question] = []
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        course = data.get("course_id")
        for lesson, questions in (data.get("lessons") or {}).items():
            for x in questions:
                text, also = (x, []) if isinstance(x, str) else (x["q"], x.get("also", []))
                out.append(Question(text, course, (lesson, *also)))
        out += [Question(text, course) for text in data.get("out_of_scope") or []]
    return out


def folds(questions: Sequence[Question], k: int) -> list[int]:
    """Fold 0..k-1 of each question: units (lessons, or single out-of-scope questions) ordered by
    SHA-256 within their stratum (course and kind) and dealt round-robin."""
    units = sorted(
        {(q.stratum, hashlib.sha256(q.unit.encode()).hexdigest(), q.unit) for q in questions}
    )
    fold_of: dict[str, int] = {}
    dealt: dict[str, int] = {}
    for stratum, _, unit in units:
        fold_of[unit] = dealt.get(stratum, 0) % k
        dealt[stratum] = dealt.get(stratum, 0) + 1
    return [fold_of[q.unit] for q in questions]


def dev_test_split(questions: Sequence[Question]) -> list[str]:
    """'dev' or 'test' for each question (fold 0 / 1 of two)."""
    return [("dev", "test")[f] for f in folds(questions, 2)]


def rank_of(hits: Sequence[bool]) -> int | None:
    """1-based rank of the first hit, or None."""
    return next((i for i, h in enumerate(hits, 1) if h), None)


def retrieval_metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    """hit@1, hit@5 and MRR@10 from first-hit ranks (None = not in the top 10). All in [0, 1]."""
    n = max(len(ranks), 1)
    return {
        "hit@1": sum(r == 1 for r in ranks) / n,
        "hit@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= 10) / n,
    }
