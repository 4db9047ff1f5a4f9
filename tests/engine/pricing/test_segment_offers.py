"""Segment offers: found where a segment truly responds more, not where it only buys other products,
capped by policy, and refused for protected attributes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.schema import validate_transactions
from engine.errors import EngineError
from engine.pricing.guardrails import PricingPolicy
from engine.pricing.segment_offers import SegmentOffers, poisson_elasticity


def _shop(elasticity_a: float, elasticity_b: float, seed: int = 0, weeks: int = 40, products: int = 12):
    """Transactions of two segments of 60 customers facing the same prices."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    rows, order = [], 0
    for week in range(weeks):
        for product in range(products):
            price = 4.0 * np.exp(rng.normal(0, 0.15))
            for segment, elasticity, base in (("A", elasticity_a, 30.0), ("B", elasticity_b, 20.0 + product)):
                units = rng.poisson(base * (price / 4.0) ** elasticity)
                customers = rng.integers(0, 60, units)
                for customer in customers:
                    order += 1
                    rows.append((f"{segment}{customer}", f"p{product}", f"o{order}", start + pd.Timedelta(days=7 * week + 1), 1, round(price, 2)))
    raw = pd.DataFrame(rows, columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price"])
    transactions = validate_transactions(raw)[0]
    segments = pd.Series({f"{s}{i}": s for s in "AB" for i in range(60)})
    products = pd.DataFrame({"product_id": [f"p{i}" for i in range(products)], "category": ["c1"] * 6 + ["c2"] * (products - 6)})
    return transactions, segments, products


def test_a_more_elastic_segment_gets_a_capped_discount():
    transactions, segments, products = _shop(-1.5, -3.0)
    offers = SegmentOffers(PricingPolicy(max_segment_discount=0.15)).fit(transactions, segments, "rfm_segment", products).table()
    assert offers.loc["B", "difference"] < 0 < offers.loc["A", "difference"]
    assert offers.loc["B", "discount"] > 0.05 and offers.loc["B", "discount"] <= 0.15
    assert offers.loc["A", "discount"] == 0 and offers.loc["A", "reason"] == "no_stronger_response"
    tight = SegmentOffers(PricingPolicy(max_segment_discount=0.02)).fit(transactions, segments, "rfm_segment", products).table()
    assert tight.loc["B", "discount"] == 0.02 and tight.loc["B", "reason"] == "capped"


def test_same_response_different_mix_gets_no_offer():
    # B buys relatively more of the later products, but responds to price like A
    transactions, segments, products = _shop(-2.0, -2.0, seed=1)
    offers = SegmentOffers().fit(transactions, segments, "loyalty_tier", products).table()
    assert (offers["discount"] == 0).all()
    assert offers["difference"].abs().max() < 0.2


def test_protected_attributes_and_small_segments_are_refused():
    transactions, segments, products = _shop(-2.0, -3.0, weeks=10, products=6)
    for attribute in ("age_band", "Gender", "marital_status"):
        with pytest.raises(EngineError, match="protected"):
            SegmentOffers().fit(transactions, segments, attribute, products)
    offers = SegmentOffers(min_customers=100).fit(transactions, segments, "tier", products).table()
    assert (offers["reason"] == "too_little_data").all()


def test_poisson_elasticity_recovers_a_known_slope():
    rng = np.random.default_rng(3)
    product, week = np.repeat(np.arange(20), 30), np.tile(np.arange(30), 20)
    log_price = rng.normal(0, 0.2, 600)
    units = rng.poisson(np.exp(1.5 + 0.1 * product + 0.05 * week - 2.5 * log_price))
    estimate, se = poisson_elasticity(units.astype(float), log_price, product, week)
    assert abs(estimate + 2.5) < 3 * se and se < 0.15
