"""The collaborative models: what learners with a similar history took.

Three, behind one interface (`fit(X)` on the learner x course confidence matrix, then `score(rows)`
for a block of learners), chosen per dataset on a chronological validation split
(`ml/recommender/tuning.py`):

- `als`: `implicit` ALS, confidence = alpha x X.
- `bpr`: `implicit` BPR, only which pairs are non-zero.
- `ease`: EASE^R (Steck 2019): a closed-form item-item model, B = argmin ||X - XB||² + λ||B||²
  with diag(B) = 0, i.e. P = (XᵀX + λI)⁻¹, B = -P / diag(P). Its cost is one course x course
  inverse (a Cholesky factorization: 21 s for 8,000 courses on one core, 256 MB in float32), so it
  suits catalogs up to some ten thousand courses; beyond, ALS.

CPU, one BLAS thread for implicit (it is slower with threaded BLAS) and fixed random states, so
the same data gives the same model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit is slower with threaded BLAS

import numpy as np
import scipy.linalg as sl
import scipy.sparse as sp

ALS_PARAMS = {"factors": 64, "regularization": 0.1, "alpha": 10.0, "iterations": 15}
BPR_PARAMS = {"factors": 64, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100}
EASE_PARAMS = {"l2": 200.0}
DEFAULT_PARAMS = {"als": ALS_PARAMS, "bpr": BPR_PARAMS, "ease": EASE_PARAMS}
ALGORITHMS = tuple(DEFAULT_PARAMS)
RANDOM_STATE = 42


@dataclass
class Collaborative:
    """A fitted collaborative model; `score(rows)` is learners `rows` x every course."""

    algorithm: str
    params: dict = field(default_factory=dict)
    user_factors: np.ndarray | None = None  # als, bpr
    item_factors: np.ndarray | None = None
    X: sp.csr_matrix | None = None  # ease: the learners' histories (binary) ...
    B: np.ndarray | None = None  # ... and the course x course weights

    def score(self, rows: np.ndarray) -> np.ndarray:
        if self.B is not None and self.X is not None:
            return np.asarray(self.X[rows] @ self.B)
        assert self.user_factors is not None and self.item_factors is not None
        return self.user_factors[rows] @ self.item_factors.T


def fit(X: sp.csr_matrix, algorithm: str = "als", params: Mapping | None = None) -> Collaborative:
    """Fit `algorithm` on X (learner x course CSR of confidences); missing params take defaults."""
    if algorithm not in DEFAULT_PARAMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}")
    p = {**DEFAULT_PARAMS[algorithm], **(params or {})}
    if algorithm == "ease":
        binary = (X > 0).astype(np.float32).tocsr()
        return Collaborative("ease", p, X=binary, B=ease_weights(binary, float(p["l2"])))
    users, items = fit_factors(X, algorithm, p)
    return Collaborative(algorithm, p, user_factors=users, item_factors=items)


def ease_weights(X: sp.csr_matrix, l2: float) -> np.ndarray:
    """EASE^R's course x course matrix B (float32, zero diagonal) for binary X."""
    G = np.asarray((X.T @ X).todense(), dtype=np.float32)
    G[np.diag_indices_from(G)] += l2
    # Cholesky, then the inverse from it: a quarter of np.linalg.inv's time on a 8k x 8k matrix.
    factor, _ = sl.cho_factor(G, lower=True, overwrite_a=True, check_finite=False)
    P, info = sl.lapack.spotri(factor, lower=1, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: the Gram matrix is not positive definite ({info})")
    P = np.tril(P) + np.tril(P, -1).T  # spotri fills the lower triangle only
    B = P / -np.diag(P)
    B[np.diag_indices_from(B)] = 0.0
    return B.astype(np.float32)


def fit_factors(
    X: sp.csr_matrix, algorithm: str = "als", params: Mapping | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Learner and course factors from `implicit` ALS or BPR on X. CPU, fixed random_state."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        model = _implicit_model(algorithm, params)
        model.fit(X, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


def _implicit_model(algorithm: str, params: Mapping | None):
    if algorithm == "als":
        from implicit.cpu.als import AlternatingLeastSquares

        p = {**ALS_PARAMS, **(params or {})}
        return AlternatingLeastSquares(
            factors=int(p["factors"]),
            regularization=float(p["regularization"]),
            alpha=float(p["alpha"]),
            iterations=int(p["iterations"]),
            random_state=RANDOM_STATE,
        )
    if algorithm == "bpr":
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        p = {**BPR_PARAMS, **(params or {})}
        return BayesianPersonalizedRanking(
            factors=int(p["factors"]),
            learning_rate=float(p["learning_rate"]),
            regularization=float(p["regularization"]),
            iterations=int(p["iterations"]),
            random_state=RANDOM_STATE,
            # Hogwild SGD on several threads gives different factors run to run; one thread
            # makes the fixed random_state mean the same model every time.
            num_threads=1,
        )
    raise ValueError(f"algorithm must be 'als' or 'bpr', not {algorithm!r}")
