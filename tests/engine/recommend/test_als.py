"""ALS via implicit."""

from __future__ import annotations

import numpy as np

from engine.recommend.als import ALSRecommender

from .contract import LearnsCoPurchases, RecommenderContract


class TestALS(RecommenderContract, LearnsCoPurchases):
    def make_model(self):
        return ALSRecommender(factors=8, regularization=1.0, iterations=10, weighting="linear", num_threads=1)


class TestALSBM25(RecommenderContract):
    def make_model(self):
        return ALSRecommender(factors=8, iterations=5, weighting="bm25", num_threads=1)


def test_fold_in_of_a_known_history_matches_its_trained_factors(planted):
    model = ALSRecommender(factors=8, regularization=1.0, iterations=30, weighting="linear", num_threads=1).fit(planted)
    customer = model.customers_.external_ids[5]
    row = model.history_[5]
    history = list(np.repeat(model.items_.to_external(row.indices), row.data.astype(int)))  # each purchase
    trained = model.recommend([customer], k=5)[0].item_ids
    folded = model.recommend_from_items(history, k=5).item_ids
    assert len(set(trained) & set(folded)) >= 4


def test_same_seed_same_model(shop_lines):
    first = ALSRecommender(factors=8, iterations=5, num_threads=1, random_state=3).fit(shop_lines)
    second = ALSRecommender(factors=8, iterations=5, num_threads=1, random_state=3).fit(shop_lines)
    np.testing.assert_allclose(first.item_factors_, second.item_factors_)
