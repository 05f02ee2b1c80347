"""Trending: enrolments in the trailing window, log-scaled (the model's `popularity`)."""

from __future__ import annotations

import numpy as np
import polars as pl

from ml.recommender.signals.base import Reason, Signal, register


@register
class Popularity(Signal):
    name = "popularity"
    order = 40
    default_weight = 0.25
    label = "Trending"
    description = (
        "Enrolments in the last 30 days (all time in a quiet month), log-scaled to [0, 1]."
    )
    grid = (0.0, 0.1, 0.25, 0.5)

    def score(self, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.model.popularity, ok.shape)

    def reason(self, long: pl.DataFrame) -> tuple[pl.DataFrame, Reason | None]:
        return long, Reason(
            key="popularity",
            applies=pl.col(f"contrib_{self.name}") > 0,
            text=pl.lit(self.model.popularity_label),
            alone=True,
        )
