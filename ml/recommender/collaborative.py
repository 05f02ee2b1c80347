"""The collaborative model: `implicit` ALS or BPR on the learner x course confidence matrix.

CPU, one BLAS thread (implicit is slower with threaded BLAS) and a fixed random state, so the same
data gives the same factors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit is slower with threaded BLAS

import numpy as np
import scipy.sparse as sp

ALS_PARAMS = {"factors": 64, "regularization": 0.1, "alpha": 10.0, "iterations": 15}
BPR_PARAMS = {"factors": 64, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100}
RANDOM_STATE = 42


def fit_factors(
    X: sp.csr_matrix, algorithm: str = "als", params: Mapping | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Learner and course factors from `implicit` on X (learner x course CSR of confidences).

    ALS: confidence = alpha x X; BPR: only which pairs are non-zero. CPU, fixed random_state.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        model = _model(algorithm, params)
        model.fit(X, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


def _model(algorithm: str, params: Mapping | None):
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
