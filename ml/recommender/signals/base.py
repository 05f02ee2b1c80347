"""What a recommender signal is: one module that says what it measures, how, and how it explains itself.

A signal is a subclass of `Signal` decorated with `@register`, in its own module in this package
(`ml/recommender/signals/`); the package finds every module here, so adding a signal is adding one
file. Everything else picks it up from the registry: the blend and its `contrib_<name>` columns,
the admins' weights and their validation (the controls), the reasons, the Control Tower's sliders
(through `ml.recommendation_signals` in the snapshot) and the weight grid of `pathwise evaluate recs`.

A signal object is built once per fitted model (`Hybrid`) and may precompute what it needs there;
`score` is then called block by block of learners.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from ml.recommender.model import Hybrid

_REGISTRY: dict[str, type[Signal]] = {}


@dataclass(frozen=True)
class Reason:
    """One part of a recommendation's reason, as polars expressions over the explained rows.

    Parts with the same `key` are one part (the learner's own course explains both the
    collaborative and the content signal). A part with `alone` is a whole sentence, used only when
    no other part applies (e.g. "Popular with learners this month").
    """

    key: str
    applies: pl.Expr  # bool per row: the part is true for the row and its signal contributed
    text: pl.Expr  # e.g. "you completed Intro to SQL"
    courses: pl.Expr | None = None  # list[str]: the learner's own courses it names
    skills: pl.Expr | None = None  # list[str]: skills it names
    role: pl.Expr | None = None  # the target role it names
    alone: bool = False


class Signal:
    """Base class: set the class attributes, implement `score` (and `reason` to explain)."""

    name: ClassVar[str]
    order: ClassVar[int]  # position in the blend, the contribution columns and the reasons
    default_weight: ClassVar[float]
    label: ClassVar[str]  # what admins see on the weight slider
    description: ClassVar[str]  # one sentence: what it measures
    grid: ClassVar[tuple[float, ...]] = (0.0, 0.25, 0.5, 1.0)  # weights evaluation tries

    def __init__(self, model: Hybrid) -> None:
        self.model = model

    def score(self, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Learners `rows` x every course, in [0, 1]; `ok` marks the eligible courses (the blend
        zeroes the others)."""
        raise NotImplementedError

    def reason(self, long: pl.DataFrame) -> tuple[pl.DataFrame, Reason | None]:
        """The explained rows (learner_key, course_id, l, c, contrib_*) with whatever columns this
        signal's reason needs joined on, and the reason part (None: this signal gives none)."""
        return long, None


def register(cls: type[Signal]) -> type[Signal]:
    """Class decorator: make a signal known to the blend, the controls, the reasons and the app."""
    for attr in ("name", "order", "default_weight", "label", "description"):
        if not hasattr(cls, attr):
            raise TypeError(f"signal {cls.__name__} must set the class attribute {attr!r}")
    if not cls.name.isidentifier():
        raise TypeError(f"signal name {cls.name!r} must be a lowercase identifier")
    _REGISTRY[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Forget a signal (tests that add a toy signal put the registry back as it was)."""
    _REGISTRY.pop(name, None)


def registered() -> list[type[Signal]]:
    """Every registered signal, in blend order."""
    return sorted(_REGISTRY.values(), key=lambda cls: (cls.order, cls.name))
