"""Category pricing with cross-price effects: the best response against a cent-by-cent scan, the joint
oracle against every combination of ladder prices, and the optimizer's joint step checked by the
independent guardrail checker over adversarial categories."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.pricing import guardrails as G
from engine.pricing import joint as J
from engine.pricing.optimizer import PriceOptimizer
from engine.pricing.oracle import constrained_oracle_price, joint_oracle_prices
from tests.engine.pricing.guardrail_checker import Facts, check_quote, on_ladder

POLICY = G.PricingPolicy(max_change=0.25)


def _ladder_in(interval: G.Interval) -> list[float]:
    """Every ladder price inside the interval, found cent by cent (no engine code)."""
    cents = range(math.ceil(interval.low * 100 - 1e-6), math.floor(interval.high * 100 + 1e-6) + 1)
    return [c / 100 for c in cents if on_ladder(c / 100, POLICY)]


def test_best_response_is_the_best_ladder_price_of_a_cent_by_cent_scan():
    rng = np.random.default_rng(0)
    for _ in range(300):
        current = round(float(rng.uniform(0.5, 40)), 2)
        cost = float(current * rng.uniform(0.1, 1.2))
        interval = G.feasible_interval(POLICY, current, cost, current * rng.uniform(1.0, 1.5), current * 0.6, current * 1.5)
        response = J.Response(
            price_now=current, units_now=float(rng.uniform(0, 50)), elasticity=float(rng.uniform(-6, 0.5)), cost=cost,
            others_profit=float(rng.uniform(-50, 500)), spill=float(rng.uniform(-0.5, 1.5)),
        )
        price, _ = J.best_response(response, interval, POLICY, keep=(current,))
        scanned = _ladder_in(interval) + ([current] if interval.low <= current <= interval.high else [])
        assert interval.low - 1e-9 <= price <= interval.high + 1e-9
        if scanned:
            best = max(response.objective(p) for p in scanned)
            assert response.objective(price) >= best - 1e-9 * max(1.0, abs(best))


def _profit(demand: J.CategoryDemand, prices: list[float]) -> float:
    members = list(range(len(prices)))
    units = demand.units_at(prices, members)
    return sum((prices[k] - demand.cost[k]) * units[k] for k in members)


@pytest.mark.parametrize("cross", [0.0, 0.6, 1.5, -0.4])
def test_joint_oracle_finds_the_best_combination_of_ladder_prices(cross):
    rng = np.random.default_rng(1)
    for _ in range(40):
        n = 3
        current = [round(float(p), 2) for p in rng.uniform(2, 20, n)]
        demand = J.CategoryDemand(
            reference=current, units=list(rng.uniform(5, 50, n)), elasticity=list(rng.uniform(-4, -0.5, n)),
            cost=[float(p * rng.uniform(0.3, 0.8)) for p in current], cross=[cross] * n, category=["c"] * n,
        )
        intervals = [G.feasible_interval(POLICY, p, c, p * 1.3, p * 0.7, p * 1.3) for p, c in zip(current, demand.cost)]
        joint = joint_oracle_prices(intervals, demand, POLICY, current)
        alone = [constrained_oracle_price(i, e, c, POLICY, p) for i, e, c, p in zip(intervals, demand.elasticity, demand.cost, current)]
        options = [sorted(set(_ladder_in(i) + [p])) for i, p in zip(intervals, current)]
        best = max(_profit(demand, list(combo)) for combo in itertools.product(*options))
        assert all(i.low - 1e-9 <= p <= i.high + 1e-9 for i, p in zip(intervals, joint))
        assert _profit(demand, joint) >= _profit(demand, alone) - 1e-9
        assert _profit(demand, joint) == pytest.approx(best, rel=1e-9)
        if cross == 0.0:
            assert joint == alone


def _category_optimizer(policy: G.PricingPolicy, rows: list[dict], cross: float) -> PriceOptimizer:
    facts = pd.DataFrame(rows, index=pd.Index([f"p{j}" for j in range(len(rows))], name="product_id"))
    e = facts.pop("elasticity")
    table = pd.DataFrame({"elasticity": e, "se": 0.05, "ci_low": e - 0.1, "ci_high": e + 0.1})
    relation = "substitutes" if cross > 0 else "complements"
    effects = pd.DataFrame({"cross_elasticity": [cross], "relation": [relation]}, index=pd.Index(["c"], name="category"))
    return PriceOptimizer(policy).fit(table, facts, cross_price=effects)


prices = st.floats(-2, 9).map(lambda x: round(10**x, 2) or 0.01)  # 0.01 .. 1e9, log-uniform
ratios = st.floats(-1.5, 1.5).map(lambda x: 10**x)


@settings(max_examples=80, deadline=None)
@given(
    products=st.lists(
        st.tuples(prices, st.one_of(st.none(), ratios), st.one_of(st.just(1.0), ratios), st.floats(-8, -1.01), st.sampled_from([0.0, 1.0, 1e6])),
        min_size=2, max_size=4,
    ),
    asked=st.lists(st.one_of(st.none(), prices), min_size=4, max_size=4),
    cross=st.sampled_from([-3.0, -0.4, 0.5, 2.0, 8.0]),
    max_change=st.floats(0.01, 0.9),
    min_margin=st.floats(0, 0.9),
    objective=st.sampled_from(["profit", "revenue"]),
)
def test_joint_step_quotes_never_break_a_guardrail(products, asked, cross, max_change, min_margin, objective):
    """A category priced jointly (quote_all) over adversarial facts and current prices, every quote
    checked by the independent checker; one-price products (seen range = the current price) included."""
    policy = G.PricingPolicy(max_change=max_change, min_margin=min_margin, objective=objective)
    rows = [
        dict(category="c", current_price=p, unit_cost=math.nan if c is None else c * p, list_price=p * f, min_price=p,
             max_price=p * f, base_units=units, elasticity=e)
        for p, c, f, e, units in products
    ]
    optimizer = _category_optimizer(policy, rows, cross)
    current = pd.Series({f"p{j}": a for j, a in enumerate(asked[: len(rows)]) if a is not None}, dtype=float)
    quotes = optimizer.quote_all(current_prices=current)
    for j, row in enumerate(rows):
        product = f"p{j}"
        quote = quotes.loc[product]
        now = float(current.get(product, row["current_price"]))
        cost = None if math.isnan(row["unit_cost"]) else row["unit_cost"]
        facts = Facts(now, cost, row["list_price"], row["min_price"], row["max_price"])
        assert check_quote(float(quote["price"]), str(quote["reason"]), facts, policy) == []


def test_substitutes_are_priced_higher_together_and_say_so():
    rows = [dict(category="c", current_price=9.99, unit_cost=4.0, list_price=14.99, min_price=6.0, max_price=14.99,
                 base_units=50.0, elasticity=-2.5) for _ in range(4)]
    policy = G.PricingPolicy(max_change=0.3)
    alone = _category_optimizer(policy, rows, 0.01).quote_all()  # "substitutes" too weak to matter
    together = _category_optimizer(policy, rows, 1.2).quote_all()
    # alone: cost 4, e -2.5: optimum 6.67, 30% off 9.99 -> 6.99; with substitutes at 1.2 the category's
    # own elasticity is about -1.3, whose optimum is far above the ceiling
    assert (alone["price"] < 9.99).all() and (together["price"] > 9.99).all()
    assert all("cross_price:substitutes" in flags for flags in together["flags"])
    assert set(together["reason"]) <= {G.MAX_CHANGE, G.CEILING, G.OBSERVED_RANGE, G.OPTIMAL}


def test_cross_price_effects_survive_save_and_load(tmp_path):
    rows = [dict(category="c", current_price=9.99, unit_cost=4.0, list_price=14.99, min_price=6.0, max_price=14.99,
                 base_units=50.0, elasticity=-2.5) for _ in range(3)]
    optimizer = _category_optimizer(G.PricingPolicy(max_change=0.3), rows, 1.2)
    loaded = PriceOptimizer.load(optimizer.save(tmp_path / "model"))
    assert loaded.cross_price_.to_dict() == {"c": 1.2}
    pd.testing.assert_frame_equal(loaded.quote_all(), optimizer.quote_all())


def test_cross_effect_acted_on_is_the_interval_end_nearest_zero():
    effects = pd.DataFrame(
        {"cross_elasticity": [0.9, -0.5, 0.3, 0.8], "se": [0.2, 0.2, 0.2, 0.1], "relation": ["substitutes", "complements", "substitutes", "independent"]},
        index=pd.Index(["a", "b", "c", "d"], name="category"),
    )
    kept = J.significant_cross(effects, decision_z=1.96)
    # a: 0.9 - 1.96 x 0.2; b: -0.5 + 1.96 x 0.2; c: its interval holds zero; d: not significant
    assert kept.round(3).to_dict() == {"a": 0.508, "b": -0.108}
    assert J.significant_cross(effects).to_dict() == {"a": 0.9, "b": -0.5, "c": 0.3}
