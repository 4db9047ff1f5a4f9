"""Ranking metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import EngineError
from engine.recommend.metrics import (
    catalog_coverage,
    evaluate,
    hit_matrix,
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

# customer 1: hits at ranks 1 and 3 of 4, 3 relevant items; customer 2: no hit, 1 relevant item
HITS = np.array([[True, False, True, False], [False, False, False, False]])
N_RELEVANT = np.array([3, 1])


def test_precision_recall_hit_rate():
    assert precision_at_k(HITS, N_RELEVANT) == pytest.approx((2 / 4 + 0) / 2)
    assert recall_at_k(HITS, N_RELEVANT) == pytest.approx((2 / 3 + 0) / 2)
    assert hit_rate_at_k(HITS, N_RELEVANT) == pytest.approx(0.5)


def test_ndcg_binary_with_ideal_over_min_relevant_k():
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(HITS, N_RELEVANT) == pytest.approx((dcg / ideal + 0) / 2)
    assert ndcg_at_k(np.array([[True, False]]), np.array([5])) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_map_divides_by_min_relevant_k():
    assert map_at_k(HITS, N_RELEVANT) == pytest.approx(((1 / 1 + 2 / 3) / 3 + 0) / 2)
    assert map_at_k(np.array([[False, True]]), np.array([9])) == pytest.approx((1 / 2) / 2)


def test_perfect_lists_score_one():
    hits = np.array([[True, True, False]])
    for metric in (ndcg_at_k, map_at_k, recall_at_k, hit_rate_at_k):
        assert metric(hits, np.array([2])) == pytest.approx(1.0)


def test_hit_matrix_pads_short_lists_and_evaluate_names_the_set():
    hits, n_relevant = hit_matrix([["a", "b"], []], [{"b", "c"}, {"a"}], k=3)
    np.testing.assert_array_equal(hits, [[False, True, False], [False, False, False]])
    np.testing.assert_array_equal(n_relevant, [2, 1])
    metrics = evaluate({"u": ["a", "b"]}, {"u": {"b", "c"}, "v": {"a"}, "w": set()}, k=3, catalog_size=4)
    assert metrics["n_customers"] == 2  # w has nothing relevant; v got no list
    assert metrics["precision@3"] == pytest.approx((1 / 3) / 2)
    assert metrics["coverage@3"] == pytest.approx(2 / 4)
    assert set(metrics) == {"ndcg@3", "precision@3", "recall@3", "map@3", "hit_rate@3", "coverage@3", "n_customers"}


def test_coverage_and_bad_inputs():
    assert catalog_coverage([["a", "b", "c"], ["a"]], catalog_size=10, k=2) == pytest.approx(0.2)
    with pytest.raises(EngineError):
        ndcg_at_k(HITS, np.array([3, 0]))
    with pytest.raises(EngineError):
        evaluate({}, {"u": {"a"}}, k=0)
