"""Reasons phrased against a customer's own history and the shop, on hand-built customers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.customers.aftersales import AFTERSALES_FEATURES
from engine.customers.features import FEATURES
from engine.customers.reasons import GROUPS, SEPARATOR, phrase_reasons


def _customers() -> pd.DataFrame:
    features = pd.DataFrame(0.0, index=["late", "regular", "single", "grower"], columns=list(FEATURES))
    features["recency_days"] = [45, 5, 60, 10]
    features["mean_gap_days"] = [15, 10, np.nan, 12]
    features["purchase_days_90"] = [2, 9, 0, 6]
    features["spend_90"] = [40, 100, 0, 300]
    features["spend_prior_90"] = [100, 100, 0, 100]
    features["return_line_share"] = [0.4, 0, 0, 0]
    features["return_value_share"] = [0.25, 0, 0, 0]
    features["distinct_products"] = [5, 40, 1, 12]
    return features


def test_every_feature_belongs_to_one_group():
    members = [name for names in GROUPS.values() for name in names]
    assert sorted(members) == sorted([*FEATURES, *AFTERSALES_FEATURES, "base_model"])


def test_reasons_in_a_marketers_words():
    features = _customers()
    contributions = pd.DataFrame(0.0, index=features.index, columns=[*FEATURES, "base_model"])
    contributions.loc["late", ["recency_over_gap", "base_model"]] = [0.5, 0.7]  # pause group +1.2
    contributions.loc["late", "spend_trend"] = 0.3
    contributions.loc["late", "return_line_share"] = 0.2
    contributions.loc["regular", "recency_days"] = -0.9
    contributions.loc["regular", "distinct_products"] = 0.02  # trivial: under the minimum effect
    contributions.loc["single", "bgnbd_p_no_purchase"] = 1.5
    contributions.loc["grower", "spend_90"] = 0.6  # counter-intuitive: spend tripled said to raise the risk
    reasons = phrase_reasons(contributions, features, k=3)
    assert reasons["late"] == (
        "raises risk: no purchase for 45 days, 3.0x their usual gap of 15 days; "
        "raises risk: spend down 60% vs the previous 90 days (40 vs 100); "
        "raises risk: returned 40% of the lines bought (25% of spend refunded)"
    )
    assert reasons["regular"] == "lowers risk: last purchase 5 days ago, within their usual gap of 10 days"
    # the shop's median gap is that of the repeat customers (10, 12, 15 -> 12 days)
    assert reasons["single"] == "raises risk: one purchase day so far, 60 days ago (customers here usually return within 12 days)"
    assert reasons["grower"] == ""
    assert phrase_reasons(contributions, features, k=1)["late"].count("raises risk") == 1


def test_recent_returns_are_phrased_as_orders_and_never_said_to_lower_risk():
    features = _customers()
    features["recent_returns"] = [4, 0, 0, 0]
    features["recent_orders"] = [10, 10, 1, 10]
    features.loc["regular", ["return_line_share", "return_value_share"]] = [0.1, 0.05]  # returns, but older
    contributions = pd.DataFrame(0.0, index=features.index, columns=[*FEATURES, "base_model"])
    contributions.loc["late", "recent_returns"] = 0.4
    contributions.loc["regular", "return_line_share"] = 0.3
    contributions.loc["grower", "recent_returns"] = -0.5  # no returns at all: nothing to say either way
    reasons = phrase_reasons(contributions, features, k=3)
    assert reasons["late"] == "raises risk: returned 4 of the last 10 orders (25% of spend refunded)"
    assert reasons["regular"] == "raises risk: returned 10% of the lines bought (5% of spend refunded)"
    assert reasons["grower"] == ""
    contributions.loc["late", "recent_returns"] = -0.4  # returns said to lower the risk: counter-intuitive, dropped
    assert phrase_reasons(contributions, features, k=3)["late"] == ""


def test_a_one_day_gap_is_said_in_the_singular():
    features = _customers()
    features.loc["late", ["recency_days", "mean_gap_days"]] = [22, 1.3]
    contributions = pd.DataFrame(0.0, index=features.index, columns=[*FEATURES, "base_model"])
    contributions.loc["late", "recency_days"] = 0.8
    assert phrase_reasons(contributions, features)["late"] == "raises risk: no purchase for 22 days, 16.9x their usual gap of 1 day"


def test_customers_above_low_risk_always_get_a_reason_or_why_not():
    features = _customers()
    features["purchase_days"] = [12, 30, 1, 2]
    features["tenure_days"] = [200, 300, 60, 250]
    # a baseline's score: all of it in the base model, which says "raises" while the pause fact says
    # "within their usual gap" for the grower (counter-intuitive, dropped) and nothing for the rest
    contributions = pd.DataFrame(0.0, index=features.index, columns=[*FEATURES, "base_model"])
    contributions["base_model"] = [0.01, 0.01, 0.01, 0.8]
    explain = np.array([True, True, False, True])
    reasons = phrase_reasons(contributions, features, k=3, explain=explain)
    assert reasons["grower"] == "raises risk: little history to go on: 2 purchase days in 250 days, the last 10 days ago"
    said = "risk: no single reason stands out, but together their history puts the score {} the shop's average"
    assert reasons["regular"] == "raises " + said.format("above")
    assert SEPARATOR not in reasons["regular"]  # one reason, not two, for whoever splits the list
    contributions.loc["regular", "base_model"] = -0.01  # above low risk only because the shop's average is high
    assert phrase_reasons(contributions, features, k=3, explain=explain)["regular"] == "lowers " + said.format("below")
    assert reasons["single"] == ""  # low risk: nothing to explain
    assert phrase_reasons(contributions, features, k=3)["grower"] == ""
