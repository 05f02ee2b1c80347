"""Like what you took: cosine between a course and the learner's history over course features."""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from ml.recommender.signals.base import Reason, Signal, register
from ml.recommender.signals.history import history_reason
from ml.recommender.sparse import csr, l2_rows


def title_words(text: str | None) -> list[str]:
    """Lowercase words of 3+ letters or digits (slashes and hyphens split words)."""
    out = []
    for w in (text or "").lower().replace("/", " ").replace("-", " ").split():
        w = "".join(ch for ch in w if ch.isalnum())
        if len(w) > 2:
            out.append(w)
    return out


@register
class ContentSimilarity(Signal):
    name = "content_similarity"
    order = 30
    default_weight = 0.5
    label = "Like what you took"
    description = (
        "Cosine between the course and the learner's history over skills, category, level, "
        "language and title words (IDF-weighted)."
    )

    def __init__(self, model) -> None:
        super().__init__(model)
        self.F = self._features()  # course x feature, rows L2-normalized
        self.P = l2_rows(model.X.dot(self.F))  # learner profile over course features

    def _features(self) -> sp.csr_matrix:
        """IDF-weighted skills, category, level, language and title words (for COCO: its
        knowledge graph's concepts, category, level)."""
        m = self.model
        rows, feats = [], []
        for c, skill in m.data.course_skills.iter_rows():
            if c in m.cidx:
                rows.append(m.cidx[c])
                feats.append(f"skill:{skill}")
        for r in m.courses.iter_rows(named=True):
            i = r["c"]
            for key in ("category", "difficulty", "language"):
                if r[key] is not None:
                    rows.append(i)
                    feats.append(f"{key}:{r[key]}")
            # Title words only: on COCO's validation split, description words (generated
            # level and audience text) diluted the similarity (NDCG@10 0.0435 vs 0.0478).
            for w in set(title_words(r["title"])):
                rows.append(i)
                feats.append(f"word:{w}")
        vocab = {f: j for j, f in enumerate(sorted(set(feats)))}
        cols = np.array([vocab[f] for f in feats], dtype=np.int64)
        n = len(m.course_ids)
        F = csr(np.array(rows, dtype=np.int64), cols, np.ones(len(cols)), (n, len(vocab)))
        F.data[:] = 1.0
        df = np.asarray((F > 0).sum(axis=0)).ravel()
        idf = np.log((1 + n) / (1 + df)) + 1
        return l2_rows(F.dot(sp.diags(idf.astype(np.float32))).tocsr())

    def score(self, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
        return np.asarray(self.P[rows].dot(self.F.T).todense())

    def reason(self, long: pl.DataFrame) -> tuple[pl.DataFrame, Reason | None]:
        return history_reason(self.model, long, self.name)
