"""Guardrails: the ladder, priority of the rules, and the independent checker."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.pricing import guardrails as G


def test_ladder_endings_and_fine_steps():
    policy = G.PricingPolicy()
    np.testing.assert_allclose(G.ladder(4.0, 6.0, policy), [4.49, 4.99, 5.49, 5.99])
    np.testing.assert_allclose(G.ladder(1.0, 1.45, policy), [1.09, 1.19, 1.29, 1.39])
    assert G.on_ladder(5.99, policy) and G.on_ladder(1.29, policy) and not G.on_ladder(5.75, policy)
    assert G.ladder(5.0, 5.4, policy).size == 0


def test_policy_rejects_inconsistent_settings():
    with pytest.raises(ValueError, match="scarce_cover_days"):
        G.PricingPolicy(scarce_cover_days=30, target_cover_days=28)
    with pytest.raises(ValueError, match="endings"):
        G.PricingPolicy(endings=(1.5,))
    with pytest.raises(ValueError, match="max_chang"):
        G.PricingPolicy(max_chang=0.2)


def test_cost_floor_wins_over_the_step_limit():
    policy = G.PricingPolicy(min_margin=0.0, max_change=0.1)
    rules = G.rules(policy, current_price=5.0, unit_cost=7.0, list_price=10.0, min_seen=4.0, max_seen=8.0)
    bounds = G.price_bounds(rules)
    assert bounds.low == pytest.approx(7.0) and bounds.low_rule == G.COST_FLOOR
    assert G.MAX_CHANGE in bounds.relaxed
    # 7.49 breaks the step limit, which could not hold together with the floor: not a violation
    assert G.violations(7.49, rules, policy, kept_current=False) == []
    assert G.violations(6.99, rules, policy, kept_current=False) == [G.COST_FLOOR]


def test_checker_names_each_broken_rule():
    policy = G.PricingPolicy(min_margin=0.1, max_change=0.1)
    rules = G.rules(policy, current_price=5.0, unit_cost=3.0, list_price=5.49, min_seen=4.5, max_seen=5.49)
    assert G.violations(4.99, rules, policy, kept_current=False) == []
    assert G.violations(5.99, rules, policy, kept_current=False) == [G.CEILING, G.MAX_CHANGE, G.OBSERVED_RANGE]
    assert G.violations(5.25, rules, policy, kept_current=False) == ["ending"]
    assert G.violations(5.0, rules, policy, kept_current=True) == []
    free = G.rules(G.PricingPolicy(allow_outside_range=True), 5.0, None, math.inf, 4.0, 6.0)
    assert [rule.name for rule in free] == [G.CEILING, G.MAX_CHANGE]  # no cost: no floor; no range rule
    assert G.price_bounds(free).high == pytest.approx(5.5)
