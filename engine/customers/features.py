"""Per-customer features as of a date, and the outcome of the window that follows it.

Everything in a snapshot is computed from the lines strictly before ``as_of`` (the probabilistic
models are fitted on that history too), so a snapshot can be labelled with the window after it
without leakage. Features: RFM and its scores, tenure, inter-purchase gaps, recent trend, returns,
discount share, basket breadth, loyalty tier, and the BG/NBD, Pareto/NBD and Gamma-Gamma outputs for
the window (P(no purchase), expected purchases, P(alive), expected spend). A shop with support contacts
or surveys gets the after-sales features of :mod:`aftersales` too (only then: without that data the
feature table, and every model fitted on it, is what it was).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from engine.customers.aftersales import AFTERSALES_FEATURES, DEFAULT_COMPLAINT_TOPICS, AfterSales, aftersales_features
from engine.customers.bgnbd import BGNBD
from engine.customers.btyd_base import FittedModel, PurchaseCountModel
from engine.customers.btyd_data import FREQUENCY, MONETARY, TimeUnit, btyd_summary, in_units, purchase_days
from engine.customers.gamma_gamma import GammaGamma
from engine.customers.pareto_nbd import ParetoNBD
from engine.customers.rfm import rfm_scores
from engine.customers.tiers import TIER_RANK, WINDOW_VALUE, TierConfig, loyalty_tiers
from engine.data.columns import Columns
from engine.errors import EngineError

# outcome columns
PURCHASED = "purchased"
CHURNED = "churned"
SPEND = "spend"
RECENT_ORDERS = 10  # "returned k of the last 10 orders"
# probabilistic-model outputs (per window)
P_NO_PURCHASE = "{}_p_no_purchase"
EXPECTED_PURCHASES = "{}_expected_purchases"
P_ALIVE = "{}_p_alive"
WINDOW_SPEND = "{}_window_spend"
EXPECTED_SPEND = "gg_expected_spend"
PURCHASE_MODELS: dict[str, type[PurchaseCountModel]] = {"bgnbd": BGNBD, "pareto_nbd": ParetoNBD}

# what each feature means, for people reading the top reasons of a churn score
FEATURE_LABELS = {
    "recency_days": "days since last purchase",
    "frequency": "orders",
    "monetary": "net spend",
    "r_score": "recency score (5 = recent)",
    "f_score": "frequency score",
    "m_score": "monetary score",
    "tenure_days": "days since first purchase",
    "purchase_days": "days with a purchase",
    "mean_gap_days": "mean days between purchases",
    "std_gap_days": "spread of days between purchases",
    "last_gap_days": "days between the last two purchases",
    "recency_over_gap": "days since last purchase / usual gap",
    "gap_cv": "irregularity of the gaps (spread / mean)",
    "longer_gap_share": "share of their own gaps at least as long as the current pause",
    "purchase_days_30": "purchase days in the last 30 days",
    "purchase_days_90": "purchase days in the last 90 days",
    "spend_90": "net spend in the last 90 days",
    "spend_prior_90": "net spend in the 90 days before that",
    "spend_trend": "share of 180-day spend in the last 90 days",
    "return_line_share": "share of lines returned",
    "return_value_share": "refunds / purchases",
    "recent_orders": "orders among the last 10 (fewer for a newer customer)",
    "recent_returns": "returns made since the first of the last 10 orders",
    "discount_share": "share of list value discounted",
    "distinct_products": "distinct products bought",
    "distinct_categories": "distinct categories bought",
    "lines_per_order": "lines per order",
    "units_per_order": "units per order",
    "order_value": "average order value",
    TIER_RANK: "loyalty tier (0 = lowest)",
    WINDOW_VALUE: "spend in the tier window",
    EXPECTED_SPEND: "expected spend per purchase (Gamma-Gamma)",
    **{P_NO_PURCHASE.format(m): f"P(no purchase in window), {m}" for m in PURCHASE_MODELS},
    **{EXPECTED_PURCHASES.format(m): f"expected purchases in window, {m}" for m in PURCHASE_MODELS},
    **{P_ALIVE.format(m): f"P(still active), {m}" for m in PURCHASE_MODELS},
    **{WINDOW_SPEND.format(m): f"expected spend in window, {m} x Gamma-Gamma" for m in PURCHASE_MODELS},
}
FEATURES = tuple(FEATURE_LABELS)


class FeatureSpec(BaseModel):
    """How features are built; saved with every model so that scoring rebuilds exactly the same."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    horizon_days: int = Field(90, gt=0, description="the window after as_of that outcomes and the probabilistic outputs cover")
    time_unit: TimeUnit = Field("weeks", description="time unit of the probabilistic models")
    tiers: TierConfig = Field(default_factory=TierConfig, description="loyalty ladder used for the tier feature")
    complaint_topics: tuple[str, ...] = Field(
        DEFAULT_COMPLAINT_TOPICS, min_length=1, description="support-contact topics (any case) that count as complaints"
    )


@dataclass
class Snapshot:
    """Features of every customer with a purchase before ``as_of``, with the probabilistic models
    fitted on that history and the customer summary they were fitted on."""

    as_of: pd.Timestamp
    spec: FeatureSpec
    features: pd.DataFrame
    summary: pd.DataFrame
    models: dict[str, FittedModel] = field(default_factory=dict)


def customer_features(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp,
    spec: FeatureSpec | None = None,
    products: pd.DataFrame | None = None,
    aftersales: AfterSales | None = None,
) -> Snapshot:
    """Build the features of every customer with a purchase before ``as_of`` (index customer_id,
    columns :data:`FEATURES`, then the after-sales features of the tables ``aftersales`` holds;
    ``distinct_categories`` is NaN without a products table)."""
    spec = spec or FeatureSpec()
    as_of = pd.Timestamp(as_of)
    c = Columns
    past = transactions.loc[transactions[c.timestamp] < as_of]
    rfm = rfm_scores(transactions, as_of)
    frame = rfm[["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"]].copy()
    frame["tenure_days"] = (as_of - rfm["first_purchase"]) / pd.Timedelta(days=1)
    frame = frame.join(_gaps(purchase_days(transactions, as_of), as_of))
    frame["recency_over_gap"] = frame["recency_days"] / frame["mean_gap_days"]
    frame["gap_cv"] = frame["std_gap_days"] / frame["mean_gap_days"]
    frame = frame.join(_lines(past, as_of, products)).join(_recent_returns(past))
    recent, prior = frame["spend_90"].clip(lower=0), frame["spend_prior_90"].clip(lower=0)
    frame["spend_trend"] = recent / (recent + prior).where(recent + prior > 0)
    frame["order_value"] = frame["monetary"] / frame["frequency"]
    frame = frame.join(loyalty_tiers(transactions, as_of, spec.tiers)[[TIER_RANK, WINDOW_VALUE]])
    summary = btyd_summary(transactions, as_of, spec.time_unit)
    models, outputs = _probabilistic(summary, in_units(spec.horizon_days, spec.time_unit))
    frame = frame.join(outputs)[list(FEATURES)]
    if aftersales is not None:
        frame = frame.join(aftersales_features(aftersales, as_of, frame.index, spec.complaint_topics))
    return Snapshot(as_of, spec, frame.astype(float), summary, models)


def _gaps(daily: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Purchase-day counts and the gaps between purchase days, and how the current pause (days since
    the last purchase day) compares with the customer's own gaps: a heavy buyer who usually comes back
    within a week is overdue after three, a monthly buyer is not (an empirical hazard per customer)."""
    c = Columns
    day = daily["day"]
    gap = day.diff().dt.days.where(daily[c.customer].eq(daily[c.customer].shift()))
    age = (as_of - day).dt.days
    pause = age.groupby(daily[c.customer]).transform("min")
    longer = (gap >= pause).where(gap.notna())
    grouped = daily.assign(gap=gap, longer=longer, in_30=age <= 30, in_90=age <= 90).groupby(c.customer, sort=True)
    return pd.DataFrame(
        {
            "purchase_days": grouped.size(),
            "mean_gap_days": grouped["gap"].mean(),
            "std_gap_days": grouped["gap"].std(),
            "last_gap_days": grouped["gap"].last(),
            "longer_gap_share": grouped["longer"].mean(),
            "purchase_days_30": grouped["in_30"].sum(),
            "purchase_days_90": grouped["in_90"].sum(),
        }
    )


def _lines(past: pd.DataFrame, as_of: pd.Timestamp, products: pd.DataFrame | None) -> pd.DataFrame:
    """Net spend of the last 90 days and the 90 before, returns, discounts and basket breadth."""
    c = Columns
    bought = past[c.quantity] > 0
    age = (as_of - past[c.timestamp]) / pd.Timedelta(days=1)
    list_value = (past[c.quantity] * past[c.unit_price]).where(bought, 0.0)
    lines = pd.DataFrame(
        {
            c.customer: past[c.customer],
            "returned": ~bought,
            "refund": (-past[c.revenue]).where(~bought, 0.0),
            "bought_value": past[c.revenue].where(bought, 0.0),
            "list_value": list_value,
            "discount": past[c.discount].where(bought, 0.0),
            "units": past[c.quantity].where(bought, 0.0),
            "spend_90": past[c.revenue].where(age <= 90, 0.0),
            "spend_prior_90": past[c.revenue].where((age > 90) & (age <= 180), 0.0),
        }
    )
    grouped = lines.groupby(c.customer, sort=True)
    sums = grouped[["refund", "bought_value", "list_value", "discount", "units", "spend_90", "spend_prior_90"]].sum()
    purchases = past.loc[bought]
    by_customer = purchases.groupby(c.customer, sort=True)
    orders = by_customer[c.order].nunique()
    frame = pd.DataFrame(
        {
            "return_line_share": grouped["returned"].mean(),
            "return_value_share": sums["refund"] / sums["bought_value"].where(sums["bought_value"] > 0),
            "discount_share": sums["discount"] / sums["list_value"].where(sums["list_value"] > 0),
            "distinct_products": by_customer[c.item].nunique(),
            "lines_per_order": by_customer.size() / orders,
            "units_per_order": sums["units"] / orders,
            "spend_90": sums["spend_90"],
            "spend_prior_90": sums["spend_prior_90"],
        }
    )
    if products is not None and c.category in products:
        category = purchases[c.item].map(products.set_index(c.item)[c.category])
        frame["distinct_categories"] = category.groupby(purchases[c.customer]).nunique()
    else:
        frame["distinct_categories"] = np.nan
    return frame


def _recent_returns(past: pd.DataFrame, orders: int = RECENT_ORDERS) -> pd.DataFrame:
    """The customer's last ``orders`` orders with a purchase, and the returns (orders holding a
    negative line) made since the first of them, capped at that many: "returned k of the last 10
    orders" (a return is its own order, so it is counted in the period those orders span)."""
    c = Columns
    by_order = past.assign(bought=past[c.quantity] > 0, returned=past[c.quantity] < 0).groupby([c.customer, c.order], sort=False)
    table = by_order.agg(time=(c.timestamp, "min"), bought=("bought", "any"), returned=("returned", "any")).reset_index()
    purchases = table.loc[table["bought"]]
    rank = purchases.groupby(c.customer)["time"].rank(method="first", ascending=False)
    recent = purchases.loc[rank <= orders].groupby(c.customer)["time"].agg(["size", "min"])
    returns = table.loc[table["returned"], [c.customer, "time"]]
    since = returns[c.customer].map(recent["min"])
    counted = returns.loc[returns["time"] >= since].groupby(c.customer).size()
    frame = pd.DataFrame({"recent_orders": recent["size"].astype(float)})
    frame["recent_returns"] = counted.reindex(frame.index).fillna(0.0).clip(upper=frame["recent_orders"])
    return frame


def _probabilistic(summary: pd.DataFrame, horizon: float) -> tuple[dict[str, FittedModel], pd.DataFrame]:
    """Fit BG/NBD, Pareto/NBD and Gamma-Gamma on the summary and predict the next ``horizon`` units.
    Gamma-Gamma is fitted on the repeat customers with a positive mean repeat spend."""
    time_unit = summary.attrs["time_unit"]
    spend_model = GammaGamma().fit(summary.loc[(summary[FREQUENCY] == 0) | (summary[MONETARY] > 0)])
    monetary = summary[MONETARY].clip(lower=0)
    # a repeat customer whose repeat days net to <= 0 is treated as one without repeat spend
    spend = spend_model.expected_spend(summary.assign(**{MONETARY: monetary, FREQUENCY: summary[FREQUENCY].where(monetary > 0, 0)}))
    outputs = pd.DataFrame({EXPECTED_SPEND: spend}, index=summary.index)
    models: dict[str, FittedModel] = {"gamma_gamma": spend_model}
    for name, model_class in PURCHASE_MODELS.items():
        model = model_class(time_unit=time_unit).fit(summary)
        expected = model.expected_purchases(summary, horizon)
        outputs[P_NO_PURCHASE.format(name)] = model.p_no_purchase(summary, horizon)
        outputs[EXPECTED_PURCHASES.format(name)] = expected
        outputs[P_ALIVE.format(name)] = model.p_alive(summary)
        outputs[WINDOW_SPEND.format(name)] = expected * spend
        models[name] = model
    return models, outputs


def model_features(features: pd.DataFrame) -> list[str]:
    """The features a model fits on: :data:`FEATURES`, then the after-sales ones ``features`` has."""
    return [*FEATURES, *(name for name in AFTERSALES_FEATURES if name in features)]


def feature_matrix(features: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The named feature columns as floats, in that order; missing columns are an error naming them."""
    missing = [name for name in names if name not in features]
    if missing:
        hint = (" (after-sales features: the model was fitted on a shop with support contacts or surveys; "
                "score it with that data)") if set(missing) & set(AFTERSALES_FEATURES) else ""
        raise EngineError(f"features are missing column(s) {missing}; build them with customer_features(){hint}")
    return features[names].astype(float)


def window_outcomes(
    transactions: pd.DataFrame, as_of: str | pd.Timestamp, horizon_days: int, customers: pd.Index
) -> pd.DataFrame:
    """What each of ``customers`` did in ``[as_of, as_of + horizon_days)``: purchased (a day with a
    purchase), churned (the opposite, as 0/1) and spend (net revenue, returns included)."""
    c = Columns
    start = pd.Timestamp(as_of)
    end = start + pd.Timedelta(days=horizon_days)
    window = transactions.loc[(transactions[c.timestamp] >= start) & (transactions[c.timestamp] < end)]
    bought = window.loc[window[c.quantity] > 0, c.customer].unique()
    spend = window.groupby(c.customer)[c.revenue].sum()
    purchased = customers.isin(bought)
    return pd.DataFrame(
        {PURCHASED: purchased, CHURNED: (~purchased).astype(int), SPEND: spend.reindex(customers).fillna(0.0).to_numpy()},
        index=customers,
    )
