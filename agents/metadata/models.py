"""The metadata models: a skill tagger and a difficulty classifier, their baselines and metrics.

Offline and small: scikit-learn TF-IDF over what a course page says, fitted on labelled catalogs
(agents/metadata/labelled.py, and the platform's own catalog where it names skills and levels).

- `SkillTagger`: a label's score for a course = the similarity-weighted share of its k nearest
  labelled courses that carry the label (what similar courses teach) + `lexical_weight` if the
  label's name is written in the course text (what this course says it teaches). The supporting
  sentence is the one naming the label, else the one sharing most words with it. Tags scoring
  under `min_score` are not suggested. k, the weight and the floor are chosen on the dev split
  (agents/metadata/evaluate.py).
- `DifficultyModel`: logistic regression (fitted by SGD) on word uni- and bigrams, classes
  beginner / intermediate / advanced, balanced class weights (advanced is rare everywhere). The
  1-5 score is 1 + 2 x the expected class (0..2), rounded: a sure beginner course is 1, a course
  between beginner and intermediate 2, and so on.
- Baselines measured beside them: the majority class (the most frequent labels / level in
  training) and TF-IDF 1-nearest-neighbour (copy the labels / level of the most similar course).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import f1_score

from agents.metadata.labelled import LEVELS, sentences

RANDOM_STATE = 7


def normalise(phrase: str) -> str:
    """Lowercase words joined by single spaces: 'Node.js (JavaScript)' -> 'node js javascript'."""
    return " ".join(re.findall(r"[a-z0-9+#]+", phrase.lower()))


def variants(label: str) -> set[str]:
    """The ways a label may be written in a course text: whole, without its bracketed gloss
    ('Ruby (programming language)' -> 'ruby'), and without a trailing 'software'. Variants of
    one or two letters ('R', 'Go' aside) match too much ordinary text and are left out."""
    forms = {label, re.sub(r"\s*\(.*?\)", "", label), re.sub(r"(?i)\s+software$", "", label)}
    return {n for n in map(normalise, forms) if len(n) > 2}


def ngrams(text: str, n_max: int = 5) -> set[str]:
    words = normalise(text).split()
    return {" ".join(words[i : i + n]) for n in range(1, n_max + 1) for i in range(len(words))}


def vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, stop_words="english")


# ---- skill tags -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tag:
    skill: str
    confidence: float  # 0..1
    sentence: str  # the sentence of the course text that supports it
    how: str  # 'named' (written in the text) | 'similar' (taught by similar courses)


class SkillTagger:
    def __init__(
        self,
        k: int = 10,
        lexical_weight: float = 0.6,
        min_score: float = 0.2,
        vocabulary: Sequence[str] = (),
    ):
        self.k, self.lexical_weight, self.min_score = k, lexical_weight, min_score
        self.extra = list(vocabulary)

    def fit(self, texts: Sequence[str], labels: Sequence[Sequence[str]]) -> SkillTagger:
        self.vec = vectorizer().fit(texts)
        self.X = self.vec.transform(texts)
        self.names = sorted({s for ls in labels for s in ls} | set(self.extra))
        index = {name: i for i, name in enumerate(self.names)}
        rows = [(i, index[s]) for i, ls in enumerate(labels) for s in set(ls)]
        # Training course x label, 1 where the course carries the label.
        self.Y = sparse.csr_matrix(
            (np.ones(len(rows)), ([r for r, _ in rows], [c for _, c in rows])),
            shape=(len(texts), len(self.names)),
        )
        self.lexicon: dict[str, int] = {}  # written form -> label index
        for name in self.names:
            for form in variants(name):
                self.lexicon.setdefault(form, index[name])
        return self

    def scores(self, texts: Sequence[str]) -> tuple[np.ndarray, list[set[int]]]:
        """Each text's score per label (texts x labels) and the labels its text names."""
        sims = (self.vec.transform(texts) @ self.X.T).toarray()
        k = min(self.k, sims.shape[1])
        cut = np.partition(sims, -k, axis=1)[:, [-k]]
        sims[sims < cut] = 0  # keep the k nearest (ties may keep a few more)
        sims /= np.maximum(sims.sum(axis=1, keepdims=True), 1e-12)
        scores = np.asarray((sparse.csr_matrix(sims) @ self.Y).todense())
        named = [
            {self.lexicon[g] for _, grams in sentence_grams(t) for g in grams if g in self.lexicon}
            for t in texts
        ]
        for i, labels in enumerate(named):
            scores[i, list(labels)] += self.lexical_weight
        return scores, named

    def tag(self, texts: Sequence[str], top: int = 5) -> list[list[Tag]]:
        """The `top` best tags of each text scoring at least `min_score`, best first."""
        out = []
        for text, best, said, row in self._best(texts, top):
            parts = sentence_grams(text)
            out.append(
                [
                    Tag(
                        skill=self.names[j],
                        confidence=round(float(min(1.0, row[j])), 3),
                        sentence=supporting_sentence(text, self.names[j], parts),
                        how="named" if j in said else "similar",
                    )
                    for j in best
                ]
            )
        return out

    def predict(self, texts: Sequence[str], top: int = 5) -> list[list[str]]:
        return [[self.names[j] for j in best] for _, best, _, _ in self._best(texts, top)]

    def _best(self, texts: Sequence[str], top: int, batch: int = 512):
        """(text, its best label indexes, the labels it names, its scores), in batches: the
        scores of a batch are dense (texts x labels)."""
        floor = max(self.min_score, 1e-9)
        for start in range(0, len(texts), batch):
            chunk = list(texts[start : start + batch])
            scores, named = self.scores(chunk)
            for text, row, said in zip(chunk, scores, named, strict=True):
                ranked = np.argsort(-row, kind="stable")[:top]
                yield text, [j for j in ranked if row[j] >= floor], said, row


def supporting_sentence(text: str, label: str, parts: tuple | None = None) -> str:
    """The sentence naming `label` (any of its variants), else the one sharing most words with
    it (the title when none does). `parts`: the text's (sentence, its n-grams), if known."""
    parts = parts or sentence_grams(text)
    forms = _variants(label)
    for sentence, grams in parts:
        if forms & grams:
            return sentence[:300]
    words = set(normalise(label).split())
    best = max(parts, key=lambda p: len(words & set(normalise(p[0]).split())))
    return best[0][:300]


@lru_cache(maxsize=16384)
def sentence_grams(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """The text's sentences, each with its word n-grams (cached: the tagger, the supporting
    sentence and the prerequisite finder all read them)."""
    return tuple((s, frozenset(ngrams(s))) for s in (sentences(text) or [text]))


@lru_cache(maxsize=65536)
def _variants(label: str) -> frozenset[str]:
    return frozenset(variants(label))


class MajoritySkills:
    """Baseline: the most frequent training labels, for every course."""

    def fit(self, texts, labels) -> MajoritySkills:
        counts = Counter(s for ls in labels for s in set(ls))
        self.ranked = [s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        return self

    def predict(self, texts, top: int = 5) -> list[list[str]]:
        return [self.ranked[:top] for _ in texts]


class NearestSkills:
    """Baseline: the labels of the single most similar training course (TF-IDF cosine)."""

    def fit(self, texts, labels) -> NearestSkills:
        self.vec = vectorizer().fit(texts)
        self.X, self.labels = self.vec.transform(texts), list(labels)
        return self

    def predict(self, texts, top: int = 5) -> list[list[str]]:
        nearest = np.asarray((self.vec.transform(texts) @ self.X.T).argmax(axis=1)).ravel()
        return [list(dict.fromkeys(self.labels[j]))[:top] for j in nearest]


def prf_at_k(predicted: Sequence[Sequence[str]], truth: Sequence[Sequence[str]], k: int = 5):
    """Micro precision, recall and F1 of the top-k predicted labels against the true labels
    (each in [0, 1]; courses with no true label are skipped)."""
    hits = n_pred = n_true = 0
    for p, t in zip(predicted, truth, strict=True):
        if not t:
            continue
        p, t = set(list(p)[:k]), set(t)
        hits += len(p & t)
        n_pred += len(p)
        n_true += len(t)
    precision = hits / n_pred if n_pred else 0.0
    recall = hits / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


# ---- difficulty -------------------------------------------------------------------------------


def level_of_score(score: int) -> str:
    """The catalog level a 1-5 score corresponds to: 1-2 beginner, 3 intermediate, 4-5 advanced."""
    return LEVELS[0] if score <= 2 else LEVELS[1] if score == 3 else LEVELS[2]


def catalog_difficulty(score: int) -> int:
    """The catalog's 1-3 difficulty (`marts.courses.difficulty`) for a 1-5 score."""
    return LEVELS.index(level_of_score(score)) + 1


class DifficultyModel:
    def __init__(self, alpha: float = 1e-5):
        self.alpha = alpha

    def fit(self, texts: Sequence[str], levels: Sequence[int]) -> DifficultyModel:
        self.features = vectorizer().fit(texts)
        # Stochastic gradient descent on the logistic loss: the same model as
        # LogisticRegression, fitted in ~4 s instead of ~80 s on the ~6.6k labelled courses
        # (dev macro-F1 0.49 against 0.50) on a busy 2-core machine.
        self.model = SGDClassifier(
            loss="log_loss", alpha=self.alpha, class_weight="balanced", max_iter=50,
            tol=1e-4, random_state=RANDOM_STATE,
        ).fit(self.features.transform(texts), list(levels))  # fmt: skip
        return self

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(beginner, intermediate, advanced) per text (columns in LEVELS order)."""
        p = self.model.predict_proba(self.features.transform(texts))
        full = np.zeros((len(texts), len(LEVELS)))
        full[:, self.model.classes_] = p
        return full

    def predict(self, texts: Sequence[str]) -> list[int]:
        return self.proba(texts).argmax(axis=1).tolist()

    def score(self, texts: Sequence[str]) -> list[tuple[int, float]]:
        """(1-5 difficulty score, confidence = probability of its level) per text."""
        p = self.proba(texts)
        expected = p @ np.arange(len(LEVELS))
        scores = np.clip(np.rint(1 + 2 * expected), 1, 5).astype(int)
        return [
            (int(s), round(float(row[LEVELS.index(level_of_score(int(s)))]), 3))
            for s, row in zip(scores, p, strict=True)
        ]


class MajorityLevel:
    def fit(self, texts, levels) -> MajorityLevel:
        self.level = Counter(levels).most_common(1)[0][0]
        return self

    def predict(self, texts) -> list[int]:
        return [self.level] * len(texts)


class NearestLevel:
    def fit(self, texts, levels) -> NearestLevel:
        self.vec = vectorizer().fit(texts)
        self.X, self.levels = self.vec.transform(texts), list(levels)
        return self

    def predict(self, texts) -> list[int]:
        nearest = np.asarray((self.vec.transform(texts) @ self.X.T).argmax(axis=1)).ravel()
        return [self.levels[j] for j in nearest]


def level_metrics(predicted: Sequence[int], truth: Sequence[int]) -> dict[str, float]:
    """Accuracy and macro-F1 over the three levels (each in [0, 1])."""
    p, t = np.asarray(predicted), np.asarray(truth)
    return {
        "accuracy": float((p == t).mean()) if len(t) else 0.0,
        "macro_f1": float(f1_score(t, p, labels=[0, 1, 2], average="macro", zero_division=0)),
    }
