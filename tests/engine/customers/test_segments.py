"""Segment rules: coverage, first match wins, config errors, profile arithmetic."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from engine.customers.rfm import rfm_scores
from engine.customers.segments import (
    DEFAULT_SEGMENT_RULES,
    SegmentRule,
    SegmentRules,
    assign_segments,
    segment_profile,
)


def _scores(*cells):
    return pd.DataFrame(cells, columns=["r_score", "f_score", "m_score"], index=[f"c{i}" for i in range(len(cells))])


def test_default_map_names_the_classic_cells():
    segments = assign_segments(_scores((5, 5, 1), (5, 1, 5), (1, 5, 5), (1, 1, 1), (3, 3, 3), (4, 1, 2), (2, 3, 4)))
    assert segments.tolist() == [
        "Champions", "New", "Can't Lose", "Hibernating", "Need Attention", "Promising", "At Risk",
    ]


def test_every_customer_gets_exactly_one_segment(random_transactions):
    scores = rfm_scores(random_transactions, "2025-01-01")
    segments = assign_segments(scores)
    assert segments.index.equals(scores.index)
    assert segments.notna().all()
    assert set(segments) <= set(DEFAULT_SEGMENT_RULES.names)


def test_first_matching_rule_wins_and_m_ranges_apply():
    rules = SegmentRules(
        rules=[SegmentRule(name="Big spenders", m=(5, 5)), SegmentRule(name="Everyone else")]
    )
    assert assign_segments(_scores((1, 1, 5), (5, 5, 4)), rules).tolist() == ["Big spenders", "Everyone else"]


def test_rules_that_leave_cells_uncovered_are_rejected():
    with pytest.raises(ValidationError, match="match no rule"):
        SegmentRules(rules=[SegmentRule(name="Recent", r=(4, 5))])


def test_bad_ranges_and_unknown_keys_are_rejected():
    with pytest.raises(ValidationError, match="low <= high"):
        SegmentRule(name="x", r=(4, 2))
    with pytest.raises(ValidationError, match="extra"):
        SegmentRule(name="x", recency=(1, 2))


def test_profile_shares_add_up(random_transactions):
    scores = rfm_scores(random_transactions, "2025-01-01")
    profile = segment_profile(scores, assign_segments(scores))
    assert profile["customers"].sum() == len(scores)
    assert profile["share_customers"].sum() == pytest.approx(1)
    assert profile["share_revenue"].sum() == pytest.approx(1)
    assert profile["revenue"].is_monotonic_decreasing
    first = profile.index[0]
    members = scores[assign_segments(scores) == first]
    assert profile.loc[first, "avg_monetary"] == pytest.approx(members["monetary"].mean())
