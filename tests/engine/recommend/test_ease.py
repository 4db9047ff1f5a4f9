"""EASE, closed form."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import EngineError
from engine.recommend.ease import EASERecommender

from .contract import LearnsCoPurchases, RecommenderContract


class TestEASE(RecommenderContract, LearnsCoPurchases):
    def make_model(self):
        return EASERecommender(regularization=10.0)


def test_weights_solve_the_constrained_least_squares(shop_lines):
    """B minimises ||X - XB||^2 + lambda ||B||^2 with diag(B) = 0: the gradient is zero off the
    diagonal, which is what the closed form promises."""
    model = EASERecommender(regularization=5.0).fit(shop_lines)
    x = (model.history_ > 0).astype(float).toarray()
    weights = model.weights_.astype(float)
    assert np.allclose(np.diag(weights), 0.0)
    gradient = -x.T @ (x - x @ weights) + 5.0 * weights
    off_diagonal = gradient - np.diag(np.diag(gradient))
    assert np.abs(off_diagonal).max() < 1e-3 * np.abs(x.T @ x).max()


def test_catalogue_is_capped_at_the_most_bought_items(shop_lines):
    model = EASERecommender(max_items=5).fit(shop_lines)
    buyers = shop_lines[shop_lines["quantity"] > 0].groupby("product_id")["customer_id"].nunique()
    top = buyers.reset_index().sort_values(["customer_id", "product_id"], ascending=[False, True])["product_id"][:5]
    assert sorted(model.items_.external_ids) == sorted(top)


def test_regularization_must_be_positive(shop_lines):
    with pytest.raises(EngineError, match="regularization"):
        EASERecommender(regularization=0.0).fit(shop_lines)
