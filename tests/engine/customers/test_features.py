"""As-of features: hand-computed values, no look-ahead, outcomes of the following window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.customers.btyd_data import in_units
from engine.customers.features import FEATURES, FeatureSpec, customer_features, feature_matrix, window_outcomes
from engine.data.schema import validate_transactions
from engine.errors import EngineError

PRODUCTS = pd.DataFrame({"product_id": ["p1", "p2", "p3", "p4"], "category": ["x", "x", "y", "y"]})


@pytest.fixture
def with_discounts(tiny_transactions) -> pd.DataFrame:
    """The tiny shop plus customer d: a $10 line with $2 off and a full-price $10 line."""
    extra = pd.DataFrame(
        {"customer_id": ["d", "d"], "product_id": ["p1", "p1"], "order_id": ["o30", "o31"],
         "timestamp": ["2024-02-01", "2024-03-01"], "quantity": [1, 1], "unit_price": [10.0, 10.0], "discount": [2.0, 0.0]}
    )
    clean, _ = validate_transactions(pd.concat([tiny_transactions.drop(columns="revenue"), extra], ignore_index=True))
    return clean


def test_hand_computed_features(with_discounts):
    snapshot = customer_features(with_discounts, "2024-04-01", products=PRODUCTS)
    f = snapshot.features
    assert list(f.columns) == list(FEATURES)
    a, b = f.loc["a"], f.loc["b"]
    # a: 01-05 (two lines, $25), 03-01 ($10), 03-20 ($30); gaps 56 and 19 days
    assert (a.recency_days, a.tenure_days, a.purchase_days) == (12, 87, 3)
    assert (a.mean_gap_days, a.last_gap_days) == (37.5, 19)
    assert a.std_gap_days == pytest.approx(np.std([56, 19], ddof=1))
    assert a.recency_over_gap == pytest.approx(12 / 37.5)
    assert a.gap_cv == pytest.approx(np.std([56, 19], ddof=1) / 37.5)
    assert a.longer_gap_share == 1.0  # both of a's gaps (56, 19) are longer than the 12-day pause
    assert (a.purchase_days_30, a.purchase_days_90, a.spend_90, a.spend_prior_90, a.spend_trend) == (1, 3, 65, 0, 1)
    assert (a.lines_per_order, a.units_per_order) == pytest.approx((4 / 3, 5 / 3))
    assert (a.distinct_products, a.distinct_categories, a.order_value) == pytest.approx((3, 2, 65 / 3))
    # b: one of three lines is a return, refunding $5 of $22.50 bought; the return counts in spend
    assert (b.return_line_share, b.return_value_share) == pytest.approx((1 / 3, 5 / 22.5))
    assert b.spend_90 == pytest.approx(17.5)
    assert f.loc["d", "discount_share"] == pytest.approx(2 / 20)
    assert f.loc["c", "spend_trend"] != f.loc["c", "spend_trend"]  # no spend in 180 days: undefined (NaN)
    assert (f["tier_rank"] == 0).all() and f.loc["c", "window_value"] == pytest.approx(115)


def test_probabilistic_outputs_come_from_models_fitted_as_of_the_date(tiny_transactions):
    spec = FeatureSpec(horizon_days=28, time_unit="weeks")
    snapshot = customer_features(tiny_transactions, "2024-04-01", spec)
    horizon = in_units(28, "weeks")
    for name in ("bgnbd", "pareto_nbd"):
        model = snapshot.models[name]
        assert model.n_customers_ == 3
        expected = model.p_no_purchase(snapshot.summary, horizon)
        assert snapshot.features[f"{name}_p_no_purchase"].to_numpy() == pytest.approx(expected)
        spend = snapshot.features["gg_expected_spend"] * snapshot.features[f"{name}_expected_purchases"]
        assert snapshot.features[f"{name}_window_spend"].to_numpy() == pytest.approx(spend.to_numpy())
    assert np.isnan(snapshot.features["distinct_categories"]).all()  # no products table


def test_lines_from_as_of_on_change_nothing(small_shop):
    tx = small_shop.transactions
    as_of = pd.Timestamp("2023-10-02")
    before = customer_features(tx, as_of, FeatureSpec(horizon_days=28)).features
    # rewrite every later line: ten times the price and a different customer mix
    later = tx["timestamp"] >= as_of
    changed = tx.copy()
    changed.loc[later, "revenue"] *= 10
    changed.loc[later, "customer_id"] = changed.loc[later, "customer_id"].sample(frac=1, random_state=1).to_numpy()
    after = customer_features(changed, as_of, FeatureSpec(horizon_days=28)).features
    pd.testing.assert_frame_equal(before, after)


def test_window_outcomes(tiny_transactions):
    customers = pd.Index(["a", "b", "c"], name="customer_id")
    outcomes = window_outcomes(tiny_transactions, "2024-03-01", 30, customers)
    assert outcomes["purchased"].tolist() == [True, True, False]
    assert outcomes["churned"].tolist() == [0, 0, 1]
    assert outcomes["spend"].tolist() == [40.0, 2.5, 0.0]
    # b's return-only day inside a window is spend but not a purchase
    returns_only = window_outcomes(tiny_transactions, "2024-02-11", 5, customers)
    assert returns_only.loc["b"].tolist() == [False, 1, -5.0]


def test_feature_matrix_names_missing_columns():
    with pytest.raises(EngineError, match=r"missing column\(s\) \['tenure_days'\]"):
        feature_matrix(pd.DataFrame({"recency_days": [1.0]}), ["recency_days", "tenure_days"])


def test_returns_among_the_last_ten_orders(tiny_transactions):
    # e: 12 orders a week apart; returns after the 1st order (before the last 10) and after the 10th and 12th
    orders = [("e", "p1", f"e{k}", pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=k), 1, 10.0) for k in range(12)]
    returns = [("e", "p1", f"r{k}", pd.Timestamp("2024-01-03") + pd.Timedelta(weeks=k), -1, 10.0) for k in (0, 9, 11)]
    extra = pd.DataFrame(orders + returns, columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price"])
    base = tiny_transactions.drop(columns=["revenue", "discount"], errors="ignore")
    clean, _ = validate_transactions(pd.concat([base, extra], ignore_index=True))
    f = customer_features(clean, "2024-06-01").features
    assert (f.loc["e", "recent_orders"], f.loc["e", "recent_returns"]) == (10, 2)
    assert (f.loc["b", "recent_orders"], f.loc["b", "recent_returns"]) == (2, 1)  # o4 then its return, then o6
    assert (f.loc["a", "recent_orders"], f.loc["a", "recent_returns"]) == (3, 0)
    # a return made after the as-of date is not seen
    assert customer_features(clean, "2024-03-20").features.loc["e", "recent_returns"] == 1
