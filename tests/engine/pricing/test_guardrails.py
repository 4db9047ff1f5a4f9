"""Guardrails: the ladder, priority of the rules, and the independent checker."""

from __future__ import annotations

import math

import pytest

from engine.pricing import guardrails as G


def test_ladder_endings_and_fine_steps():
    policy = G.PricingPolicy()
    assert (G.ladder_below(6.0, policy), G.ladder_above(4.0, policy)) == (5.99, 4.49)
    assert (G.ladder_below(1.45, policy), G.ladder_above(1.0, policy)) == (1.39, 1.09)
    assert (G.ladder_below(2.3, policy), G.ladder_above(1.995, policy)) == (1.99, 2.49)  # fine below 2.00
    assert G.ladder_below(0.05, policy) is None and G.ladder_above(0.0, policy) == 0.09
    assert G.on_ladder(5.99, policy) and G.on_ladder(1.29, policy) and not G.on_ladder(5.75, policy)
    assert G.ladder_candidates(G.Interval(5.0, 5.4, None, None, (), None, 9.0), 5.2, policy) == []
    assert G.ladder_candidates(G.Interval(4.0, 6.0, None, None, (), None, 9.0), 5.2, policy) == [4.99, 5.49]


def test_ladder_is_arithmetic_at_any_magnitude():
    policy = G.PricingPolicy()
    assert G.ladder_below(1e9, policy) == 999_999_999.99 and G.ladder_above(1e9, policy) == 1_000_000_000.49
    assert G.on_ladder(123_456_789.49, policy) and not G.on_ladder(123_456_789.5, policy)
    custom = G.PricingPolicy(endings=(0.0, 0.95), fine_endings_below=0.0)
    assert G.ladder_above(0.001, custom) == 0.95 and G.ladder_below(1.5, custom) == 1.0


def test_policy_rejects_inconsistent_settings():
    with pytest.raises(ValueError, match="scarce_cover_days"):
        G.PricingPolicy(scarce_cover_days=30, target_cover_days=28)
    with pytest.raises(ValueError, match="endings"):
        G.PricingPolicy(endings=(1.5,))
    with pytest.raises(ValueError, match="max_chang"):
        G.PricingPolicy(max_chang=0.2)


def test_cost_floor_holds_the_step_limit_at_the_floor():
    policy = G.PricingPolicy(min_margin=0.0, max_change=0.1)
    rules = G.rules(policy, current_price=5.0, unit_cost=7.0, list_price=10.0, min_seen=4.0, max_seen=8.0)
    bounds = G.price_bounds(rules)
    # the step limit wants at most 5.50: it is held at the floor, not dropped (the price may not go to 8)
    assert (bounds.low, bounds.high) == (7.0, 7.0) and bounds.low_rule == G.COST_FLOOR
    assert bounds.relaxed == (G.MAX_CHANGE,)
    assert G.violations(7.0, rules, policy, kept_current=False) == []
    assert G.violations(6.99, rules, policy, kept_current=False) == [G.COST_FLOOR, G.MAX_CHANGE]
    assert G.violations(7.49, rules, policy, kept_current=False) == [G.MAX_CHANGE]


def test_cost_above_the_ceiling_is_held_at_the_ceiling():
    policy = G.PricingPolicy(min_margin=0.05, max_change=0.1)
    interval = G.feasible_interval(policy, 5.0, 20.0, 5.99, 4.0, 6.0)
    assert (interval.low, interval.high) == (5.99, 5.99) and interval.cost_above_ceiling
    assert G.COST_FLOOR in interval.relaxed and G.MAX_CHANGE in interval.relaxed
    # a current price far above a low list price comes down to the ceiling, never stays above it
    above = G.feasible_interval(policy, 1e9, None, 5.99, 5.99, 5.99)
    assert above.high == 5.99 and not above.cost_above_ceiling


def test_checker_names_each_broken_rule():
    policy = G.PricingPolicy(min_margin=0.1, max_change=0.1)
    rules = G.rules(policy, current_price=5.0, unit_cost=3.0, list_price=5.49, min_seen=4.5, max_seen=5.49)
    assert G.violations(4.99, rules, policy, kept_current=False) == []
    assert G.violations(5.99, rules, policy, kept_current=False) == [G.CEILING, G.MAX_CHANGE, G.OBSERVED_RANGE]
    assert G.violations(5.25, rules, policy, kept_current=False) == ["ending"]
    assert G.violations(5.0, rules, policy, kept_current=True) == []
    assert G.violations(math.inf, rules, policy, kept_current=False) == ["finite"]
    assert G.violations(None, rules, policy, kept_current=False) == ["finite"]
    free = G.rules(G.PricingPolicy(allow_outside_range=True), 5.0, None, 100.0, 4.0, 6.0)
    assert [rule.name for rule in free] == [G.CEILING, G.MIN_CENT, G.MAX_CHANGE]  # no cost: no floor; no range rule
    assert G.price_bounds(free).high == pytest.approx(5.5)
    with pytest.raises(ValueError, match="ceiling"):
        G.price_bounds(G.rules(policy, 5.0, None, math.inf, 4.0, 6.0))
