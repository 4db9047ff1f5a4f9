"""Shared part of the collaborative models: they learn from confidence-weighted interactions.

:class:`CollaborativeModel` fits a :class:`~engine.recommend.interactions.Confidence` on the training
counts and weighs every history row the same way at recommendation time (so a customer folded in
after training is scored exactly like one seen in training). Subclasses implement
``_fit_weighted(weighted, data)``, ``_score_weighted(users, weighted_rows)`` and ``_similar``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from engine.recommend.base import RecommenderModel
from engine.recommend.interactions import Confidence, Value, Weighting
from engine.recommend.training_data import TrainingData


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread around implicit, which runs its own threads (implicit warns, and
    slows down, when OpenBLAS threads compete with its own)."""
    with threadpool_limits(1, "blas"):
        yield


class CollaborativeModel(RecommenderModel):
    """A recommender fitted on confidence-weighted counts (``weighting``, ``alpha``, BM25 ``k1``/``b``)."""

    def __init__(
        self,
        weighting: Weighting = "linear",
        alpha: float = 1.0,
        bm25_k1: float = 100.0,
        bm25_b: float = 0.8,
        min_item_buyers: int = 1,
        value: Value = "purchases",
    ) -> None:
        super().__init__(min_item_buyers=min_item_buyers, value=value)
        self.weighting = weighting
        self.alpha = alpha
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b

    def _confidence(self) -> Confidence:
        return Confidence(self.weighting, self.alpha, self.bm25_k1, self.bm25_b)

    def _fit(self, data: TrainingData) -> None:
        self.confidence_ = self._confidence().fit(data.counts)
        self._fit_weighted(self.confidence_.transform(data.counts), data)

    def _score(self, users: np.ndarray, rows: sparse.csr_matrix) -> np.ndarray:
        return self._score_weighted(users, self.confidence_.transform(rows))

    @abstractmethod
    def _fit_weighted(self, weighted: sparse.csr_matrix, data: TrainingData) -> None: ...

    @abstractmethod
    def _score_weighted(self, users: np.ndarray, weighted_rows: sparse.csr_matrix) -> np.ndarray: ...

    def _state(self) -> dict[str, np.ndarray]:
        return {"confidence_item_norm": self.confidence_.item_norm_, **self._model_state()}

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.confidence_ = self._confidence()
        self.confidence_.item_norm_ = arrays["confidence_item_norm"]
        self._restore_model(arrays)

    @abstractmethod
    def _model_state(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def _restore_model(self, arrays: Mapping[str, np.ndarray]) -> None: ...


def cosine_to(vectors: np.ndarray, index: int) -> np.ndarray:
    """Cosine similarity of every row of ``vectors`` to row ``index`` (0 for zero rows)."""
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = 1.0
    return (vectors @ vectors[index]) / (norms * norms[index])
