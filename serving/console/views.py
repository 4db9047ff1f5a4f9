"""What each console page shows, computed from the served bundle: plain dicts and frames, no HTML.

Every figure comes from the bundle (its customer table, timeline, models and manifest); the customer
lists go through :meth:`CustomerTable.query`, the API's own filter, so the console and the API can never
disagree on who is in a list.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.customers.timeline import MONTH, SPEND
from engine.errors import EngineError
from engine.recommend.popularity import PopularityRecommender
from serving import answers
from serving.bundle import MODEL_NAMES, Bundle
from serving.customer_table import REASON_SEPARATOR, SEGMENT, TIER
from serving.schemas import ChurnRiskFilters, PriceRequest

RECOMMENDATIONS = 5
TOP_CATEGORIES = 8
PROFILE_OFFERS = 5


def group_summary(bundle: Bundle, by: str) -> pd.DataFrame:
    """Per segment or tier: customers and share, revenue (RFM monetary) and share, mean churn
    probability, customers in the high band, value at risk. Tiers in ladder order, segments by size."""
    frame = bundle.customers.frame
    grouped = frame.groupby(by, dropna=True)
    summary = pd.DataFrame({
        "customers": grouped.size(),
        "revenue": grouped["monetary"].sum(),
        "churn_probability": grouped["churn_probability"].mean(),
        "high_risk": grouped["churn_band"].apply(lambda band: int((band == "high").sum())),
        "value_at_risk": grouped["value_at_risk"].sum(min_count=1),
        "expected_clv": grouped["expected_clv"].mean(),
    })
    summary["share"] = summary["customers"] / max(len(frame), 1)
    summary["revenue_share"] = summary["revenue"] / (summary["revenue"].sum() or 1.0)
    if by == TIER and "tier_rank" in frame:
        order = frame.groupby(TIER)["tier_rank"].min().sort_values().index
    else:
        order = summary.sort_values(["customers", "revenue"], ascending=False).index
    return summary.loc[order]


def monthly_revenue(bundle: Bundle) -> pd.Series | None:
    """The shop's revenue per month over the timeline (None when the bundle has no timeline)."""
    if bundle.timeline is None or bundle.timeline.frame.empty:
        return None
    return bundle.timeline.frame.groupby(MONTH)[SPEND].sum()


def names(bundle: Bundle, column: str) -> list[str]:
    """The values of a column that the customers have (segment or tier names), sorted."""
    return sorted(str(value) for value in bundle.customers.frame[column].dropna().unique())


def unknown_names(given: list[str] | None, known: list[str]) -> dict[str, list[str]]:
    """Each given name that is not a known one -> the closest known names (difflib, case-insensitive)."""
    lowered = {name.lower(): name for name in known}
    found = {}
    for name in given or []:
        if name in known:
            continue
        close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
        found[name] = [lowered[match] for match in close]
    return found


def churn_list(bundle: Bundle, filters: ChurnRiskFilters) -> pd.DataFrame:
    """The filtered, sorted customers: the same call as the API's churn-risk endpoints."""
    return bundle.customers.query(filters.segments, filters.tiers, filters.bands, filters.min_clv,
                                  filters.sort_by, filters.descending, filters.search)


def reasons_of(row: dict[str, Any]) -> list[str]:
    return [reason for reason in (row.get("reasons") or "").split(REASON_SEPARATOR) if reason]


@dataclass(frozen=True)
class Shown:
    """One recommended item with why it is shown and, when the bundle prices, the customer's offer."""

    item_id: str
    category: str | None
    reason: str
    price: float | None = None
    offer: float | None = None


def _recommendation_reason(source: str, bought: float, segment: str | None, popularity: bool) -> str:
    """Why an item is shown, from what the customer really bought (never "bought before" for an item
    they did not buy, whatever list it came from) and from what kind of model chose it."""
    if source == "cold_start_segment":
        return f"popular with the {segment or 'same'} segment (no usable history of this customer)"
    if source == "cold_start_global":
        return "popular across the shop (no usable history of this customer)"
    if bought > 0:
        times = f"{bought:.0f} time{'s' if round(bought) != 1 else ''}" if float(bought).is_integer() else "before"
        return f"bought {times}; likely to be bought again"
    if popularity:
        return "not bought yet; one of the shop's most bought items"
    return "not bought yet; customers with similar baskets buy it"


def recommendations(bundle: Bundle, customer_id: str, segment: str | None) -> dict[str, list[Shown]]:
    """Repeat and discovery recommendations with the reason for each, priced with the customer's offer."""
    model = bundle.recommender
    if model is None:
        return {}
    user = model.customers_.index_of(customer_id)
    history = model.history_[user] if user >= 0 else None
    shown: dict[str, list[Shown]] = {}
    for task in ("repeat", "discovery"):
        (result,) = model.recommend([customer_id], k=RECOMMENDATIONS, task=task,
                                    segments={customer_id: segment} if segment else None)
        rows = []
        for item in result.item_ids:
            column = model.items_.index_of(item)
            bought = float(history[0, column]) if history is not None and column >= 0 else 0.0
            price, offer = personal_price(bundle, customer_id, item)
            reason = _recommendation_reason(result.source, bought, segment, isinstance(model, PopularityRecommender))
            rows.append(Shown(item, bundle.category_of(item), reason, price, offer))
        shown[task] = rows
    return shown


def personal_price(bundle: Bundle, customer_id: str, item_id: str) -> tuple[float | None, float | None]:
    """The item's guarded price and the customer's segment or tier offer (None when there is none),
    quoted exactly as ``/v1/price`` with a ``customer_id`` would."""
    if bundle.pricing is None:
        return None, None
    try:
        quote = answers.price_quote(bundle, PriceRequest(product_id=item_id, customer_id=customer_id))
    except EngineError:
        return None, None
    return (quote.price if quote.known else None), quote.segment_price


def customer_detail(bundle: Bundle, customer_id: str) -> dict[str, Any] | None:
    """Everything the customer page shows, or None for a customer the bundle does not know."""
    row = bundle.customers.lookup(customer_id)
    if row is None:
        return None
    timeline = customer_months(bundle, customer_id)
    profile = answers.aftersales(row)
    after_sales = {} if profile is None else {key: value for key, value in profile.model_dump().items() if value is not None}
    return {
        "row": row,
        "reasons": reasons_of(row),
        "timeline": timeline,
        "recommendations": recommendations(bundle, customer_id, row.get(SEGMENT)),
        "after_sales": after_sales,
        "offer": segment_offer(bundle, row),
    }


def customer_months(bundle: Bundle, customer_id: str) -> pd.DataFrame | None:
    """The customer's spend and orders in every month of the bundle's timeline, months without a
    purchase as zeros (so gaps show); None when the bundle has no timeline."""
    if bundle.timeline is None:
        return None
    months = bundle.timeline.months()
    own = bundle.timeline.of(customer_id).set_index(MONTH)
    if own.empty:
        return own.reset_index()
    return own.reindex(months, fill_value=0).rename_axis(MONTH).reset_index()


def segment_offer(bundle: Bundle, row: dict[str, Any]) -> dict[str, Any] | None:
    """The pricing model's offer row (discount, reason, elasticity) for the customer's segment or tier."""
    if bundle.pricing is None:
        return None
    offers = bundle.pricing.segment_offers_
    for key in (SEGMENT, TIER):
        if row.get(key) in offers.index:
            return {"group": row[key], **{k: _plain(v) for k, v in offers.loc[row[key]].items()}}
    return None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def segment_profile(bundle: Bundle, segment: str) -> dict[str, Any]:
    """One segment: size and share, RFM averages, tier and risk-band mix, the categories its members
    buy (from the recommender's purchase history), and its price response (the pricing model's offer)."""
    frame = bundle.customers.frame
    members = frame.loc[frame[SEGMENT] == segment]
    numeric = members[["recency_days", "frequency", "monetary", "churn_probability", "expected_clv", "value_at_risk"]]
    averages = numeric.apply(pd.to_numeric, errors="coerce").mean()
    return {
        "name": segment,
        "customers": len(members),
        "share": len(members) / max(len(frame), 1),
        "revenue": float(pd.to_numeric(members["monetary"], errors="coerce").sum()),
        "averages": {key: (None if pd.isna(value) else float(value)) for key, value in averages.items()},
        "tiers": members[TIER].value_counts().to_dict(),
        "bands": members["churn_band"].value_counts().to_dict(),
        "categories": top_categories(bundle, members.index),
        "offer": segment_offer(bundle, {SEGMENT: segment}),
    }


def top_categories(bundle: Bundle, customers: pd.Index) -> list[tuple[str, float]]:
    """The categories the given customers bought most (share of their purchases), from the recommender's
    history; empty without a recommender or product categories."""
    model = bundle.recommender
    if model is None or bundle.catalogue is None or len(customers) == 0:
        return []
    users = model.customers_.to_internal(customers)
    users = users[users >= 0]
    if users.size == 0:
        return []
    bought = np.asarray(model.history_[users].sum(axis=0)).ravel()
    totals = pd.Series(bought).groupby(item_categories(bundle)).sum().sort_values(ascending=False)
    totals = totals / (totals.sum() or 1.0)
    return [(str(name), float(share)) for name, share in totals.head(TOP_CATEGORIES).items() if share > 0]


_CATEGORIES: dict[tuple[str, Any], np.ndarray] = {}  # per loaded bundle (at most the last two)


def item_categories(bundle: Bundle) -> np.ndarray:
    """The category of each of the recommender's items, in its item order (computed once per bundle:
    mapping ~20,000 items costs ~0.1 s, too much for every page load)."""
    key = (bundle.tag, bundle.loaded_at)
    if key not in _CATEGORIES:
        ids = pd.Series(bundle.recommender.items_.external_ids)
        found = ids.map(bundle.catalogue.category_of).fillna("(no category)").to_numpy()
        for old in list(_CATEGORIES)[:-1]:
            _CATEGORIES.pop(old, None)
        _CATEGORIES[key] = found
    return _CATEGORIES[key]


def model_cards(bundle: Bundle) -> list[dict[str, Any]]:
    """One card per capability: its registered model, version, and the evaluation the import recorded."""
    cards = []
    for part, name in MODEL_NAMES.items():
        version = bundle.versions.get(part)
        evaluation = bundle.evaluation.get(part, {})
        gate = evaluation.get("baseline_gate")
        cards.append({
            "part": part, "name": name, "version": version,
            "metric": evaluation.get("metric"), "value": evaluation.get("value"),
            "gate": gate if isinstance(gate, dict) else None,
            "notes": [str(note) for note in gate] if isinstance(gate, list) else [],
            "gate_recorded": "baseline_gate" in evaluation,
            "as_of": _day(evaluation.get("as_of")), "evaluated_as_of": _day(evaluation.get("evaluated_as_of")),
        })
    return cards


def _day(value: Any) -> pd.Timestamp | None:
    """A recorded date (text) as a timestamp, or None when absent or unreadable."""
    try:
        return pd.Timestamp(value) if value else None
    except ValueError:
        return None
