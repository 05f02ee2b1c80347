"""What a control would change, computed on a sample of learners before it is saved.

Both previews compare the lists the sample sees now (under the controls in force) with the lists
they would see with the change, using the same `apply_controls` as the read API:

- a boost or suppression: add the new control to the active ones;
- blend weights: re-blend each candidate's score from its per-signal contributions,
  `contrib / old weight x new weight` (a signal whose old weight is 0 contributed nothing, so
  raising it cannot be previewed), then rank by the new score (without the nightly diversity
  rule, so the preview is close to, not exactly, the next night's lists).

A change to more than `CONFIRM_ABOVE` of the sampled lists needs the admin's explicit
confirmation before it can be saved. Examples are a few sampled learners' lists before and after
(course ids; the page shows titles, the learner's segment and goal, never the learner_key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from pathwise.controls import CourseControl, apply_controls, without_nightly_boost

# Above this share of sampled top-k lists changed, saving needs an explicit confirmation.
CONFIRM_ABOVE = 0.25
EXAMPLES = 3


@dataclass(frozen=True)
class Example:
    """One sampled learner's top k now and with the change (course ids in rank order)."""

    learner_key: str  # to look up their segment and goal; never shown
    before: list[str]
    after: list[str]

    @property
    def entered(self) -> list[str]:
        return [c for c in self.after if c not in self.before]

    @property
    def left(self) -> list[str]:
        return [c for c in self.before if c not in self.after]


@dataclass(frozen=True)
class Preview:
    learners: int  # learners in the sample
    changed: int  # learners whose top k changes (membership or order)
    gained: int  # learners who would newly see the course (boost) / lose it (suppress)
    mean_overlap: float  # mean share of the current top k that stays in the new top k
    examples: list[Example]  # a few learners whose list changes

    @property
    def changed_share(self) -> float:
        return self.changed / self.learners if self.learners else 0.0

    @property
    def needs_confirmation(self) -> bool:
        return self.changed_share > CONFIRM_ABOVE


def _by_learner(candidates: pd.DataFrame) -> dict[str, list[dict]]:
    """learner_key -> candidate rows in their current order (one to_dict: groupby is 10x slower)."""
    out: dict[str, list[dict]] = {}
    columns = ["learner_key", "course_id", "score", *(["boost"] if "boost" in candidates else [])]
    for row in without_nightly_boost(candidates[columns].to_dict("records")):
        out.setdefault(row["learner_key"], []).append(row)
    return out


def _compare(
    before: dict[str, list[dict]], after: dict[str, list[dict]], course_id: str | None
) -> Preview:
    changed = gained = 0
    overlaps, examples = [], []
    for key, now in before.items():
        now_ids = [r["course_id"] for r in now]
        new_ids = [r["course_id"] for r in after[key]]
        if now_ids != new_ids:
            changed += 1
        overlaps.append(len(set(now_ids) & set(new_ids)) / max(len(now_ids), 1))
        # A course control's examples: learners who gain (or lose) the course; weights': any change.
        moved = (
            (course_id in now_ids) != (course_id in new_ids)
            if course_id is not None
            else now_ids != new_ids
        )
        gained += course_id is not None and moved
        if moved and len(examples) < EXAMPLES:
            examples.append(Example(key, now_ids, new_ids))
    return Preview(
        learners=len(before),
        changed=changed,
        gained=gained,
        mean_overlap=sum(overlaps) / len(overlaps) if overlaps else 1.0,
        examples=examples,
    )


def course_control(
    candidates: pd.DataFrame,
    active: list[CourseControl],
    *,
    course_id: str,
    action: str,
    amount: float,
    k: int = 10,
) -> Preview:
    """Effect of boosting (by `amount`) or suppressing `course_id` on each sampled learner's top k."""
    draft = CourseControl(
        control_id=-1,
        course_id=course_id,
        action=action,
        amount=amount if action == "boost" else 0.0,
        reason="preview",
        created_by="preview",
        created_at=datetime.now(UTC),
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    # Only learners with the course among their candidates can see a difference.
    concerned = candidates.loc[candidates["course_id"] == course_id, "learner_key"].unique()
    learners = _by_learner(candidates[candidates["learner_key"].isin(concerned)])
    before = {key: apply_controls(rows, active, k)[0] for key, rows in learners.items()}
    after = {key: apply_controls(rows, [*active, draft], k)[0] for key, rows in learners.items()}
    result = _compare(before, after, course_id)
    overlap_all = (
        result.mean_overlap * result.learners + (n := candidates["learner_key"].nunique())
    ) - result.learners
    return Preview(
        learners=n,
        changed=result.changed,
        gained=result.gained,
        mean_overlap=overlap_all / n if n else 1.0,
        examples=result.examples,
    )


def reblend(candidates: pd.DataFrame, old: dict[str, float], new: dict[str, float]) -> pd.DataFrame:
    """Candidates with `score` recomputed under `new` weights from their contrib_<signal> columns."""
    out = candidates.copy()
    score = 0.0
    for signal, old_w in old.items():
        col = f"contrib_{signal}"
        if col not in out.columns:
            continue
        contrib = out[col].fillna(0.0)
        score = score + (contrib / old_w * new.get(signal, old_w) if old_w > 0 else contrib)
    # The nightly boost stays in `score` and in `boost`, as the recommender writes them, so
    # `without_nightly_boost` treats re-blended rows like published ones.
    out["score"] = score + (out["boost"].fillna(0.0) if "boost" in out.columns else 0.0)
    return out


def weights(
    candidates: pd.DataFrame,
    active: list[CourseControl],
    old: dict[str, float],
    new: dict[str, float],
    k: int = 10,
) -> Preview:
    """Effect of new blend weights on each sampled learner's top k (controls in force applied)."""
    # Both sides ranked by score: the nightly run's category diversity rule, which reorders a
    # little, is left out of both, so unchanged weights preview as no change.
    by_score = ["learner_key", "score"], [True, False]
    now = _by_learner(candidates.sort_values(by_score[0], ascending=by_score[1]))
    reblended = reblend(candidates, old, new)
    then = _by_learner(reblended.sort_values(by_score[0], ascending=by_score[1]))
    before = {key: apply_controls(rows, active, k)[0] for key, rows in now.items()}
    after = {key: apply_controls(then[key], active, k)[0] for key in now}
    return _compare(before, after, None)


def signal_shares(candidates: pd.DataFrame, signals: list[str], k: int = 10) -> pd.DataFrame:
    """Share of each signal in the top-k scores (how much each signal drives the lists)."""
    top = candidates.sort_values(["learner_key", "score"], ascending=[True, False])
    top = top.groupby("learner_key").head(k)
    sums = {s: float(top[f"contrib_{s}"].fillna(0).sum()) for s in signals if f"contrib_{s}" in top}
    total = sum(sums.values()) or 1.0
    return pd.DataFrame({"signal": list(sums), "share": [v / total for v in sums.values()]})
