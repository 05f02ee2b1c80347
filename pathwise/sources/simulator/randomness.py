"""Reproducible random streams and the random-looking ids the platform hands out.

Same seed, same files: every draw of the simulator comes from `random_stream(seed, purpose,
[day])`, one independent numpy generator per purpose (1 catalog, 2 learners, 3 a day's
behaviour, 4 a day's envelope and bad input). A change in one part therefore never shifts the
draws of another, and a day's draws do not depend on how many were made the day before.
Ids are built vectorized from integers, as millions are needed per simulated day.
"""

from __future__ import annotations

import numpy as np
import polars as pl

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def random_stream(seed: int, *keys: int) -> np.random.Generator:
    """An independent, reproducible random stream per purpose (and day)."""
    return np.random.default_rng([seed, *keys])


def hex_ids(values: np.ndarray, digits: int, prefix: str) -> pl.Series:
    """`prefix` + the low `digits` hex digits of each unsigned integer, vectorized."""
    shifts = np.arange(digits - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = (values.astype(np.uint64)[:, None] >> shifts) & np.uint64(15)
    chars = np.empty((len(values), len(prefix) + digits), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars[:, len(prefix) :] = _HEX[nibbles]
    return pl.Series(chars.view(f"S{chars.shape[1]}").ravel()).cast(pl.String)


def random_ids(rng: np.random.Generator, n: int, digits: int, prefix: str) -> pl.Series:
    """`n` random ids: `prefix` + `digits` hex digits (rec_, ndg_, ses_, th_ ids)."""
    return hex_ids(rng.integers(0, 16**digits, n, dtype=np.uint64), digits, prefix)


def uuids(rng: np.random.Generator, n: int) -> pl.Series:
    """Random version-4 UUID strings, vectorized."""
    nibbles = rng.integers(0, 16, (n, 32), dtype=np.uint8)
    nibbles[:, 12] = 4
    nibbles[:, 16] = 8 + (nibbles[:, 16] & 3)
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    chars[:, np.r_[0:8, 9:13, 14:18, 19:23, 24:36]] = _HEX[nibbles]
    return pl.Series(chars.view("S36").ravel()).cast(pl.String)
