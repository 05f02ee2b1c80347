"""The graded answer: `confident`, `closest` or `refused`, from what retrieval found.

A single similarity threshold refused 37% of in-scope questions that learners wrote in their own
words (measured independently): it was tuned on questions that share the lessons' words. So the
decision now weighs several signals of one retrieval, each on a scale that does not depend on
the index's size (FEATURES), with a small logistic regression trained offline on the dev split
of rag/eval/learner (`python -m rag.calibrate`; coefficients and thresholds in decision.json,
versioned with the code, never trained at run time). Its probability that the course answers
the question is then graded by two thresholds chosen on dev:

- `confident` (>= `confident`): answer with citations;
- `closest` (>= `closest`): "here is the closest material, it may not fully answer this", with
  the passages: a question the course may cover in other words is not turned away;
- `refused` (below): nothing in the course is close.

`closest` is set so that at most 2.5% of dev's in-scope questions are refused, `confident` so
that at most 5% of dev's out-of-scope questions get a confident answer: half the acceptance
limits (5% and 10%), for questions unlike dev's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rag.retrieve import Candidates, Passage, titled_text
from rag.text import terms

MODEL = Path(__file__).parent / "decision.json"
# Agreement, margin and a normalised BM25 score were tried too (rag.decision.features computes
# the first two): in a 5-fold CV within dev they changed no rate by more than one question.
FEATURES = ("similarity", "coverage")
Grade = str  # 'confident' | 'closest' | 'refused'
CORRECTED_WEIGHT = 0.5  # a word typo correction produced counts half: the correction may be wrong


def idf_coverage(c: Candidates, text: str) -> float:
    """Share of the question's IDF mass (rare words weigh more) that `text` contains."""
    total = sum(c.idf.get(t, 0.0) for t in c.terms)
    if total <= 0:
        return 0.0
    found = set(terms(text)) & c.terms
    return (
        sum(c.idf.get(t, 0.0) * (CORRECTED_WEIGHT if t in c.corrected else 1.0) for t in found)
        / total
    )


def features(c: Candidates, passages: list[Passage]) -> dict[str, float]:
    """The decision's inputs for one retrieval (`passages`: what `rank` returned, best first).

    - similarity: the best passage or sentence cosine among the passages;
    - coverage: IDF-weighted share of the question's words in the first passage and its titles;
    - agreement: share of the three first-stage lists (passage vectors, BM25, sentence vectors)
      whose first hit is in the first passage's lesson: answerable questions make them agree;
    - margin: rerank score of the first passage minus the second's (a clear winner).
    """
    if not passages:
        return dict.fromkeys(("similarity", "coverage", "agreement", "margin"), 0.0)
    top = passages[0]
    lesson = c.rows[top.chunk_id]["doc_id"] if top.chunk_id in c.rows else None
    firsts = [ids[0] for ids in (c.vector, c.fts, c.sentence) if ids]
    agree = sum(1 for cid in firsts if c.rows.get(cid, {}).get("doc_id") == lesson)
    return {
        "similarity": max(p.similarity for p in passages),
        "coverage": idf_coverage(c, titled_text(top)),
        "agreement": agree / 3,
        "margin": top.score - passages[1].score if len(passages) > 1 else top.score,
    }


@dataclass(frozen=True)
class DecisionModel:
    """Standardised logistic regression over FEATURES plus the two grade thresholds."""

    version: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    closest: float  # probability at or above which the closest material is shown
    confident: float  # probability at or above which the answer is confident

    def probability(self, x: dict[str, float]) -> float:
        z = self.intercept + sum(
            w * (x[f] - m) / s
            for f, m, s, w in zip(self.features, self.mean, self.scale, self.coef, strict=True)
        )
        return 1 / (1 + math.exp(-z))

    def grade(self, p: float) -> Grade:
        return "confident" if p >= self.confident else "closest" if p >= self.closest else "refused"

    def to_json(self) -> str:
        return json.dumps(
            {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}, indent=2
        )


def read_model(path: Path = MODEL) -> DecisionModel:
    data = json.loads(path.read_text())
    return DecisionModel(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@cache
def model() -> DecisionModel:
    """The shipped model (rag/decision.json), read once."""
    return read_model()


@dataclass(frozen=True)
class Decision:
    grade: Grade
    confidence: float  # the model's probability that the course answers the question
    features: dict[str, float]


def decide(c: Candidates, passages: list[Passage], m: DecisionModel | None = None) -> Decision:
    x = features(c, passages)
    m = m or model()
    p = m.probability(x) if passages else 0.0
    return Decision(grade=m.grade(p) if passages else "refused", confidence=p, features=x)
