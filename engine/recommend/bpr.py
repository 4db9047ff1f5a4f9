"""Bayesian personalized ranking (Rendle et al. 2009), via the ``implicit`` library.

BPR has no closed-form fold-in; a customer seen after training gets the confidence-weighted mean of
their items' factors as their own (an approximation, stated here rather than hidden).

One thread by default: implicit's BPR updates factors Hogwild-style, so with several threads two fits
with the same seed differ (item factors by up to 0.27 on MovieLens-100k); ``num_threads=0`` uses every
core and gives up that reproducibility.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from implicit.cpu.bpr import BayesianPersonalizedRanking
from scipy import sparse

from engine.recommend.collaborative import CollaborativeModel, cosine_to, single_blas_thread
from engine.recommend.interactions import Value, Weighting
from engine.recommend.training_data import TrainingData


class BPRRecommender(CollaborativeModel):
    """Scores = customer factors . item factors + item bias (implicit keeps the bias as a last factor)."""

    kind = "bpr"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        weighting: Weighting = "binary",
        alpha: float = 1.0,
        bm25_k1: float = 100.0,
        bm25_b: float = 0.8,
        random_state: int = 42,
        num_threads: int = 1,
        min_item_buyers: int = 1,
        value: Value = "purchases",
    ) -> None:
        super().__init__(weighting, alpha, bm25_k1, bm25_b, min_item_buyers, value)
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit_weighted(self, weighted: sparse.csr_matrix, data: TrainingData) -> None:
        with single_blas_thread():
            model = BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
            )
            model.fit(weighted, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors)
        self.item_factors_ = np.asarray(model.item_factors)

    def _score_weighted(self, users: np.ndarray, weighted_rows: sparse.csr_matrix) -> np.ndarray:
        factors = self.user_factors_[np.maximum(users, 0)].copy()
        new = np.flatnonzero(users < 0)
        if new.size:
            rows = weighted_rows[new]
            totals = np.asarray(rows.sum(axis=1)).ravel()
            totals[totals == 0] = 1.0
            folded = np.asarray(rows @ self.item_factors_) / totals[:, None]
            folded[:, -1] = 1.0  # the last factor multiplies the item bias
            factors[new] = folded
        return factors @ self.item_factors_.T

    def _similar(self, item: int) -> np.ndarray:
        return cosine_to(self.item_factors_[:, :-1], item)

    def _model_state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _restore_model(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.user_factors_ = arrays["user_factors"]
        self.item_factors_ = arrays["item_factors"]
