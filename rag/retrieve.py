"""Retrieval: vector, full-text, or hybrid (fused with reciprocal rank fusion).

Hybrid runs three LanceDB queries, each filtered to one course when asked: passage vectors,
the native BM25 full-text index, and sentence vectors (passages ranked by their best sentence);
the three rankings are fused by weighted reciprocal rank fusion (k=20, chosen on dev). Each
passage keeps its cosine similarity to the question (passage or best sentence, whichever is
higher), which the answer step uses to decide whether retrieval is strong enough to answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.embeddings import EmbeddingFunction

from pathwise.settings import Settings, get_settings
from rag.embeddings import embedding_function, identity
from rag.store import SENTENCES, TABLE, db_path, stored_identity
from rag.text import content_words

Mode = Literal["vector", "fts", "hybrid"]
# Weighted reciprocal rank fusion over three lists: passage vectors, BM25 and passages ranked by
# their best sentence. The weights and k (LanceDB's RRFReranker uses 60; a smaller k lets the top
# ranks count more) are the ones `pathwise evaluate rag` chose on its dev split (it reports them,
# and whether these still match).
RRF_K = 20
HYBRID_WEIGHTS = (1.0, 1 / 3, 2 / 3)
COLUMNS = ["chunk_id", "doc_id", "course_id", "course_title", "module", "section", "source", "text"]


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk with where it comes from. `score` is the ranking score of the mode
    (RRF for hybrid, cosine for vector, BM25 for full-text); `similarity` is always cosine."""

    course_id: str
    module: str
    section: str
    source: str
    text: str
    score: float
    similarity: float
    chunk_id: str = ""
    course_title: str = ""
    best_sentence: str = ""  # the passage's sentence closest to the question (hybrid only)

    @property
    def citation(self) -> str:
        return f"{self.course_title or self.course_id} › {self.module} › {self.section}"


class IndexMissing(RuntimeError):
    pass


class Retriever:
    """A reusable handle on the chunks table and its embedding function."""

    def __init__(self, settings: Settings | None = None) -> None:
        s = settings or get_settings()
        path = db_path(s)
        # Other processes (the nightly index flow) replace data: look for new versions now and then.
        db = lancedb.connect(str(path), read_consistency_interval=timedelta(seconds=10))
        if not path.exists() or TABLE not in db.list_tables().tables:
            raise IndexMissing(
                f"no course index at {path}: run `pathwise index {s.shared_data / 'content'}` first"
            )
        self.table = db.open_table(TABLE)
        self.func: EmbeddingFunction = embedding_function(s)
        if stored_identity(self.table) != identity(self.func):
            raise IndexMissing(
                f"the index at {path} was built with {stored_identity(self.table)}, settings ask for "
                f"{identity(self.func)}: re-run `pathwise index` to rebuild it"
            )
        self.sentences = db.open_table(SENTENCES)
        self.has_fts = any(i.index_type == "FTS" for i in self.table.list_indices())

    def embed(self, question: str) -> np.ndarray:
        return np.asarray(self.func.compute_query_embeddings(question)[0], dtype=np.float32)

    def _vector(self, qvec: np.ndarray, where: str | None, n: int) -> pa.Table:
        q = self.table.search(qvec, vector_column_name="vector").distance_type("cosine")
        if where:
            q = q.where(where, prefilter=True)
        return q.select([*COLUMNS, "vector", "_distance"]).limit(n).with_row_id(True).to_arrow()

    def _fts(self, query: str, where: str | None, n: int) -> pa.Table:
        if not self.has_fts or not query:
            return pa.table({})
        q = self.table.search(query, query_type="fts", fts_columns="search_text")
        if where:
            q = q.where(where, prefilter=True)
        return q.select([*COLUMNS, "vector", "_score"]).limit(n).with_row_id(True).to_arrow()

    def _sentences(self, qvec: np.ndarray, where: str | None, n: int) -> tuple[list[str], dict]:
        """Chunks ranked by their best-matching sentence: (chunk ids, chunk id -> (cosine, text))."""
        q = self.sentences.search(qvec, vector_column_name="vector").distance_type("cosine")
        if where:
            q = q.where(where, prefilter=True)
        rows = q.select(["chunk_id", "text", "_distance"]).limit(n * 5).to_list()
        best: dict[str, tuple[float, str]] = {}
        for r in rows:  # sorted by distance: the first sentence seen per chunk is its best
            if r["chunk_id"] not in best:
                best[r["chunk_id"]] = (1.0 - r["_distance"], r["text"])
        return list(best)[:n], best

    def _chunks(self, ids: list[str]) -> pa.Table:
        quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
        return (
            self.table.search()
            .where(f"chunk_id in ({quoted})")
            .select([*COLUMNS, "vector"])
            .limit(len(ids))
            .to_arrow()
        )

    def candidates(self, question: str, *, course_id: str | None = None, n: int = 40) -> Candidates:
        """The three rankings hybrid retrieval fuses, with the rows they point at (one query each)."""
        where = f"course_id = '{course_id.replace(chr(39), chr(39) * 2)}'" if course_id else None
        qvec = self.embed(question)
        vec = self._vector(qvec, where, n).to_pylist()
        fts = self._fts(fts_query(question), where, n).to_pylist()
        sent_ids, best_sentence = self._sentences(qvec, where, n)
        rows = {r["chunk_id"]: r for r in vec + fts}
        missing = [c for c in sent_ids if c not in rows]
        if missing:
            rows.update({r["chunk_id"]: r for r in self._chunks(missing).to_pylist()})
        return Candidates(
            qvec=qvec,
            vector=[r["chunk_id"] for r in vec],
            fts=[r["chunk_id"] for r in fts],
            sentence=sent_ids,
            rows=rows,
            best_sentence=best_sentence,
            cosine={r["chunk_id"]: 1.0 - r["_distance"] for r in vec},
            bm25={r["chunk_id"]: r["_score"] for r in fts},
        )

    def search(
        self,
        question: str,
        *,
        course_id: str | None = None,
        k: int = 5,
        mode: Mode = "hybrid",
        pool: int = 30,
        weights: tuple[float, float, float] = HYBRID_WEIGHTS,
    ) -> list[Passage]:
        """Top-k passages, at most one per (document, section)."""
        c = self.candidates(question, course_id=course_id, n=max(pool, k * 4))
        return rank(c, mode=mode, k=k, weights=weights)


@dataclass
class Candidates:
    """What the three queries found for one question (chunk ids in rank order) and their rows."""

    qvec: np.ndarray
    vector: list[str]
    fts: list[str]
    sentence: list[str]
    rows: dict[str, dict]
    best_sentence: dict[str, tuple[float, str]]  # chunk id -> (cosine, sentence)
    cosine: dict[str, float]
    bm25: dict[str, float]


def rank(
    c: Candidates,
    *,
    mode: Mode = "hybrid",
    k: int = 5,
    weights: tuple[float, float, float] = HYBRID_WEIGHTS,
    rrf_k: int = RRF_K,
) -> list[Passage]:
    """Order the candidates for one mode; keep the first passage of each (document, section).

    Pure Python over already-fetched rows, so the evaluation can try fusion weights cheaply."""
    if mode == "vector":
        order, scores = c.vector, c.cosine
    elif mode == "fts":
        order, scores = c.fts, c.bm25
    else:
        scores = rrf([c.vector, c.fts, c.sentence], weights, rrf_k)
        order = sorted(scores, key=scores.__getitem__, reverse=True)
    out: list[Passage] = []
    seen: set[tuple[str, str]] = set()
    for cid in order:
        row = c.rows.get(cid)
        if row is None:
            continue
        key = (row["doc_id"], row["section"])
        if key in seen:
            continue
        seen.add(key)
        chunk_sim = float(np.dot(np.asarray(row["vector"], np.float32), c.qvec))
        sent_sim, sentence = c.best_sentence.get(cid, (-1.0, ""))
        sentence = sentence.removeprefix(f"{row['section']}: ")  # see content.sentence_rows
        out.append(
            Passage(
                course_id=row["course_id"],
                module=row["module"],
                section=row["section"],
                source=row["source"],
                text=row["text"],
                score=float(scores[cid]),
                similarity=max(chunk_sim, sent_sim),
                chunk_id=cid,
                course_title=row["course_title"],
                best_sentence=sentence,
            )
        )
        if len(out) == k:
            break
    return out


def fts_query(question: str) -> str:
    """The question's content words for BM25: "how", "do", "I", "my" are not in the index's
    stop-word list and would otherwise match every lesson's prose."""
    return " ".join(content_words(question))


def rrf(rankings: list[list[str]], weights: tuple[float, ...], k: int = RRF_K) -> dict[str, float]:
    """Weighted reciprocal rank fusion: sum of w / (k + rank) over the lists an id appears in."""
    scores: dict[str, float] = {}
    for ids, w in zip(rankings, weights, strict=True):
        for rank, i in enumerate(ids, 1):
            scores[i] = scores.get(i, 0.0) + w / (k + rank)
    return scores


_cache: dict[tuple[Path, str], Retriever] = {}
_cache_lock = threading.Lock()


def get_retriever(settings: Settings | None = None) -> Retriever:
    """One retriever per index folder and embedding configuration, reused across questions."""
    s = settings or get_settings()
    key = (db_path(s), repr(identity(embedding_function(s))))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Retriever(s)
        return _cache[key]


def forget_retrievers() -> None:
    """Drop cached handles (after this process re-indexed or rebuilt the table)."""
    with _cache_lock:
        _cache.clear()
