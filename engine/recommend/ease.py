"""EASE: embarrassingly shallow autoencoder (Steck 2019), an item-item model learned in closed form.

``B = I - P / diag(P)`` with ``P = (X'X + lambda I)^-1`` and a zero diagonal, so an item is never
explained by itself. It is the strongest simple model on many implicit-feedback benchmarks; its cost
is a dense items x items inverse, so the catalogue is capped at the ``max_items`` items with the
most buyers (5,000 by default: about 5 s on 2 cores; it grows with the cube of the count).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import linalg, sparse

from engine.errors import EngineError
from engine.recommend.collaborative import CollaborativeModel
from engine.recommend.interactions import Value, Weighting
from engine.recommend.training_data import TrainingData

MAX_ITEMS = 20_000  # a 20k x 20k float32 matrix is 1.6 GB: beyond that, refuse


class EASERecommender(CollaborativeModel):
    """Scores = weighted history . B (items x items, dense)."""

    kind = "ease"

    def __init__(
        self,
        regularization: float = 500.0,
        max_items: int | None = 5_000,
        weighting: Weighting = "binary",
        alpha: float = 1.0,
        bm25_k1: float = 100.0,
        bm25_b: float = 0.8,
        min_item_buyers: int = 1,
        value: Value = "purchases",
    ) -> None:
        super().__init__(weighting, alpha, bm25_k1, bm25_b, min_item_buyers, value)
        self.regularization = regularization
        self.max_items = max_items

    def _catalogue_params(self) -> tuple[int, int | None, Value]:
        return self.min_item_buyers, self.max_items, self.value

    def _fit_weighted(self, weighted: sparse.csr_matrix, data: TrainingData) -> None:
        if not self.regularization > 0:
            raise EngineError(f"regularization must be positive, got {self.regularization!r}")
        n_items = weighted.shape[1]
        if n_items > MAX_ITEMS:
            raise EngineError(
                f"EASE needs a dense {n_items} x {n_items} inverse; set max_items (now {self.max_items}) "
                f"to at most {MAX_ITEMS}"
            )
        # float32 halves the time of the inverse; the regularized Gram matrix is well conditioned
        gram = np.asarray((weighted.T @ weighted).todense(), dtype=np.float32)
        gram[np.diag_indices(n_items)] += np.float32(self.regularization)
        precision = linalg.inv(gram, overwrite_a=True, check_finite=False)
        precision /= -np.diag(precision).copy()[None, :]
        precision[np.diag_indices(n_items)] = 0.0
        # row-major, so that a customer's score is a fast sum of the rows of their items
        self.weights_ = np.ascontiguousarray(precision)

    def _score_weighted(self, users: np.ndarray, weighted_rows: sparse.csr_matrix) -> np.ndarray:
        return np.asarray(weighted_rows @ self.weights_)

    def _similar(self, item: int) -> np.ndarray:
        return self.weights_[item].astype(np.float64)

    def _model_state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights_}

    def _restore_model(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.weights_ = np.ascontiguousarray(arrays["weights"])
