"""Scoring every customer and selecting the churn list."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
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


def test_a_band_too_small_to_act_on_joins_the_band_below_with_a_note():
    bands = RiskBands(medium=0.3, high=0.6, min_customers=3)
    probability = np.array([0.1, 0.2, 0.35, 0.4, 0.5, 0.7, 0.9])
    band = bands.assign_population(probability)
    assert band.tolist() == ["low", "low", "medium", "medium", "medium", "medium", "medium"]  # 2 high < 3
    scores = pd.DataFrame({"churn_probability": probability, "churn_band": band})
    assert bands.merged(scores) == [
        "small band: the 2 customers with churn probability >= 0.6 are listed as medium risk: a high band under 3 customers "
        "(risk_bands.min_customers) is too small to act on or to check"
    ]
    # a single customer's band (a chunk, a service call) is its own; a big enough band stays
    assert bands.assign(probability).tolist()[-2:] == ["high", "high"]
    assert bands.assign_population(np.r_[probability, 0.8]).tolist()[-3:] == ["high", "high", "high"]
    assert bands.merged(scores.assign(churn_band=bands.assign(probability))) == []
    # a small medium band stays medium: merged into low, customers at 0.3-0.6 would read as low risk
    assert RiskBands(min_customers=3).assign_population(np.array([0.1, 0.4, 0.7])).tolist() == ["low", "medium", "medium"]


def test_bands_made_for_a_population_carry_the_merge_to_chunk_scorers_and_through_pickling():
    bands = RiskBands(medium=0.3, high=0.6, min_customers=3)
    population = bands.for_population(np.array([0.1, 0.4, 0.7, 0.9]))
    chunk = np.array([0.2, 0.95])  # a chunk alone would keep its one high customer high
    assert population.high_as_medium and not bands.high_as_medium
    assert population.assign(chunk).tolist() == ["low", "medium"]
    assert pickle.loads(pickle.dumps(population)).assign(chunk).tolist() == ["low", "medium"]  # as Spark ships it
    assert bands.assign(chunk).tolist() == ["low", "high"]
    assert not bands.for_population(np.array([0.1, 0.7, 0.8, 0.9])).high_as_medium
