"""Retrieval: vector, full-text, or hybrid (reciprocal rank fusion, then a rerank).

Hybrid runs three LanceDB queries, each filtered to one course when asked: passage vectors,
the native BM25 full-text index, and sentence vectors (passages ranked by their best sentence; the
same query finds the lessons' descriptors, rag.content.about_rows). Weighted reciprocal rank
fusion of the three rankings picks a pool of passages; the pool is then ordered by its evidence,
a weighted sum of scores (see RERANK_WEIGHTS) plus a share of the second-best passage of the
same lesson (LESSON_SECOND), and one passage per lesson is kept. Each passage keeps its
cosine similarity to the question (passage or best sentence, whichever is higher), which the
answer step uses to decide whether retrieval is strong enough to answer.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.embeddings import EmbeddingFunction

from pathwise.settings import Settings, get_settings
from rag.content import ABOUT_SUFFIX
from rag.embeddings import TOKENIZER, embedding_function, identity
from rag.store import SENTENCES, TABLE, VOCABULARY, db_path, read_vocabulary, stored_identity
from rag.text import content_words, correct_typos, coverage, terms

Mode = Literal["vector", "fts", "rrf", "hybrid"]
# Stage 1: weighted reciprocal rank fusion over three lists (passage vectors, BM25, passages
# ranked by their best sentence) picks the pool. Weights and k (LanceDB's RRFReranker uses 60; a
# smaller k lets the top ranks count more) were chosen on dev when RRF alone ranked (mode "rrf").
RRF_K = 20
RRF_WEIGHTS = (1.0, 1 / 3, 2 / 3)
RERANK_POOL = 30
# Stage 2 orders the pool by a weighted sum of scores on comparable scales: (passage cosine,
# best-sentence cosine, BM25 / the question's best BM25, share of the question's words the
# passage and its titles contain, best cosine of the passage's lesson descriptors). RRF keeps
# only ranks; the scores tell a near miss ("Continue" for "leave a loop early") from the answer
# more often. The first four were chosen on the dev split of the previous evaluation set (a
# 210-point grid; re-tuned on the learner set's dev split they gained 0.01 hit@1, within noise);
# the descriptor weight and LESSON_SECOND on the learner set's dev split (docs/rag.md).
RERANK_WEIGHTS = (1.0, 0.5, 0.05, 0.1, 0.3)
# A lesson's best passage gains this share of its second best's score: a lesson that answers
# usually explains the topic in more than one section, a near miss in one.
LESSON_SECOND = 0.3
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
        if VOCABULARY not in db.list_tables().tables:
            raise IndexMissing(f"the index at {path} has no vocabulary: re-run `pathwise index`")
        self.db = db
        self._vocabulary: tuple[int, dict[str, int]] = (-1, {})

    def vocabulary(self) -> dict[str, int]:
        """term -> passages holding it (rag.store.VOCABULARY), re-read when the index changed."""
        version = self.db.open_table(VOCABULARY).version
        if version != self._vocabulary[0]:
            self._vocabulary = (version, read_vocabulary(self.db))
        return self._vocabulary[1]

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

    def _sentences(
        self, qvec: np.ndarray, where: str | None, n: int
    ) -> tuple[list[str], dict[str, tuple[float, str]], dict[str, float]]:
        """Chunks ranked by their best-matching sentence: (chunk ids, chunk id -> (cosine, text),
        doc id -> best cosine of the lesson's descriptors among the rows found)."""
        q = self.sentences.search(qvec, vector_column_name="vector").distance_type("cosine")
        if where:
            q = q.where(where, prefilter=True)
        rows = q.select(["chunk_id", "doc_id", "text", "_distance"]).limit(n * 5).to_list()
        best: dict[str, tuple[float, str]] = {}
        lesson: dict[str, float] = {}
        for r in rows:  # sorted by distance: the first row seen per chunk or lesson is its best
            if r["chunk_id"].endswith(ABOUT_SUFFIX):
                lesson.setdefault(r["doc_id"], 1.0 - r["_distance"])
            elif r["chunk_id"] not in best:
                best[r["chunk_id"]] = (1.0 - r["_distance"], r["text"])
        return list(best)[:n], best, lesson

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
        """The three rankings hybrid retrieval fuses, with the rows they point at (one query each),
        for the question with its misspelt words corrected against the index's vocabulary."""
        where = f"course_id = '{course_id.replace(chr(39), chr(39) * 2)}'" if course_id else None
        vocabulary = self.vocabulary()
        question, corrected = correct_typos(question, vocabulary, known_words())
        qvec = self.embed(question)
        vec = self._vector(qvec, where, n).to_pylist()
        fts = self._fts(fts_query(question), where, n).to_pylist()
        sent_ids, best_sentence, lesson = self._sentences(qvec, where, n)
        rows = {r["chunk_id"]: r for r in vec + fts}
        missing = [c for c in sent_ids if c not in rows]
        if missing:
            rows.update({r["chunk_id"]: r for r in self._chunks(missing).to_pylist()})
        q_terms = frozenset(terms(question))
        passages = max(vocabulary.get("", 0), 1)
        return Candidates(
            qvec=qvec,
            question=question,
            terms=q_terms,
            corrected=frozenset(corrected & q_terms),
            # log((N + 1) / (df + 1)): a word no passage holds weighs the most
            idf={t: math.log((passages + 1) / (vocabulary.get(t, 0) + 1)) for t in q_terms},
            vector=[r["chunk_id"] for r in vec],
            fts=[r["chunk_id"] for r in fts],
            sentence=sent_ids,
            rows=rows,
            best_sentence=best_sentence,
            cosine={r["chunk_id"]: 1.0 - r["_distance"] for r in vec},
            bm25={r["chunk_id"]: r["_score"] for r in fts},
            lesson=lesson,
        )

    def search(
        self,
        question: str,
        *,
        course_id: str | None = None,
        k: int = 5,
        mode: Mode = "hybrid",
        pool: int = 30,
        weights: tuple[float, ...] = RERANK_WEIGHTS,
    ) -> list[Passage]:
        """Top-k passages, at most one per lesson (document)."""
        c = self.candidates(question, course_id=course_id, n=candidate_count(k, pool))
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
    terms: frozenset[str] = frozenset()  # the question's content words (rag.text.terms)
    question: str = ""  # the question as retrieved: misspelt words corrected
    corrected: frozenset[str] = frozenset()  # terms that replaced a misspelt word
    idf: dict[str, float] = field(default_factory=dict)  # term -> IDF over the index's passages
    lesson: dict[str, float] = field(default_factory=dict)  # doc id -> its descriptors' cosine
    _evidence: dict[str, tuple[float, ...]] = field(default_factory=dict, repr=False)

    def evidence(self, cid: str) -> tuple[float, ...]:
        """The scores the rerank weighs, for one candidate (computed once)."""
        if cid not in self._evidence:
            row = self.rows[cid]
            cos = float(np.dot(np.asarray(row["vector"], np.float32), self.qvec))
            best_bm25 = max(self.bm25.values(), default=0.0)
            self._evidence[cid] = (
                cos,
                # a passage none of whose sentences was retrieved counts its own cosine
                self.best_sentence.get(cid, (cos, ""))[0],
                self.bm25.get(cid, 0.0) / best_bm25 if best_bm25 > 0 else 0.0,
                coverage(self.terms, titled_text(row)),
                self.lesson.get(row["doc_id"], 0.0),
            )
        return self._evidence[cid]


def titled_text(p: dict | Passage) -> str:
    """A passage's text with its course, module and section titles, for word overlap."""
    d = p if isinstance(p, dict) else vars(p)
    return f"{d['course_title']} {d['module']} {d['section']} {d['text']}"


def rank(
    c: Candidates,
    *,
    mode: Mode = "hybrid",
    k: int = 5,
    weights: tuple[float, ...] = RERANK_WEIGHTS,
    second: float = LESSON_SECOND,
) -> list[Passage]:
    """Order the candidates for one mode; keep the first passage of each lesson (document): the
    learner is pointed at lessons, and five passages of one lesson would hide the others.
    `weights` and `second` (LESSON_SECOND) are the rerank's (hybrid only).

    Pure Python over already-fetched rows, so the evaluation can try rerank weights cheaply."""
    if mode == "vector":
        order, scores = c.vector, c.cosine
    elif mode == "fts":
        order, scores = c.fts, c.bm25
    else:
        scores = rrf([c.vector, c.fts, c.sentence], RRF_WEIGHTS, RRF_K)
        order = sorted(scores, key=scores.__getitem__, reverse=True)
        if mode == "hybrid":
            pool = [cid for cid in order if cid in c.rows][:RERANK_POOL]
            scores = {cid: float(np.dot(weights, c.evidence(cid))) for cid in pool}
            order = sorted(pool, key=scores.__getitem__, reverse=True)
            lesson_scores: dict[str, list[float]] = {}  # doc id -> its scores, best first
            for cid in order:
                lesson_scores.setdefault(c.rows[cid]["doc_id"], []).append(scores[cid])
            for cid in order:
                top = lesson_scores[c.rows[cid]["doc_id"]]
                if scores[cid] == top[0] and len(top) > 1:
                    scores[cid] += second * top[1]
            order = sorted(pool, key=scores.__getitem__, reverse=True)
    out: list[Passage] = []
    seen: set[str] = set()
    for cid in order:
        row = c.rows.get(cid)
        if row is None or row["doc_id"] in seen:
            continue
        seen.add(row["doc_id"])
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


def candidate_count(k: int, pool: int = RERANK_POOL) -> int:
    """Rows each first-stage query fetches for a top-k answer (what `ask` and the evaluation use)."""
    return max(pool, k * 4)


@cache
def known_words() -> frozenset[str]:
    """Whole words of the MiniLM tokenizer's vocabulary: real words typo correction leaves alone
    (a word list that ships with the package, whatever the embedding backend)."""
    vocab = json.loads(TOKENIZER.read_text())["model"]["vocab"]
    return frozenset(w for w in vocab if w.isalpha())


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
