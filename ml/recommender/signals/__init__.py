"""The recommender's signals: one module each in this folder, found and registered on import.

from ml.recommender.signals import names, default_weights, registered
"""

from __future__ import annotations

import importlib
import pkgutil

from ml.recommender.signals.base import Reason, Signal, register, registered, unregister

__all__ = [
    "Reason",
    "Signal",
    "default_weights",
    "names",
    "register",
    "registered",
    "unregister",
]

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")


def names() -> tuple[str, ...]:
    """Signal names in blend order (the `contrib_<name>` columns, in this order)."""
    return tuple(cls.name for cls in registered())


def default_weights() -> dict[str, float]:
    """Each signal's versioned default weight (admins' saved weights go on top)."""
    return {cls.name: float(cls.default_weight) for cls in registered()}
