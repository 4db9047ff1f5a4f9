"""Scoring every customer and selecting the churn list."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from engine.customers.scoring import SCORE_COLUMNS, RiskBands, churn_list, score_customers


@pytest.fixture(scope="module")
def scores(small_shop, churn_model, clv_model):
    return score_customers(small_shop.transactions, churn_model, clv_model, products=small_shop.products,
                           bands=RiskBands(medium=0.3, high=0.6))


def test_every_customer_is_scored_and_sorted_by_value_at_risk(scores, small_shop):
    buyers = small_shop.transactions.loc[small_shop.transactions["quantity"] > 0, "customer_id"].nunique()
    assert len(scores) == buyers and list(scores.columns) == list(SCORE_COLUMNS)
    assert scores["value_at_risk"].is_monotonic_decreasing
    assert scores["value_at_risk"].to_numpy() == pytest.approx((scores["churn_probability"] * scores["expected_clv"]).to_numpy())
    assert scores[["segment", "tier"]].notna().all().all()
    p = scores["churn_probability"]
    expected = np.where(p >= 0.6, "high", np.where(p >= 0.3, "medium", "low"))
    assert (scores["churn_band"].to_numpy() == expected).all()


def test_scores_as_of_an_earlier_date_use_only_its_past(small_shop, churn_model, clv_model):
    early = score_customers(small_shop.transactions, churn_model, clv_model, as_of="2023-09-01", reasons=0)
    started = small_shop.transactions.groupby("customer_id")["timestamp"].min()
    assert set(early.index) <= set(started[started < "2023-09-01"].index)
    assert (early["reasons"] == "").all()


def test_churn_list_filters_and_takes_the_top(scores):
    assert len(churn_list(scores, 10)) == 10
    assert churn_list(scores, 10).index.equals(scores.index[:10])
    segment = scores["segment"].iloc[0]
    chosen = churn_list(scores, 5, segment=segment, min_clv=1.0)
    assert (chosen["segment"] == segment).all() and (chosen["expected_clv"] >= 1.0).all()
    high = churn_list(scores, 1000, band="high")
    assert len(high) == (scores["churn_band"] == "high").sum()
    assert churn_list(scores, 5, tier="No such tier").empty


def test_risk_bands_must_be_ordered():
    with pytest.raises(ValidationError, match="must be below high"):
        RiskBands(medium=0.7, high=0.5)
