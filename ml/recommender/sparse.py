"""Small sparse-matrix helpers shared by the model and its signals."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def csr(rows: np.ndarray, cols: np.ndarray, values, shape: tuple[int, int]) -> sp.csr_matrix:
    """A float32 CSR matrix; repeated (row, col) pairs are summed."""
    m = sp.csr_matrix((np.asarray(values, dtype=np.float32), (rows, cols)), shape=shape)
    m.sum_duplicates()
    return m


def l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (all-zero rows stay zero)."""
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return sp.diags(1 / np.where(norms > 0, norms, 1)).dot(m).tocsr()
