"""Skills for your goal: the share of a course's skills that the learner's target role needs and the
learner does not have yet (O*NET role -> skills; stated skills and skills of passed courses)."""

from __future__ import annotations

import numpy as np
import polars as pl

from ml.recommender.signals.base import Reason, Signal, register
from ml.recommender.sparse import csr


@register
class SkillGap(Signal):
    name = "skill_gap"
    order = 20
    default_weight = 0.25
    label = "Skills for your goal"
    description = (
        "Share of the course's skills that the learner's target role needs and they lack "
        "(O*NET role skills minus stated and passed skills)."
    )

    def __init__(self, model) -> None:
        super().__init__(model)
        m, d = model, model.data
        learned = (
            m.pairs.filter(pl.col("passed"))
            .join(d.course_skills, on="course_id")
            .select("learner_key", "skill")
        )
        # learner_key, skill, role: skills the learner's target role needs and they lack.
        self.gap = (
            d.learners.select("learner_key", role="target_role")
            .drop_nulls("role")
            .join(d.role_skills, on="role")
            .filter(pl.col("skill").is_in(m.skills))
            .join(
                pl.concat([m.stated, learned]).drop_nulls(),
                on=["learner_key", "skill"],
                how="anti",
            )
            .select("learner_key", "skill", "role")
        )
        G = csr(
            np.array([m.lidx[k] for k in self.gap["learner_key"]], dtype=np.int64),
            np.array([m.sidx[s] for s in self.gap["skill"]], dtype=np.int64),
            np.ones(self.gap.height),
            (len(m.learner_keys), len(m.skills)),
        )
        G.data[:] = 1.0
        self.G = G  # learner x skill: 1 where the target role needs a skill the learner lacks

    def score(self, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
        # S rows sum to 1 per course, so G S^T is the share of the course's skills in the gap.
        return np.asarray(self.G[rows].dot(self.model.S.T).todense())

    def reason(self, long: pl.DataFrame) -> tuple[pl.DataFrame, Reason | None]:
        named = (
            long.select("learner_key", "course_id")
            .join(self.model.data.course_skills, on="course_id")
            .join(self.gap, on=["learner_key", "skill"])
            .sort("learner_key", "course_id", "skill")
            .group_by("learner_key", "course_id")
            .agg(gap_skills=pl.col("skill").head(2), gap_role=pl.col("role").first())
        )
        long = long.join(named, on=["learner_key", "course_id"], how="left", maintain_order="left")
        return long, Reason(
            key="skills",
            applies=pl.col("gap_skills").is_not_null() & (pl.col(f"contrib_{self.name}") > 0),
            text=pl.format(
                "your target role {} needs {}",
                pl.col("gap_role"),
                pl.col("gap_skills").list.join(" and "),
            ),
            skills=pl.col("gap_skills"),
            role=pl.col("gap_role"),
        )
