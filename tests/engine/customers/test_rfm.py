"""RFM on a hand-computed case and on properties of random data."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.customers.rfm import rank_scores, rfm_scores
from engine.errors import EngineError


def test_hand_computed_values(tiny_transactions):
    scores = rfm_scores(tiny_transactions, "2024-04-01")
    a, b, c = scores.loc["a"], scores.loc["b"], scores.loc["c"]
    assert a.recency_days == 12 and b.recency_days == 7 and c.recency_days == 183
    assert (a.frequency, b.frequency, c.frequency) == (3, 2, 5)  # b's return-only order does not count
    assert a.monetary == pytest.approx(2 * 10 + 5 + 10 + 30)
    assert b.monetary == pytest.approx(4 * 5 - 5 + 2.5)  # the return reduces spend
    assert c.monetary == pytest.approx(10 + 90 + 5 + 5 + 5)
    # three customers over five bins: ranks 1, 2, 3 -> ceil(rank * 5 / 3) = 2, 4, 5
    assert (b.r_score, a.r_score, c.r_score) == (5, 4, 2)
    assert (b.f_score, a.f_score, c.f_score) == (2, 4, 5)
    assert (b.m_score, a.m_score, c.m_score) == (2, 4, 5)


def test_only_past_lines_count(tiny_transactions):
    scores = rfm_scores(tiny_transactions, "2024-03-01")
    assert set(scores.index) == {"a", "b", "c"}
    assert scores.loc["a", "frequency"] == 1  # the 2024-03-01 order is not before as_of
    # last purchase 2024-02-10 (the 02-11 line is a return); February 2024 has 29 days
    assert scores.loc["b", "recency_days"] == 20


def test_no_purchases_before_as_of_is_an_error(tiny_transactions):
    with pytest.raises(EngineError, match="no purchases before"):
        rfm_scores(tiny_transactions, "2020-01-01")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200))
def test_rank_scores_depend_on_value_only_and_respect_order(values):
    series = pd.Series(values)
    scores = rank_scores(series)
    assert scores.between(1, 5).all()
    # equal values share a score, and a larger value never gets a lower one
    assert (scores.groupby(series).nunique() == 1).all()
    ordered = pd.DataFrame({"v": series, "s": scores}).sort_values(["v", "s"])
    assert ordered["s"].is_monotonic_increasing
    # reordering the customers (e.g. other ids) changes no one's score
    shuffled = series.sample(frac=1.0, random_state=0)
    assert rank_scores(shuffled).reindex(series.index).equals(scores)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=5, max_size=200, unique=True))
def test_rank_scores_fill_bins_evenly_without_ties(values):
    counts = rank_scores(pd.Series(values)).value_counts()
    assert len(counts) == 5 and counts.max() - counts.min() <= 1


def test_a_large_tie_shares_the_lowest_score():
    # CDNOW-like: most customers bought once; before, ids split them over F = 1..3
    frequency = pd.Series([1] * 55 + [2] * 20 + [3] * 10 + list(range(4, 19)), index=[f"c{i}" for i in range(100)])
    scores = rank_scores(frequency)
    assert set(scores[frequency == 1]) == {1}
    # 55 customers below the two-order ones: min rank 56 -> ceil(56 * 5 / 100) = 3
    assert set(scores[frequency == 2]) == {3}
    assert scores[frequency == 18].item() == 5


def test_scores_within_range_on_random_data(random_transactions):
    scores = rfm_scores(random_transactions, "2025-01-01")
    for column in ("r_score", "f_score", "m_score"):
        assert scores[column].between(1, 5).all()
        assert set(scores[column]) == {1, 2, 3, 4, 5}
    # most recent buyers hold the top recency score
    assert scores.loc[scores.recency_days.idxmin(), "r_score"] == 5
