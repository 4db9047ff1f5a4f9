"""Top-k ranking metrics as free functions of a hit matrix, and :func:`evaluate` for the named set.

``hits[u, j]`` is True when the j-th recommendation for customer ``u`` is relevant (lists shorter than
k are padded with misses); ``n_relevant[u]`` is the number of relevant items of ``u`` (>= 1). Every
metric returns the mean over customers. Relevance is binary; nDCG's ideal DCG counts
``min(n_relevant, k)`` hits at the top, as in Microsoft Recommenders with ``score_type="binary"``;
MAP@k divides by ``min(n_relevant, k)``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import cast

import numpy as np

from engine.errors import EngineError


def hit_matrix(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(hits, n_relevant) for paired lists of recommended items and relevant item sets."""
    if len(recommended) != len(relevant):
        raise EngineError(f"{len(recommended)} recommendation lists for {len(relevant)} relevant sets")
    hits = np.zeros((len(recommended), k), dtype=bool)
    for row, (items, truth) in enumerate(zip(recommended, relevant)):
        for column, item in enumerate(list(items)[:k]):
            hits[row, column] = item in truth
    n_relevant = np.fromiter((len(truth) for truth in relevant), dtype=np.int64, count=len(relevant))
    return hits, n_relevant


def _check(hits: np.ndarray, n_relevant: np.ndarray) -> None:
    if hits.ndim != 2 or hits.shape[0] != len(n_relevant):
        raise EngineError(f"hits must be (customers, k) with one n_relevant per customer, got {hits.shape}")
    if len(n_relevant) and n_relevant.min() < 1:
        raise EngineError("every evaluated customer needs at least one relevant item")


def precision_at_k(hits: np.ndarray, n_relevant: np.ndarray) -> float:
    """Share of the k slots that hold a relevant item."""
    _check(hits, n_relevant)
    return float(hits.mean(axis=1).mean()) if len(hits) else float("nan")


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray) -> float:
    """Share of the customer's relevant items found in the top k."""
    _check(hits, n_relevant)
    return float((hits.sum(axis=1) / n_relevant).mean()) if len(hits) else float("nan")


def hit_rate_at_k(hits: np.ndarray, n_relevant: np.ndarray) -> float:
    """Share of customers with at least one relevant item in the top k."""
    _check(hits, n_relevant)
    return float(hits.any(axis=1).mean()) if len(hits) else float("nan")


def ndcg_per_customer(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """Each customer's binary nDCG (what :func:`ndcg_at_k` averages; paired standard errors use it)."""
    _check(hits, n_relevant)
    k = hits.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    return (hits @ discounts) / ideal


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray) -> float:
    """Binary nDCG: sum of 1/log2(rank + 1) over hits, over the same for a perfect list."""
    return float(ndcg_per_customer(hits, n_relevant).mean()) if len(hits) else float("nan")


def map_at_k(hits: np.ndarray, n_relevant: np.ndarray) -> float:
    """Mean average precision: precision at each hit's rank, summed, over min(n_relevant, k)."""
    _check(hits, n_relevant)
    if not len(hits):
        return float("nan")
    k = hits.shape[1]
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return float(((precision_at_rank * hits).sum(axis=1) / np.minimum(n_relevant, k)).mean())


def catalog_coverage(recommended: Sequence[Sequence[str]], catalog_size: int, k: int) -> float:
    """Share of the catalogue that appears in at least one customer's top k."""
    if catalog_size < 1:
        raise EngineError(f"catalog_size must be >= 1, got {catalog_size}")
    shown = {item for items in recommended for item in list(items)[:k]}
    return len(shown) / catalog_size


def customer_values(
    recommended: Mapping[str, Sequence[str]], relevant: Mapping[str, Collection[str]], k: int, metric: str
) -> np.ndarray:
    """Each customer's ``metric`` (``ndcg``, ``precision``, ``recall``, ``hit_rate``; not coverage) in
    the order of ``relevant``'s customers with a relevant item, as :func:`evaluate` averages them: two
    models scored on the same ``relevant`` give paired values, for the standard error of their gap."""
    customers = [c for c, items in relevant.items() if len(items)]
    hits, n_relevant = hit_matrix([recommended.get(c, ()) for c in customers], [relevant[c] for c in customers], k)
    if metric == "ndcg":
        return ndcg_per_customer(hits, n_relevant)
    if metric == "precision":
        return hits.mean(axis=1)
    if metric == "recall":
        return hits.sum(axis=1) / n_relevant
    if metric == "hit_rate":
        return cast(np.ndarray, hits.any(axis=1).astype(np.float64))  # numpy's stubs allow a scalar here
    raise EngineError(f"no per-customer values for {metric!r}; use ndcg, precision, recall or hit_rate")


def evaluate(
    recommended: Mapping[str, Sequence[str]],
    relevant: Mapping[str, Collection[str]],
    k: int = 10,
    catalog_size: int | None = None,
) -> dict[str, float]:
    """The named metric set at ``k`` over the customers of ``relevant`` (a customer missing from
    ``recommended`` got nothing), plus ``n_customers``; ``coverage@k`` needs ``catalog_size``."""
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise EngineError(f"k must be a positive integer, got {k!r}")
    customers = [c for c, items in relevant.items() if len(items)]
    lists = [recommended.get(c, ()) for c in customers]
    hits, n_relevant = hit_matrix(lists, [relevant[c] for c in customers], k)
    metrics = {
        f"ndcg@{k}": ndcg_at_k(hits, n_relevant),
        f"precision@{k}": precision_at_k(hits, n_relevant),
        f"recall@{k}": recall_at_k(hits, n_relevant),
        f"map@{k}": map_at_k(hits, n_relevant),
        f"hit_rate@{k}": hit_rate_at_k(hits, n_relevant),
    }
    if catalog_size is not None:
        metrics[f"coverage@{k}"] = catalog_coverage(lists, catalog_size, k)
    metrics["n_customers"] = len(customers)
    return metrics
