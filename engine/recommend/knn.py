"""Item-item nearest neighbours, via the ``implicit`` library.

Each item keeps its ``neighbours`` most similar items (``cosine`` of the weighted item columns, or
their plain ``dot`` product, which with BM25 weighting is implicit's ``BM25Recommender``). A
customer's score for an item is their weighted history times the similarity matrix, so a customer
seen after training is scored from their items directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
from implicit.nearest_neighbours import ItemItemRecommender
from scipy import sparse

from engine.errors import EngineError
from engine.recommend.collaborative import CollaborativeModel
from engine.recommend.interactions import Value, Weighting, sparse_arrays, sparse_from_arrays
from engine.recommend.training_data import TrainingData

Similarity = Literal["cosine", "dot"]


class ItemKNNRecommender(CollaborativeModel):
    """Scores = weighted history . item-item similarity (top ``neighbours`` per item)."""

    kind = "item_knn"

    def __init__(
        self,
        neighbours: int = 100,
        similarity: Similarity = "cosine",
        weighting: Weighting = "bm25",
        alpha: float = 1.0,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        num_threads: int = 0,
        min_item_buyers: int = 1,
        value: Value = "purchases",
    ) -> None:
        super().__init__(weighting, alpha, bm25_k1, bm25_b, min_item_buyers, value)
        self.neighbours = neighbours
        self.similarity = similarity
        self.num_threads = num_threads

    def _fit_weighted(self, weighted: sparse.csr_matrix, data: TrainingData) -> None:
        if self.similarity not in ("cosine", "dot"):
            raise EngineError(f"similarity must be 'cosine' or 'dot', got {self.similarity!r}")
        if not isinstance(self.neighbours, (int, np.integer)) or self.neighbours < 1:
            raise EngineError(f"neighbours must be a positive integer, got {self.neighbours!r}")
        if self.similarity == "cosine":  # cosine is the dot product of L2-normalized item columns
            norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=0)).ravel())
            norms[norms == 0] = 1.0
            weighted = weighted @ sparse.diags(1.0 / norms)
        knn = ItemItemRecommender(K=self.neighbours, num_threads=self.num_threads)
        knn.fit(sparse.csr_matrix(weighted, dtype=np.float64), show_progress=False)
        self.similarity_ = sparse.csr_matrix(knn.similarity, dtype=np.float32)

    def _score_weighted(self, users: np.ndarray, weighted_rows: sparse.csr_matrix) -> np.ndarray:
        return (weighted_rows @ self.similarity_).toarray()

    def _similar(self, item: int) -> np.ndarray:
        return self.similarity_[item].toarray().ravel()

    def _model_state(self) -> dict[str, np.ndarray]:
        return sparse_arrays("similarity", self.similarity_)

    def _restore_model(self, arrays: Mapping[str, np.ndarray]) -> None:
        n = len(self.items_)
        self.similarity_ = sparse_from_arrays(arrays, "similarity", (n, n))
