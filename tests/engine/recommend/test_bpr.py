"""BPR via implicit."""

from __future__ import annotations

import numpy as np

from engine.recommend.bpr import BPRRecommender

from .contract import LearnsCoPurchases, RecommenderContract


class TestBPR(RecommenderContract, LearnsCoPurchases):
    def make_model(self):
        return BPRRecommender(factors=8, learning_rate=0.01, iterations=100, num_threads=1)


def test_the_default_fit_is_reproducible(shop_lines):
    first = BPRRecommender(factors=8, iterations=20, random_state=3).fit(shop_lines)
    second = BPRRecommender(factors=8, iterations=20, random_state=3).fit(shop_lines)
    np.testing.assert_array_equal(first.item_factors_, second.item_factors_)
