"""Popularity baselines: what a shop shows when it knows nothing about the customer.

- :class:`PopularityRecommender`: the shop's bestsellers (``by="purchases"``: most purchase lines in
  training) or the items most customers bought (``by="buyers"``: distinct buyers, a stronger
  baseline for ``discovery``, where staples the customer already buys are filtered out).
- :class:`SegmentPopularityRecommender`: the same within the customer's RFM segment
  (:func:`engine.customers.rfm.rfm_scores` + :func:`engine.customers.segments.assign_segments`).

Neither has a notion of item similarity: ``similar_items`` answers with the most popular other items.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from engine.errors import EngineError
from engine.recommend.base import RecommenderModel
from engine.recommend.fallback import MEASURES, NO_SEGMENT, Measure
from engine.recommend.interactions import Value
from engine.recommend.training_data import TrainingData


class PopularityRecommender(RecommenderModel):
    """Every customer gets the globally most popular items."""

    kind = "popularity"

    def __init__(self, by: Measure = "purchases", min_item_buyers: int = 1, value: Value = "purchases") -> None:
        super().__init__(min_item_buyers=min_item_buyers, value=value)
        self.by = by

    def _fit(self, data: TrainingData) -> None:
        """Nothing to learn beyond the popularity table the base builds."""
        _check_measure(self.by)

    def _score(self, users: np.ndarray, rows: sparse.csr_matrix) -> np.ndarray:
        return np.tile(self.popularity_.scores(measure=self.by), (len(users), 1))

    def _similar(self, item: int) -> np.ndarray:
        return self.popularity_.scores(measure=self.by)


class SegmentPopularityRecommender(PopularityRecommender):
    """Every customer gets the most popular items of their RFM segment (global popularity for a
    customer without a segment)."""

    kind = "segment_popularity"

    def _score(self, users: np.ndarray, rows: sparse.csr_matrix) -> np.ndarray:
        segments = np.where(users >= 0, self.popularity_.customer_segment[np.maximum(users, 0)], NO_SEGMENT)
        return np.stack([self.popularity_.scores(int(segment), self.by) for segment in segments])


def _check_measure(by: str) -> None:
    if by not in MEASURES:
        raise EngineError(f"popularity 'by' must be one of {MEASURES}, got {by!r}")
