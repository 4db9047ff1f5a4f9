"""The constrained oracle: the best allowed price under a known demand, against a brute-force search over
every cent of the feasible interval."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.pricing import guardrails as G
from engine.pricing.optimizer import PriceOptimizer
from engine.pricing.oracle import constrained_oracle_price
from tests.engine.pricing.guardrail_checker import Facts, check_quote, on_ladder


def oracle_price(policy, current, guard_cost, list_price, min_seen, max_seen, true_elasticity, true_cost):
    """The oracle for one product's facts (the guardrails' cost may differ from the true one)."""
    interval = G.feasible_interval(policy, current, guard_cost, list_price, min_seen, max_seen)
    return constrained_oracle_price(interval, true_elasticity, true_cost, policy, current)


def _value(price: float, elasticity: float, cost: float, objective: str) -> float:
    return (price - (cost if objective == "profit" else 0.0)) * price**elasticity


@settings(max_examples=150, deadline=None)
@given(
    current=st.floats(0.05, 60),
    cost_share=st.floats(0.05, 3),
    list_factor=st.floats(0.5, 2),
    elasticity=st.floats(-8, 1),
    max_change=st.floats(0.01, 0.5),
    objective=st.sampled_from(["profit", "revenue"]),
)
def test_oracle_is_the_best_allowed_cent(current, cost_share, list_factor, elasticity, max_change, objective):
    policy = G.PricingPolicy(max_change=max_change, objective=objective)
    current = round(current, 2)
    cost = current * cost_share
    facts = Facts(current, cost, current * list_factor, current * 0.7, current * 1.3)
    interval = G.feasible_interval(policy, current, cost, facts.list_price, facts.min_seen, facts.max_seen)
    price = constrained_oracle_price(interval, elasticity, cost, policy, current)
    assert check_quote(price, G.COST_ABOVE_PRICE if interval.cost_above_ceiling else "optimal", facts, policy) == []
    cents = range(math.ceil(interval.low * 100 - 1e-6), math.floor(interval.high * 100 + 1e-6) + 1)
    allowed = [c / 100 for c in cents if on_ladder(c / 100, policy)] or [c / 100 for c in cents] or [price]
    if interval.low <= current <= interval.high:
        allowed.append(current)
    best = max(_value(p, elasticity, cost, objective) for p in allowed)
    assert _value(price, elasticity, cost, objective) >= best - 1e-9 * abs(best)


def test_oracle_reprices_what_the_optimizer_refuses_to():
    policy = G.PricingPolicy(max_change=0.1)
    # inelastic (e = -0.5): profit rises with the price, so the best allowed price is the top of the step
    assert oracle_price(policy, 4.99, 2.0, 5.99, 3.49, 5.99, true_elasticity=-0.5, true_cost=2.0) == 5.49
    # elastic (e = -3, cost 2): the optimum 3.00 is out of reach; the lowest allowed ladder price wins
    assert oracle_price(policy, 4.99, 2.0, 5.99, 3.49, 5.99, true_elasticity=-3.0, true_cost=2.0) == 4.49
    # a cost above the ceiling: the interval is the ceiling alone
    assert oracle_price(policy, 4.99, 20.0, 5.99, 3.49, 5.99, true_elasticity=-3.0, true_cost=20.0) == 5.99
    # magnitudes far from the usual: finite, on the ladder, instantly
    huge = oracle_price(policy, 1e9, 1e8, 1.2e9, 5e8, 1.2e9, true_elasticity=-2.0, true_cost=1e8)
    assert huge == 900_000_000.49 and on_ladder(huge, policy)
    with pytest.raises(ValueError, match="unit_cost"):
        oracle_price(policy, 4.99, None, 5.99, 3.49, 5.99, true_elasticity=-3.0, true_cost=None)


@settings(max_examples=100, deadline=None)
@given(current=st.floats(0.5, 500), cost_share=st.floats(0.1, 0.9), elasticity=st.floats(-6, -1.05), max_change=st.floats(0.02, 0.4))
def test_optimizer_fed_the_truth_matches_the_oracle_when_it_aims_at_the_optimum(current, cost_share, elasticity, max_change):
    policy = G.PricingPolicy(max_change=max_change)
    current, cost = round(current, 2), current * cost_share
    facts = pd.DataFrame(
        {"category": ["c"], "current_price": [current], "unit_cost": [cost], "list_price": [current * 1.2],
         "min_price": [current * 0.6], "max_price": [current * 1.2], "base_units": [50.0]},
        index=pd.Index(["p1"], name="product_id"),
    )
    table = pd.DataFrame({"elasticity": [elasticity], "se": [0.0], "ci_low": [elasticity], "ci_high": [elasticity]}, index=facts.index)
    quote = PriceOptimizer(policy).fit(table, facts).quote("p1")
    expected = oracle_price(policy, current, cost, current * 1.2, current * 0.6, current * 1.2, elasticity, cost)
    assert _value(quote.price, elasticity, cost, "profit") == pytest.approx(_value(expected, elasticity, cost, "profit"), rel=1e-12)
