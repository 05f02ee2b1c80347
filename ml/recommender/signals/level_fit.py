"""At your level: how close a course's difficulty is to the level the learner has shown.

Shown = the hardest course passed, or whose quizzes the learner averages at least QUIZ_MASTERY in
(quizzes before the model's as-of time); ties go to the most recent. 1 at that level, 0.5 one level
off, 0 two off; 0 for learners who have shown no level yet and for courses of unknown difficulty (no
evidence either way).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ml.recommender.signals.base import Reason, Signal, register

QUIZ_MASTERY = 0.7  # a course's quiz average from which its difficulty counts as shown


@register
class LevelFit(Signal):
    name = "level_fit"
    order = 50
    default_weight = 0.25
    label = "At your level"
    description = (
        "1 at the level the learner has shown (passes, quiz averages >= 70%), 0.5 one level off, "
        "0 two off or without evidence."
    )

    def __init__(self, model) -> None:
        super().__init__(model)
        # Per learner: the level shown so far (0: none yet), and the course that showed it (-1).
        self.shown_level, self.level_course = self._shown_levels()

    def _shown_levels(self) -> tuple[np.ndarray, np.ndarray]:
        m = self.model
        evidence = [
            m.pairs.filter(pl.col("passed")).select("learner_key", "course_id", at="last_at")
        ]
        quiz = m.data.quiz_scores
        if quiz is not None and quiz.height:
            if m.as_of is not None:
                quiz = quiz.filter(pl.col("at") < m.as_of)
            evidence.append(
                quiz.group_by("learner_key", "course_id")
                # rounded: a 0.7 average must not depend on the order of a float sum
                .agg(mean=pl.col("score").mean().round(9), at=pl.col("at").max())
                .filter(pl.col("mean") >= QUIZ_MASTERY)
                .select("learner_key", "course_id", "at")
            )
        difficulty = pl.DataFrame(
            {
                "course_id": m.course_ids,
                "difficulty": m.difficulty,
                "c": np.arange(len(m.course_ids)),
            }
        )
        best = (
            pl.concat(evidence, how="vertical_relaxed")
            .join(difficulty.filter(pl.col("difficulty") > 0), on="course_id")
            .filter(pl.col("learner_key").is_in(m.learner_keys))
            .sort("difficulty", "at", "course_id")
            .group_by("learner_key")
            .last()
        )
        level = np.zeros(len(m.learner_keys), dtype=np.float32)
        course = np.full(len(m.learner_keys), -1, dtype=np.int64)
        at = np.array([m.lidx[k] for k in best["learner_key"]], dtype=np.int64)
        level[at] = best["difficulty"].to_numpy()
        course[at] = best["c"].to_numpy()
        return level, course

    def score(self, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """1 - |difficulty - shown level| / 2, clipped to [0, 1]; 0 without evidence."""
        shown = self.shown_level[rows, None]
        d = self.model.difficulty[None, :]
        return np.where((shown > 0) & (d > 0), np.clip(1 - np.abs(d - shown) / 2, 0, 1), 0.0)

    def reason(self, long: pl.DataFrame) -> tuple[pl.DataFrame, Reason | None]:
        """ "it matches the level you reached in <course>", at the learner's shown level only."""
        m = self.model
        li, ci = long["l"].to_numpy(), long["c"].to_numpy().astype(np.int64)
        titles = m.courses["title"].to_list()
        # Made once per learner and gathered by row: formatting millions of rows is the slow part.
        shown = [
            (m.course_ids[c], titles[c]) if c >= 0 else (None, None) for c in self.level_course
        ]
        level_ids = pl.Series([c for c, _ in shown], dtype=pl.String)
        level_texts = pl.Series(
            [f"it matches the level you reached in {t}" if t else None for _, t in shown],
            dtype=pl.String,
        )
        long = long.with_columns(
            level_id=level_ids.gather(li),
            level_text=level_texts.gather(li),
            at_level=pl.Series(
                (self.level_course[li] >= 0) & (m.difficulty[ci] == self.shown_level[li])
            ),
        )
        return long, Reason(
            key="level",
            applies=pl.col("level_id").is_not_null()
            & (pl.col(f"contrib_{self.name}") > 0)
            & pl.col("at_level"),
            text=pl.col("level_text"),
            courses=pl.concat_list("level_id"),
        )
