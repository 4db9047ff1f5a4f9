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
