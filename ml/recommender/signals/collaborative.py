"""Learners like you: the collaborative model's score (`ml/recommender/collaborative.py`)."""

from __future__ import annotations

import numpy as np
import polars as pl

from ml.recommender.signals.base import Reason, Signal, register
from ml.recommender.signals.history import history_reason


@register
class Collaborative(Signal):
    name = "collaborative"
    order = 10
    default_weight = 0.5
    label = "Learners like you"
    description = (
        "What learners with a similar history took (EASE, ALS or BPR, chosen per dataset), scaled "
        "to [0, 1] per learner over the courses they may take."
    )
    grid = (0.25, 0.5, 1.0)

    def score(self, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
        raw = self.model.collab.score(rows)
        lo = np.where(ok, raw, np.inf).min(axis=1, keepdims=True)
        hi = np.where(ok, raw, -np.inf).max(axis=1, keepdims=True)
        span = hi - lo
        return np.where(
            np.isfinite(span) & (span > 0), (raw - lo) / np.where(span > 0, span, 1), 0.0
        )

    def reason(self, long: pl.DataFrame) -> tuple[pl.DataFrame, Reason | None]:
        return history_reason(self.model, long, self.name)
