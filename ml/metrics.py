"""Ranking metrics for offline evaluation: pure functions, binary relevance.

Each per-list metric takes `ranked` (recommended item ids, best first) and `relevant` (the items
the learner really took in the test period) and looks only at the first `k` recommendations.
All values lie in [0, 1]; 1 is perfect. `mean_at_k` averages them over learners, the usual way
(microsoft/recommenders, implicit's `ranking_metrics_at_k`): every learner with at least one
relevant item counts once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

METRICS = ("precision", "recall", "ndcg", "map")


def precision_at_k(ranked: Sequence, relevant: Collection, k: int) -> float:
    """Share of the k slots holding a relevant item (a short list still has k slots)."""
    return sum(item in relevant for item in ranked[:k]) / k


def recall_at_k(ranked: Sequence, relevant: Collection, k: int) -> float:
    """Share of the relevant items found in the top k (0 when nothing is relevant)."""
    if not relevant:
        return 0.0
    return sum(item in relevant for item in ranked[:k]) / len(relevant)


def ndcg_at_k(ranked: Sequence, relevant: Collection, k: int) -> float:
    """DCG of the top k over the DCG of an ideal list (all relevant items first)."""
    dcg = sum(1 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def average_precision_at_k(ranked: Sequence, relevant: Collection, k: int) -> float:
    """Mean of precision@i at each rank i <= k holding a relevant item, over min(k, |relevant|)."""
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for i, item in enumerate(ranked[:k]):
        if item in relevant:
            hits += 1
            total += hits / (i + 1)
    return total / min(k, len(relevant))


AT_K: dict[str, Callable[[Sequence, Collection, int], float]] = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "map": average_precision_at_k,
}


def catalog_coverage(lists: Iterable[Sequence], catalog_size: int, k: int) -> float:
    """Share of the catalog that appears in at least one learner's top k."""
    if catalog_size <= 0:
        return 0.0
    seen = {item for ranked in lists for item in ranked[:k]}
    return len(seen) / catalog_size


def mean_at_k(
    recommendations: Mapping, truth: Mapping[object, Collection], k: int
) -> dict[str, float]:
    """Every metric of METRICS averaged over the learners of `truth` that have relevant items.

    A learner missing from `recommendations` got an empty list (scores 0), so a method cannot
    look better by skipping hard learners.
    """
    users = [u for u, rel in truth.items() if rel]
    if not users:
        return dict.fromkeys(METRICS, 0.0)
    return {
        name: sum(fn(recommendations.get(u, ()), truth[u], k) for u in users) / len(users)
        for name, fn in AT_K.items()
    }
