"""Ranking metrics on hand-made lists whose right answers are worked out in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from ml.metrics import (
    average_precision_at_k,
    catalog_coverage,
    mean_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

RANKED = ["a", "b", "c", "d"]
RELEVANT = {"b", "d"}


def test_precision_counts_hits_over_k_slots():
    assert precision_at_k(RANKED, RELEVANT, 2) == 0.5  # b in 2 slots
    assert precision_at_k(RANKED, RELEVANT, 4) == 0.5  # b, d in 4 slots
    assert precision_at_k(RANKED, RELEVANT, 10) == 0.2  # a short list still has 10 slots
    assert precision_at_k([], RELEVANT, 3) == 0.0


def test_recall_counts_hits_over_relevant():
    assert recall_at_k(RANKED, RELEVANT, 1) == 0.0
    assert recall_at_k(RANKED, RELEVANT, 2) == 0.5
    assert recall_at_k(RANKED, RELEVANT, 4) == 1.0
    assert recall_at_k(RANKED, set(), 4) == 0.0


def test_ndcg_by_hand():
    # hits at ranks 2 and 4: (1/log2(3) + 1/log2(5)) / (1 + 1/log2(3))
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(RANKED, RELEVANT, 4) == pytest.approx(expected)
    assert ndcg_at_k(["b", "d", "a"], RELEVANT, 4) == pytest.approx(1.0)  # ideal order
    assert ndcg_at_k(RANKED, {"z"}, 4) == 0.0
    # Cut at k=2: one hit at rank 2 against an ideal of two hits.
    assert ndcg_at_k(RANKED, RELEVANT, 2) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )


def test_ndcg_agrees_with_scikit_learn_on_random_lists():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n, k = 30, 10
        scores = rng.random(n)
        relevant = set(rng.choice(n, rng.integers(1, 6), replace=False).tolist())
        ranked = np.argsort(-scores).tolist()
        truth = np.array([[1.0 if i in relevant else 0.0 for i in range(n)]])
        assert ndcg_at_k(ranked, relevant, k) == pytest.approx(
            ndcg_score(truth, scores[None, :], k=k)
        )


def test_average_precision_by_hand():
    # precision at the hits: 1/2 at rank 2, 2/4 at rank 4; divided by min(k, |relevant|) = 2
    assert average_precision_at_k(RANKED, RELEVANT, 4) == pytest.approx(0.5)
    assert average_precision_at_k(["b", "d"], RELEVANT, 4) == pytest.approx(1.0)
    # k=2: only b counts (1/2), over min(2, 2) = 2
    assert average_precision_at_k(RANKED, RELEVANT, 2) == pytest.approx(0.25)


def test_catalog_coverage():
    lists = [["a", "b"], ["b", "c"]]
    assert catalog_coverage(lists, 4, 2) == 0.75
    assert catalog_coverage(lists, 4, 1) == 0.5  # a, b
    assert catalog_coverage([], 4, 2) == 0.0


def test_mean_counts_a_learner_without_a_list_as_zero():
    truth = {"u1": {"a"}, "u2": {"x"}, "u3": set()}  # u3 has nothing relevant: not counted
    got = mean_at_k({"u1": ["a", "b"]}, truth, 2)
    assert got["precision"] == pytest.approx(0.25)  # (1/2 + 0) / 2
    assert got["recall"] == pytest.approx(0.5)
    assert got["ndcg"] == pytest.approx(0.5)
    assert got["map"] == pytest.approx(0.5)
