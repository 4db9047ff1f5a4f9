"""The optimizer: guardrail properties over random products and policies, fallbacks with their reason
codes, stock-aware moves, segment offers, unknown products, save/load."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import EngineError, ModelFormatError, NotFittedError
from engine.io import write_manifest
from engine.pricing import guardrails as G
from engine.pricing.facts import product_facts
from engine.pricing.optimizer import PriceOptimizer
from tests.engine.pricing.guardrail_checker import Facts, check_quote, on_ladder


def _optimizer(policy=None, offers=None, **product) -> PriceOptimizer:
    values = dict(
        category="c", current_price=4.99, unit_cost=2.0, list_price=5.99, min_price=3.49, max_price=5.99,
        base_units=100.0, elasticity=-2.5, ci_low=-3.0, ci_high=-2.0,
    )
    values.update(product)
    facts = pd.DataFrame({k: [values[k]] for k in ("category", "current_price", "unit_cost", "list_price", "min_price", "max_price", "base_units")}, index=pd.Index(["p1"], name="product_id"))
    e = values["elasticity"]
    table = pd.DataFrame({"elasticity": [e], "se": [(values["ci_high"] - values["ci_low"]) / 3.92], "ci_low": [values["ci_low"]], "ci_high": [values["ci_high"]]}, index=facts.index)
    return PriceOptimizer(policy).fit(table, facts, offers, model_version="test-v1")


prices = st.floats(-2, 9).map(lambda x: round(10**x, 2) or 0.01)  # 0.01 .. 1e9, log-uniform
ratios = st.floats(-1.5, 1.5).map(lambda x: 10**x)  # 0.03x .. 30x


@settings(max_examples=400, deadline=None)
@given(
    current=prices,
    asked=st.one_of(st.none(), prices),
    cost=st.one_of(st.none(), st.just(0.0), ratios),  # relative to the current price: often above it
    list_factor=st.one_of(st.just(1.0), ratios),
    seen=st.one_of(st.just((1.0, 1.0)), st.tuples(st.floats(0.3, 1.0), st.floats(1.0, 3.0))),  # one-price products
    elasticity=st.one_of(st.sampled_from([-50.0, -1.0, -1.0001, 0.0, 1e-9, 0.7]), st.floats(-50, 3)),
    half_width=st.floats(0.0, 3),
    max_change=st.floats(0.01, 0.9),
    min_margin=st.floats(0, 0.9),
    allow_outside=st.booleans(),
    ceiling_multiple=st.floats(0.5, 3),
    min_abs=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    risk=st.sampled_from([0.0, 1.0, 25.0, 1e4]),
    objective=st.sampled_from(["profit", "revenue"]),
    stock=st.one_of(st.none(), st.sampled_from([0.0, -5.0, 1e12]), st.floats(-100, 1e6)),
    base_units=st.sampled_from([0.0, 1e-3, 100.0, 1e9]),
)
def test_quotes_never_break_a_guardrail(
    current, asked, cost, list_factor, seen, elasticity, half_width, max_change, min_margin, allow_outside,
    ceiling_multiple, min_abs, risk, objective, stock, base_units,
):
    """Adversarial products and policies, checked by the independent checker (not the optimizer's code)."""
    policy = G.PricingPolicy(
        max_change=max_change, min_margin=min_margin, allow_outside_range=allow_outside, ceiling_multiple=ceiling_multiple,
        min_abs_elasticity=min_abs, risk_aversion=risk, objective=objective,
    )
    unit_cost = math.nan if cost is None else cost * current
    facts = dict(
        current_price=current, unit_cost=unit_cost, list_price=current * list_factor, min_price=current * seen[0],
        max_price=current * seen[1], base_units=base_units,
    )
    offers = pd.DataFrame({"discount": [0.5]}, index=pd.Index(["S"], name="segment"))
    optimizer = _optimizer(policy, offers, **facts, elasticity=elasticity, ci_low=elasticity - half_width, ci_high=elasticity + half_width)
    quote = optimizer.quote("p1", current_price=asked, stock=stock, segment="S")
    known = Facts(asked or current, None if cost is None else unit_cost, current * list_factor, current * seen[0], current * seen[1])
    assert check_quote(quote.price, quote.reason, known, policy) == []
    assert isinstance(quote.price, float) and math.isfinite(quote.price)
    interval = optimizer.interval("p1", asked)
    slack = G.price_tolerance(quote.price)  # a whole cent a hair outside an interval of uneven ends
    assert interval.low - slack <= quote.price <= interval.high + slack
    assert G.violations(quote.price, optimizer.guardrails("p1", asked), policy, quote.price == known.current_price) == []
    if quote.segment_price is not None:  # an offer: below the price, on the ladder, inside the interval
        assert interval.low - slack <= quote.segment_price < quote.price and on_ladder(quote.segment_price, policy)
    for amount in (quote.expected_units, quote.expected_revenue, quote.expected_margin, quote.current_units):
        assert amount is None or math.isfinite(amount)


def test_cost_above_list_price_is_quoted_at_the_ceiling():
    # the cases: the quote was 7x-1,116x the list price with reason "optimal", inf with no stock
    optimizer = _optimizer(unit_cost=40.0, current_price=4.99, list_price=5.99, elasticity=-3.0, ci_low=-3.5, ci_high=-2.5)
    for stock in (None, 0.0, -3.0, 50.0):
        quote = optimizer.quote("p1", stock=stock)
        assert quote.price == 5.99 and quote.reason == G.COST_ABOVE_PRICE, stock
        assert f"relaxed:{G.COST_FLOOR}" in quote.flags


def test_a_price_held_at_the_cost_floor_is_whole_cents():
    # found by an independent checker: current 0.01 far below a floor of 2.225 / 0.95 = 2.3421...
    optimizer = _optimizer(unit_cost=2.225, current_price=0.01, list_price=5.99, min_price=0.01, elasticity=-3.0, ci_low=-3.5, ci_high=-2.5)
    quote = optimizer.quote("p1", current_price=0.01)
    assert quote.price == 2.35 and quote.price >= 2.225 / 0.95
    assert check_quote(quote.price, quote.reason, Facts(0.01, 2.225, 5.99, 0.01, 5.99), optimizer.policy_) == []


def test_a_floor_and_ceiling_with_no_whole_cent_between_them_is_cost_above_price():
    # floor 5.691 / 0.95 = 5.9905..., ceiling 5.999 -> 5.99: no whole cent covers the floor
    optimizer = _optimizer(unit_cost=5.691, current_price=5.49, list_price=5.999, elasticity=-3.0, ci_low=-3.5, ci_high=-2.5)
    quote = optimizer.quote("p1")
    assert quote.price == 5.99 and quote.reason == G.COST_ABOVE_PRICE


def test_no_stock_raises_the_price_only_to_the_bounds():
    quote = _optimizer(elasticity=-2.0, ci_low=-2.5, ci_high=-1.5, unit_cost=2.4).quote("p1", stock=0)
    assert quote.price == 5.49 and quote.reason == G.MAX_CHANGE and G.STOCK_SCARCE in quote.flags


@pytest.mark.parametrize("magnitude", [0.01, 1.0, 1e8, 1e9])
def test_any_magnitude_is_quoted_on_the_ladder(magnitude):
    optimizer = _optimizer(
        current_price=magnitude, list_price=magnitude * 1.2, min_price=magnitude * 0.5, max_price=magnitude * 1.2,
        unit_cost=magnitude * 0.1, elasticity=-3.0, ci_low=-3.5, ci_high=-2.5,
    )
    quote = optimizer.quote("p1")
    assert check_quote(quote.price, quote.reason, Facts(magnitude, magnitude * 0.1, magnitude * 1.2, magnitude * 0.5, magnitude * 1.2), optimizer.policy_) == []
    if magnitude >= 1.0:
        assert quote.reason == G.MAX_CHANGE and quote.price < magnitude and G.on_ladder(quote.price, optimizer.policy_)


def test_facts_with_a_bad_price_are_refused_naming_the_product():
    with pytest.raises(EngineError, match="list_price .*'p1'"):
        _optimizer(list_price=math.inf)
    with pytest.raises(EngineError, match="current_price"):
        _optimizer(current_price=0.0)
    with pytest.raises(EngineError, match="at least 0.01"):  # 5e-324 made the log of a price ratio fail
        _optimizer().quote("p1", current_price=5e-324)


def test_fallback_reasons_keep_the_current_price():
    # an estimate that does not fall with the price is no demand curve to act on
    rising = _optimizer(elasticity=0.3, ci_low=-0.2, ci_high=0.8).quote("p1")
    assert rising.reason == G.INELASTIC and rising.price == 4.99
    # a merchant may keep the prices of inelastic products (|e| <= min_abs_elasticity)
    kept = _optimizer(G.PricingPolicy(min_abs_elasticity=1.0), elasticity=-0.7, ci_low=-0.9, ci_high=-0.5).quote("p1")
    assert kept.reason == G.INELASTIC and kept.price == 4.99
    no_cost = _optimizer(unit_cost=float("nan")).quote("p1")
    assert no_cost.reason == G.NO_COST and no_cost.price == 4.99 and no_cost.expected_margin is None
    # a fallback still respects the cost floor: a price below cost is raised to it
    below_cost = _optimizer(unit_cost=5.5, elasticity=0.3, ci_low=-0.2, ci_high=0.8).quote("p1")
    assert below_cost.price >= 5.5 / 0.95 and below_cost.reason == G.COST_FLOOR and G.INELASTIC in below_cost.flags


def test_inelastic_and_not_significant_estimates_are_priced_with_their_uncertainty():
    # e = -0.7 +- 0.1, cost 2: profit rises with the price, so it goes up as far as one step allows
    inelastic = _optimizer(elasticity=-0.7, ci_low=-0.9, ci_high=-0.5).quote("p1")
    assert inelastic.price == 5.49 and inelastic.reason == G.MAX_CHANGE and {G.OPTIMAL, G.INELASTIC} <= set(inelastic.flags)
    # e = -1.5 +- 1.95 (se 1): the estimate alone would raise to 5.49; the uncertainty that move adds keeps 4.99
    alone = G.PricingPolicy(risk_aversion=1.0)
    assert _optimizer(alone, elasticity=-1.5, ci_low=-3.45, ci_high=0.45).quote("p1").price == 5.49
    unsure = _optimizer(elasticity=-1.5, ci_low=-3.45, ci_high=0.45).quote("p1")
    assert unsure.price == 4.99 and unsure.reason == G.OPTIMAL and {G.NOT_SIGNIFICANT, G.UNCERTAIN} <= set(unsure.flags)


def test_profit_optimum_and_explanation():
    # e = -3, cost 2: optimum 3.00; from 4.99 the step limit of 10% binds first
    quote = _optimizer(elasticity=-3.0, ci_low=-3.5, ci_high=-2.5).quote("p1")
    assert quote.price == 4.49 and quote.reason == G.MAX_CHANGE and G.OPTIMAL in quote.flags
    assert quote.expected_units == pytest.approx(100 * (4.49 / 4.99) ** -3.0)
    assert quote.expected_margin == pytest.approx((4.49 - 2.0) * quote.expected_units)
    assert quote.current_margin == pytest.approx((4.99 - 2.0) * 100)
    assert quote.expected_margin > quote.current_margin
    assert quote.model_version == "test-v1" and quote.elasticity_interval == (-3.5, -2.5)
    # near the optimum nothing binds (deciding on the estimate alone)
    point = G.PricingPolicy(risk_aversion=1.0)
    near = _optimizer(point, elasticity=-3.0, ci_low=-3.5, ci_high=-2.5, current_price=3.09, min_price=2.5).quote("p1")
    assert near.reason == G.OPTIMAL and near.price == pytest.approx(2.99)


@pytest.mark.parametrize("se", [0.0, 0.255, 0.5, 1.0])
@pytest.mark.parametrize("risk", [0.0, 1.0, 25.0])
def test_a_move_is_held_back_in_proportion_to_its_uncertainty(se, risk):
    # cost 2, e = -3 from 3.99 with steps up to 50%: the ladder prices allowed are 2.99, 3.49 and 3.99; the
    # quote is the one whose certainty-equivalent profit (written here from the docstring of
    # engine.pricing.decision) is highest: log(p - 2) - 3 L - (risk - 1) se^2 L^2 / 2, L = log(p / 3.99)
    policy = G.PricingPolicy(max_change=0.5, risk_aversion=risk)
    quote = _optimizer(policy, elasticity=-3.0, ci_low=-3 - 1.96 * se, ci_high=-3 + 1.96 * se, current_price=3.99, min_price=2.5).quote("p1")

    def certainty_equivalent(p: float) -> float:
        move = math.log(p / 3.99)
        return math.log(p - 2) - 3 * move - (risk - 1) * se**2 * move**2 / 2

    assert quote.price == max([2.99, 3.49, 3.99], key=certainty_equivalent)
    expected = {(0.0, 25.0): 2.99, (0.255, 25.0): 2.99, (0.5, 25.0): 3.49, (1.0, 25.0): 3.99}  # more doubt, smaller move
    assert quote.price == expected.get((se, risk), 2.99)


def test_stock_moves_the_price():
    optimizer = _optimizer(elasticity=-2.0, ci_low=-2.5, ci_high=-1.5, unit_cost=2.4)  # optimum 4.80
    plain = optimizer.quote("p1")
    scarce = optimizer.quote("p1", stock=20)  # 100 units a week: 1.4 days of cover
    overstock = optimizer.quote("p1", stock=10_000)
    assert scarce.price > plain.price and G.STOCK_SCARCE in (scarce.reason, *scarce.flags)
    assert overstock.price < plain.price and G.STOCK_OVERSTOCK in (overstock.reason, *overstock.flags)
    normal = optimizer.quote("p1", stock=300)  # three weeks of cover: no adjustment
    assert normal.price == plain.price


def test_unknown_product_bad_input_and_unfitted():
    optimizer = _optimizer()
    unknown = optimizer.quote("nope", current_price=3.0)
    assert unknown.reason == G.UNKNOWN_PRODUCT and unknown.price == 3.0 and unknown.model_version == "test-v1"
    assert optimizer.quote("nope").price is None
    with pytest.raises(EngineError, match="current_price"):
        optimizer.quote("p1", current_price=-1)
    with pytest.raises(EngineError, match="stock"):
        optimizer.quote("p1", stock=float("nan"))
    with pytest.raises(EngineError, match="stock"):
        optimizer.quote("p1", stock=float("inf"))
    with pytest.raises(EngineError, match="current_price must be a number, got str"):  # was a bare TypeError
        optimizer.quote("p1", current_price="abc")  # type: ignore[arg-type]
    with pytest.raises(EngineError, match="stock must be a number, got bool"):
        optimizer.quote("p1", stock=True)  # type: ignore[arg-type]
    assert optimizer.quote("p1", current_price=np.float32(3.0), stock=np.int64(5)).price is not None
    with pytest.raises(NotFittedError):
        PriceOptimizer().quote("p1")


def test_segment_offers_are_capped_and_above_the_floor():
    offers = pd.DataFrame({"discount": [0.5, 0.0]}, index=pd.Index(["Champions", "Loyal"], name="segment"))
    kept = G.PricingPolicy(max_segment_discount=0.15, min_abs_elasticity=1.0)  # an inelastic product keeps 4.99
    optimizer = _optimizer(kept, offers, elasticity=-0.5, ci_low=-0.8, ci_high=-0.2)
    quote = optimizer.quote("p1", segment="Champions")
    assert quote.price == 4.99 and quote.segment_price == 4.49
    assert 0 < quote.segment_discount <= 0.15 and "segment_offer" in quote.flags
    assert optimizer.quote("p1", segment="Loyal").segment_price is None
    assert "unknown_segment" in optimizer.quote("p1", segment="Gold").flags
    tight = _optimizer(kept, offers, unit_cost=4.7, elasticity=-0.5, ci_low=-0.8, ci_high=-0.2)
    assert tight.quote("p1", segment="Champions").segment_price is None  # the offer would go below cost


def test_quote_all_is_one_flat_row_per_product():
    optimizer = _optimizer(G.PricingPolicy(max_change=0.1))
    table = optimizer.quote_all()
    quote = optimizer.quote("p1")
    row = table.loc["p1"]
    assert (row["ci_low"], row["ci_high"]) == quote.elasticity_interval
    assert row["flags"] == ";".join(quote.flags) and row["flags"] != ""  # max_change binds: "optimal" is a flag
    assert row["price"] == quote.price and row["reason"] == quote.reason
    assert "elasticity_interval" not in table


def test_save_load_round_trip(tmp_path):
    offers = pd.DataFrame({"discount": [0.1]}, index=pd.Index(["Champions"], name="segment"))
    optimizer = _optimizer(G.PricingPolicy(max_change=0.2), offers)
    optimizer.save(tmp_path / "model", data_fingerprint="abc")
    loaded = PriceOptimizer.load(tmp_path / "model")
    assert loaded.quote("p1", segment="Champions") == optimizer.quote("p1", segment="Champions")
    assert loaded.policy_.max_change == 0.2
    assert PriceOptimizer.load(tmp_path / "model", model_version="7").quote("p1").model_version == "7"
    write_manifest(tmp_path / "other", "recommender", 1, {})
    with pytest.raises(ModelFormatError):
        PriceOptimizer.load(tmp_path / "other")


def test_product_facts_from_a_panel(unconfounded_panels):
    train, _ = unconfounded_panels
    elasticity = pd.Series(-2.0, index=pd.Index(sorted(train["product_id"].unique())))
    facts = product_facts(train, elasticity)
    last = train.sort_values("week_start").groupby("product_id").last()
    np.testing.assert_allclose(facts["current_price"], last.loc[facts.index, "regular_price"].round(2))
    assert (facts["min_price"] <= facts["current_price"] + 1e-9).all()
    assert (facts["list_price"] >= facts["current_price"] - 1e-9).all()
    assert (facts["base_units"] >= 0).all() and facts["unit_cost"].notna().all()


def test_a_product_without_its_own_estimate_keeps_its_price():
    # its category's elasticity, however sure, says nothing about this product (e.g. a price that never moved)
    optimizer = _optimizer(elasticity=-3.0, ci_low=-3.5, ci_high=-2.5)
    table = optimizer.elasticities_.drop(columns="own_estimate").assign(own_estimate=False)
    borrowed = PriceOptimizer().fit(table, optimizer.facts_, model_version="test-v1")
    assert optimizer.quote("p1").reason != G.NOT_SIGNIFICANT
    quote = borrowed.quote("p1")
    assert quote.reason == G.NOT_SIGNIFICANT and quote.price == quote.current_price
