"""BPR via implicit."""

from __future__ import annotations

from engine.recommend.bpr import BPRRecommender

from .contract import LearnsCoPurchases, RecommenderContract


class TestBPR(RecommenderContract, LearnsCoPurchases):
    def make_model(self):
        return BPRRecommender(factors=8, learning_rate=0.01, iterations=100, num_threads=1)
