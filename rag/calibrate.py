"""Train the graded decision (rag/decision.json) on the **dev** split of rag/eval/learner.

    python -m rag.calibrate            # on the index under PATHWISE_HOME (`pathwise index` first)

One row per dev question, retrieved as `ask` retrieves it (its course when it has one, else the
whole catalog); label: in scope or not. A standardised logistic regression (scikit-learn, fixed
random state, classes balanced, default regularisation) gives the probability; the thresholds
are set on the same rows (see rag.decision). `pathwise evaluate rag` repeats this training on dev
and on each CV fold and reports whether the shipped file still matches it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.decision import FEATURES, MODEL, DecisionModel, Grade

VERSION = "learner-v2"  # bump with the question set, FEATURES or the retrieval they read
MAX_REFUSED_IN_SCOPE = 0.025  # half the 5% acceptance limit, for questions unlike dev's
MAX_CONFIDENT_OUT_OF_SCOPE = 0.05  # half the 10% limit


def thresholds(p_in: Sequence[float], p_out: Sequence[float]) -> tuple[float, float]:
    """(closest, confident): the highest `closest` refusing at most MAX_REFUSED_IN_SCOPE of the
    in-scope probabilities and the lowest `confident` passing at most MAX_CONFIDENT_OUT_OF_SCOPE
    of the out-of-scope ones, each half-way between two neighbouring probabilities."""
    ins, outs = sorted(p_in), sorted(p_out, reverse=True)
    r = int(MAX_REFUSED_IN_SCOPE * len(ins))  # in-scope questions allowed below `closest`
    closest = (ins[r - 1] + ins[r]) / 2 if r else ins[0] / 2
    a = int(MAX_CONFIDENT_OUT_OF_SCOPE * len(outs))  # out-of-scope allowed at or above
    confident = (outs[a - 1] + outs[a]) / 2 if a else (outs[0] + 1) / 2
    return round(min(closest, confident), 4), round(confident, 4)


def fit(rows: Sequence[dict[str, float]], in_scope: Sequence[bool]) -> DecisionModel:
    """The decision model for these feature rows and labels."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r[f] for f in FEATURES] for r in rows])
    y = np.array(in_scope, dtype=bool)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(class_weight="balanced", random_state=0)
    lr.fit((x - mean) / scale, y)
    m = DecisionModel(
        version=VERSION,
        features=FEATURES,
        mean=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(v), 6) for v in scale),
        coef=tuple(round(float(v), 6) for v in lr.coef_[0]),
        intercept=round(float(lr.intercept_[0]), 6),
        closest=0.0,
        confident=1.0,
    )
    p = np.array([m.probability(r) for r in rows])
    closest, confident = thresholds(p[y].tolist(), p[~y].tolist())
    return DecisionModel(**{**vars(m), "closest": closest, "confident": confident})


def grades(m: DecisionModel, rows: Sequence[dict[str, float]]) -> list[Grade]:
    return [m.grade(m.probability(r)) for r in rows]


def main() -> None:
    from pathwise.settings import get_settings
    from rag.decision import features
    from rag.evalset import dev_test_split, load_questions
    from rag.retrieve import candidate_count, get_retriever, rank

    s = get_settings()
    questions = load_questions()
    dev = [q for q, side in zip(questions, dev_test_split(questions), strict=True) if side == "dev"]
    retriever = get_retriever(s)
    rows = []
    for q in dev:
        c = retriever.candidates(q.q, course_id=q.course_id, n=candidate_count(s.rag_top_k))
        rows.append(features(c, rank(c, k=s.rag_top_k)))
    m = fit(rows, [q.in_scope for q in dev])
    MODEL.write_text(m.to_json() + "\n")
    print(f"{MODEL}: trained on {len(dev)} dev questions\n{m.to_json()}")


if __name__ == "__main__":
    main()
