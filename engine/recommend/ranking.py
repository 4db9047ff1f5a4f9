"""Top-k selection shared by every model: highest scores first, ties broken by a preference order."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int, preference_rank: np.ndarray) -> np.ndarray:
    """Indices of the ``k`` highest finite scores, best first.

    Items scored ``-inf`` or NaN (filtered out) are never returned, so fewer than ``k`` come back when
    fewer are eligible. Equal scores are ordered by ``preference_rank`` (lower is preferred; the
    models pass global popularity), which makes results deterministic and fills a short list with
    popular items rather than arbitrary ones. Runs in O(n) plus a sort of the ``k`` winners (a large
    tie, such as every unbought item at 0, is cut to the preferred few before sorting).
    """
    candidates = np.flatnonzero(np.isfinite(scores))  # -inf and NaN: filtered out
    k = min(int(k), candidates.size)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    values = scores[candidates]
    kth = np.partition(values, values.size - k)[values.size - k]
    above = candidates[values > kth]
    above = above[np.lexsort((preference_rank[above], -scores[above]))]
    tied = candidates[values == kth]
    need = k - above.size
    if tied.size > need:  # e.g. every item a customer never bought, scored 0: keep the preferred few
        tied = tied[np.argpartition(preference_rank[tied], need - 1)[:need]]
    tied = tied[np.argsort(preference_rank[tied], kind="stable")]
    return np.concatenate([above, tied]).astype(np.int64)


def top_k_sparse(
    items: np.ndarray,
    values: np.ndarray,
    k: int,
    preference_rank: np.ndarray,
    preference_order: np.ndarray,
    blocked: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k` of scores that are 0 for every item but ``items`` (and never negative), without a
    dense array: the positive ``values`` best first (ties by ``preference_rank``), then the preferred
    other items (``preference_order``: item indices, most preferred first), at 0. ``blocked`` items are
    never returned. Returns (item indices, their scores)."""
    values = np.asarray(values, dtype=np.float64)
    keep = (values > 0) & ~np.isin(items, blocked)
    items, values = items[keep], values[keep]
    order = np.lexsort((preference_rank[items], -values))[:k]
    best, scores = items[order].astype(np.int64), values[order]
    if best.size < k:
        taken = np.concatenate([best, blocked])
        preferred = preference_order[: k + taken.size]
        fill = preferred[~np.isin(preferred, taken)][: k - best.size]
        best, scores = np.concatenate([best, fill]), np.concatenate([scores, np.zeros(fill.size)])
    return best.astype(np.int64), scores
