""""Buy it again": a customer's own most bought items, recent purchases weighted more.

In grocery-like data most of what a customer buys next is something they bought before, so this is
the baseline to beat in the ``repeat`` task. Each past purchase line counts ``0.5 ** (age / half-life)``
(``half_life_days=None``: no decay, plain frequency). It can never recommend a new item: in the
``discovery`` task its list is the popularity tie-break. ``similar_items`` answers with popularity.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import sparse

from engine.errors import EngineError
from engine.recommend.base import RecommenderModel
from engine.recommend.interactions import Value, interaction_matrix, sparse_arrays, sparse_from_arrays
from engine.recommend.training_data import TrainingData


class BuyAgainRecommender(RecommenderModel):
    """Scores an item by the customer's recency-weighted number of purchases of it."""

    kind = "buy_again"

    def __init__(
        self, half_life_days: float | None = 90.0, min_item_buyers: int = 1, value: Value = "purchases"
    ) -> None:
        super().__init__(min_item_buyers=min_item_buyers, value=value)
        self.half_life_days = half_life_days

    def _fit(self, data: TrainingData) -> None:
        if self.half_life_days is not None and not self.half_life_days > 0:
            raise EngineError(f"half_life_days must be positive or None, got {self.half_life_days!r}")
        recency = interaction_matrix(
            data.transactions, data.customers, data.items, self.value, self.half_life_days, data.as_of
        )
        # only items the customer still holds on balance (not all returned) are theirs to buy again
        self.recency_ = sparse.csr_matrix(recency.multiply(data.counts > 0), dtype=np.float32)

    def _score(self, users: np.ndarray, rows: sparse.csr_matrix) -> np.ndarray:
        known = users >= 0
        # a customer folded in after training has no dates: their counts stand in for recency
        scores = rows.toarray().astype(np.float64)
        if known.any():
            scores[known] = self.recency_[users[known]].toarray()
        return scores

    def _sparse_task(self, users: np.ndarray, rows: sparse.csr_matrix, task: str, k: int) -> sparse.csr_matrix | None:
        """Its scores are the customer's own items' (every other item scores 0): a sparse row each. A
        customer folded in after training goes the dense way."""
        return self.recency_[users] if (users >= 0).all() else None

    def _similar(self, item: int) -> np.ndarray:
        return self.popularity_.scores()

    def _state(self) -> dict[str, np.ndarray]:
        return sparse_arrays("recency", self.recency_)

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.recency_ = sparse_from_arrays(arrays, "recency", (len(self.customers_), len(self.items_)))
