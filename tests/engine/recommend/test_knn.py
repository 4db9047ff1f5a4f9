"""Item-item nearest neighbours via implicit."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import EngineError
from engine.recommend.knn import ItemKNNRecommender

from .contract import LearnsCoPurchases, RecommenderContract


class TestItemKNNCosine(RecommenderContract, LearnsCoPurchases):
    def make_model(self):
        return ItemKNNRecommender(neighbours=20, similarity="cosine", weighting="bm25", num_threads=1)


class TestItemKNNDot(RecommenderContract, LearnsCoPurchases):
    def make_model(self):
        # implicit's BM25Recommender: the dot product of BM25-weighted columns
        return ItemKNNRecommender(
            neighbours=20, similarity="dot", weighting="bm25", bm25_k1=1.2, bm25_b=0.75, num_threads=1
        )


def test_cosine_similarity_matches_a_hand_computation(shop_lines):
    model = ItemKNNRecommender(neighbours=100, similarity="cosine", weighting="binary", num_threads=1).fit(shop_lines)
    binary = (model.history_ > 0).astype(float).toarray()
    norms = np.linalg.norm(binary, axis=0)
    expected = (binary.T @ binary) / np.outer(norms, norms)
    np.testing.assert_allclose(model.similarity_.toarray(), expected, atol=1e-5)


def test_bad_similarity_is_an_error(shop_lines):
    with pytest.raises(EngineError, match="similarity"):
        ItemKNNRecommender(similarity="jaccard").fit(shop_lines)  # type: ignore[arg-type]
