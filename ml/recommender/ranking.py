"""From a fitted model to ranked lists: the rules, the admins' controls, the blend, the diversity cap.

Rules: never an enrolled or completed course; prerequisites met (passed, or waived: see
`ml/recommender/__init__.py`); difficulty at most one level above the learner's. Controls: a
suppressed course is never a candidate, a boost is added to the course's score
(`pathwise.controls.course_effects` says what each control does). Blend: the weighted sum of the
signals. Diversity: no category takes more than `DIVERSITY_CAP` places of each tier of the list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ml.recommender.model import Hybrid
from pathwise.controls import CourseControl, course_effects

DIVERSITY_CAP = 3  # at most this many courses of one category per tier (see `diversified`)
BLOCK_CELLS = 4_000_000  # learner x course cells scored at once (bounds memory per block)


@dataclass(frozen=True)
class Rules:
    """The business rules a list follows. Each has a cost in ranking quality, measured per dataset
    on the validation split (`ml/recommender/tuning.py`), which decides the ones kept there."""

    prerequisites: bool = True  # every prerequisite passed or waived
    waivers: bool = True  # ... a prerequisite may be waived by its skills or a shown level
    difficulty_ceiling: bool = True  # at most one level above the learner's
    diversity_cap: int | None = DIVERSITY_CAP  # courses of one category per tier; None: no cap

    def as_dict(self) -> dict:
        return {
            "prerequisites": self.prerequisites,
            "waivers": self.waivers,
            "difficulty_ceiling": self.difficulty_ceiling,
            "diversity_cap": self.diversity_cap,
        }


ALL_RULES = Rules()
NO_RULES = Rules(prerequisites=False, difficulty_ceiling=False, diversity_cap=None)


def eligible(model: Hybrid, rows: np.ndarray, rules: Rules = ALL_RULES) -> np.ndarray:
    """learners x courses: may this course be recommended to this learner? Never one already
    enrolled in or completed; the prerequisite and difficulty rules as `rules` say."""
    ok = ~model.taken[rows].toarray()
    if rules.prerequisites:
        ok &= prerequisites_met(model, rows, waivers=rules.waivers)
    if rules.difficulty_ceiling:
        ok &= model.difficulty[None, :] <= model.level[rows, None] + 1
    return ok


def prerequisites_met(model: Hybrid, rows: np.ndarray, *, waivers: bool = True) -> np.ndarray:
    """learners x courses: has the learner met every prerequisite of the course? Passed it,
    or (`waivers`) has all its skills or passed a course showing its level."""
    if not len(model.pre_cols):
        return np.ones((len(rows), len(model.course_ids)), dtype=bool)
    passed = model.passed[rows]
    if waivers:
        met = passed.dot(model.shows_level).toarray() > 0
        has = model.H[rows].dot(model.pre_skills.T).toarray()
        met |= (has >= model.pre_n_skills[None, :]) & (model.pre_n_skills[None, :] > 0)
    else:
        met = passed[:, model.pre_cols].toarray() > 0
    have = model.R[:, model.pre_cols].dot(met.T.astype(np.float32)).T
    return have >= model.n_prereqs[None, :]


def signal_scores(model: Hybrid, rows: np.ndarray, ok: np.ndarray) -> dict[str, np.ndarray]:
    """Each signal for learners `rows` x all courses, in [0, 1] (0 where not `ok`)."""
    return {
        name: np.where(ok, np.clip(signal.score(rows, ok), 0, 1), 0.0).astype(np.float32)
        for name, signal in model.signals.items()
    }


def control_vectors(
    model: Hybrid, controls: Iterable[CourseControl]
) -> tuple[np.ndarray, np.ndarray]:
    """Per course: suppressed (never a candidate) and the boost added to its score."""
    blocked = np.zeros(len(model.course_ids), dtype=bool)
    boost = np.zeros(len(model.course_ids), dtype=np.float32)
    for course_id, effect in course_effects(controls).items():
        c = model.cidx.get(course_id)
        if c is not None:
            blocked[c] = effect.suppressed_by is not None
            boost[c] = effect.boost
    return blocked, boost


def rank(
    model: Hybrid,
    rows: np.ndarray,
    n: int,
    weights: Mapping[str, float],
    *,
    controls: Iterable[CourseControl] = (),
    rules: Rules = ALL_RULES,
    pins: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Top-n courses for learners `rows`: (course index or -1, contributions, boost).
    `pins` (per row, a course index or -1) go first where the rules and controls allow them
    (`ml/recommender/path_step.py`)."""
    ok = eligible(model, rows, rules)
    blocked, boost = control_vectors(model, controls)
    ok &= ~blocked[None, :]
    boost = np.broadcast_to(boost, ok.shape)
    sig = signal_scores(model, rows, ok)
    return blend(model, sig, ok, weights, n, boost=boost, cap=rules.diversity_cap, pins=pins)


def blend(
    model: Hybrid,
    sig: Mapping[str, np.ndarray],
    ok: np.ndarray,
    weights: Mapping[str, float],
    n: int,
    *,
    boost: np.ndarray | None = None,
    cap: int | None = DIVERSITY_CAP,
    pins: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Weighted sum of signals (+ boost), top n of the eligible, diversified by `cap` (None:
    not at all); an eligible pin (per row, a course index or -1) first. A pinned row keeps its
    own contributions, so its score still adds up; only its place is not the score's."""
    if boost is None:
        boost = np.zeros(ok.shape, dtype=np.float32)
    contrib = {s: weights.get(s, 0.0) * sig[s] for s in model.signals}
    score = np.where(ok, sum(contrib.values()) + boost, -np.inf)
    top = top_n(score, n * 2 if cap else n)
    if cap:
        valid = np.take_along_axis(np.isfinite(score), top, axis=1)
        top = diversified(top, model.category, cap, valid)[:, :n]
    if pins is not None:
        top = pinned(top, np.where(ok[np.arange(len(pins)), pins.clip(0)], pins, -1))
    top = np.where(np.take_along_axis(np.isfinite(score), top, axis=1), top, -1)
    picked = {s: np.take_along_axis(v, top.clip(0), axis=1) for s, v in contrib.items()}
    return top, picked, np.take_along_axis(boost, top.clip(0), axis=1)


def pinned(top: np.ndarray, pins: np.ndarray) -> np.ndarray:
    """Each row's pin (a course index; -1: none) first, the rest in order after it, the length
    kept (the pin moves up if it was in the row, else the last entry makes room)."""
    out = top.copy()
    for r in np.flatnonzero(pins >= 0):
        rest = top[r][top[r] != pins[r]][: top.shape[1] - 1]
        out[r] = np.concatenate([[pins[r]], rest])
    return out


def block_rows(n_courses: int) -> int:
    """Learners per scoring block, so that a block holds about BLOCK_CELLS cells."""
    return max(64, BLOCK_CELLS // max(1, n_courses))


def top_n(score: np.ndarray, n: int) -> np.ndarray:
    """Column indices of the n best scores per row, best first (ties: lower index first)."""
    n = min(n, score.shape[1])
    part = (
        np.argpartition(-score, n - 1, axis=1)[:, :n]
        if n < score.shape[1]
        else (np.tile(np.arange(score.shape[1]), (score.shape[0], 1)))
    )
    vals = np.take_along_axis(score, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1)


def diversified(
    top: np.ndarray, category: np.ndarray, cap: int, valid: np.ndarray | None = None
) -> np.ndarray:
    """Re-rank each row in tiers: a tier takes at most `cap` courses of any category, in score
    order; a course beyond its category's cap moves to the next tier (a per-category cap that
    keeps every course, so the read API can still fill k after suppressions). Entries not
    `valid` (padding: ineligible courses) go last."""
    cats = category[top]
    position = np.broadcast_to(np.arange(top.shape[1]), top.shape)
    if valid is not None:  # padding: each its own group, so it takes no category's places
        cats = np.where(valid, cats, -1 - position)
    # Occurrences of a course's category before it: sort by (category, position), count from
    # the start of each run of equal categories, scatter back.
    by_cat = np.lexsort((position, cats), axis=1)
    sorted_cats = np.take_along_axis(cats, by_cat, axis=1)
    starts = np.ones(top.shape, dtype=bool)
    starts[:, 1:] = sorted_cats[:, 1:] != sorted_cats[:, :-1]
    run_start = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    occurrence = np.empty_like(by_cat)
    np.put_along_axis(occurrence, by_cat, position - run_start, axis=1)
    tier = occurrence // cap
    if valid is not None:
        tier = np.where(valid, tier, top.shape[1] + 1)
    order = np.lexsort((position, tier), axis=1)
    return np.take_along_axis(top, order, axis=1)
