"""Implicit-feedback matrix factorization by alternating least squares (Hu, Koren & Volinsky 2008),
via the ``implicit`` library.

A customer seen after training is folded in by solving their factors against the fixed item factors
(implicit's ``recalculate_user``), without retraining.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from scipy import sparse

from engine.recommend.collaborative import CollaborativeModel, cosine_to, single_blas_thread
from engine.recommend.interactions import Value, Weighting
from engine.recommend.training_data import TrainingData


class ALSRecommender(CollaborativeModel):
    """Scores = customer factors . item factors."""

    kind = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        weighting: Weighting = "bm25",
        alpha: float = 1.0,
        bm25_k1: float = 100.0,
        bm25_b: float = 0.8,
        random_state: int = 42,
        num_threads: int = 0,
        min_item_buyers: int = 1,
        value: Value = "purchases",
    ) -> None:
        super().__init__(weighting, alpha, bm25_k1, bm25_b, min_item_buyers, value)
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _implicit(self) -> AlternatingLeastSquares:
        return AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            iterations=self.iterations,
            random_state=self.random_state,
            num_threads=self.num_threads,
        )

    def _fit_weighted(self, weighted: sparse.csr_matrix, data: TrainingData) -> None:
        with single_blas_thread():
            model = self._implicit()
            model.fit(weighted, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors)
        self.item_factors_ = np.asarray(model.item_factors)
        self._solver = model

    def _score_weighted(self, users: np.ndarray, weighted_rows: sparse.csr_matrix) -> np.ndarray:
        factors = self.user_factors_[np.maximum(users, 0)].copy()
        new = np.flatnonzero(users < 0)
        if new.size:
            with single_blas_thread():
                factors[new] = self._fold_in_solver().recalculate_user(new, weighted_rows[new])
        return factors @ self.item_factors_.T

    def _fold_in_solver(self) -> AlternatingLeastSquares:
        if getattr(self, "_solver", None) is None:
            with single_blas_thread():
                solver = self._implicit()
            solver.user_factors = self.user_factors_
            solver.item_factors = self.item_factors_
            self._solver = solver
        return self._solver

    def _similar(self, item: int) -> np.ndarray:
        return cosine_to(self.item_factors_, item)

    def _model_state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _restore_model(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.user_factors_ = arrays["user_factors"]
        self.item_factors_ = arrays["item_factors"]
        self._solver = None
