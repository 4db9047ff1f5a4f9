"""Top-k selection with filtered items and a preference order for ties."""

from __future__ import annotations

import numpy as np

from engine.recommend.ranking import top_k, top_k_sparse


def test_highest_first_ties_by_preference_filtered_never():
    scores = np.array([0.5, 1.0, 0.5, -np.inf, 0.5, np.nan])
    preference = np.array([3, 0, 1, 2, 0, 5])  # lower is preferred
    np.testing.assert_array_equal(top_k(scores, 3, preference), [1, 4, 2])
    np.testing.assert_array_equal(top_k(scores, 10, preference), [1, 4, 2, 0])


def test_zero_eligible_items_give_an_empty_answer():
    assert top_k(np.full(4, -np.inf), 3, np.arange(4)).size == 0


def test_agrees_with_a_full_sort_on_random_scores():
    rng = np.random.default_rng(1)
    for _ in range(50):
        scores = rng.integers(0, 5, 30).astype(float)
        preference = rng.permutation(30)
        expected = np.lexsort((preference, -scores))[:7]
        np.testing.assert_array_equal(top_k(scores, 7, preference), expected)


def test_agrees_with_a_full_sort_with_large_ties_and_filtered_items():
    rng = np.random.default_rng(2)
    for _ in range(200):
        n = int(rng.integers(1, 400))
        scores = np.where(rng.random(n) < 0.7, 0.0, rng.integers(1, 4, n).astype(float))  # mostly tied at 0
        scores[rng.random(n) < 0.3] = -np.inf
        preference = rng.permutation(n)
        k = int(rng.integers(1, 20))
        eligible = np.flatnonzero(np.isfinite(scores))
        expected = eligible[np.lexsort((preference[eligible], -scores[eligible]))][:k]
        np.testing.assert_array_equal(top_k(scores, k, preference), expected)


def test_sparse_top_k_equals_top_k_of_the_dense_scores():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, k = int(rng.integers(1, 30)), int(rng.integers(1, 12))
        preference = rng.permutation(n)
        order = np.argsort(preference)
        items = rng.choice(n, size=int(rng.integers(0, n + 1)), replace=False)
        values = rng.choice([0.0, 0.25, 0.5, 1.0], size=items.size)  # ties and zeros included
        blocked = rng.choice(n, size=int(rng.integers(0, min(n, 3) + 1)), replace=False)
        dense = np.zeros(n)
        dense[items] = values
        dense[blocked] = -np.inf
        best, scores = top_k_sparse(items, values, k, preference, order, blocked)
        expected = top_k(dense, k, preference)
        np.testing.assert_array_equal(best, expected)
        np.testing.assert_array_equal(scores, dense[expected])
