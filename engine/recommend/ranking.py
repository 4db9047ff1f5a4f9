"""Top-k selection shared by every model: highest scores first, ties broken by a preference order."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int, preference_rank: np.ndarray) -> np.ndarray:
    """Indices of the ``k`` highest finite scores, best first.

    Items scored ``-inf`` or NaN (filtered out) are never returned, so fewer than ``k`` come back when
    fewer are eligible. Equal scores are ordered by ``preference_rank`` (lower is preferred; the
    models pass global popularity), which makes results deterministic and fills a short list with
    popular items rather than arbitrary ones. Runs in O(n) plus a sort of the ``k`` winners.
    """
    scores = np.where(np.isnan(scores), -np.inf, scores)
    eligible = int(np.isfinite(scores).sum())
    k = min(int(k), eligible)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    kth = np.partition(scores, scores.size - k)[scores.size - k]
    above = np.flatnonzero(scores > kth)
    above = above[np.lexsort((preference_rank[above], -scores[above]))]
    tied = np.flatnonzero(scores == kth)
    tied = tied[np.argsort(preference_rank[tied], kind="stable")][: k - above.size]
    return np.concatenate([above, tied]).astype(np.int64)
