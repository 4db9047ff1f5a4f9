"""Realised performance once outcomes arrive: free functions over arrays and event tables.

- churn: predictions made at a past as-of against the labels now observable after the horizon;
- recommendations: the funnel of feedback events (shown -> clicked -> bought, per model version), and
  the hit rate of top-N lists (served ones from ``rec_shown`` events, or a model's) against what the
  customers actually bought in the period;
- pricing: realised weekly units against the units the price model forecast at the price charged.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.customers.metrics import expected_calibration_error, log_loss, roc_auc
from engine.errors import EngineError
from engine.feedback.events import EVENT_TYPES, EventColumns
from engine.recommend.metrics import evaluate

E = EventColumns
# funnel name -> (the event that exposes, the events that respond to it)
FUNNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "recommendations": ("rec_shown", ("rec_clicked", "rec_bought")),
    "quotes": ("quote_shown", ("quote_accepted",)),
    "offers": ("offer_sent", ("offer_redeemed",)),
}


def churn_realised(y_true: np.ndarray, probability: np.ndarray, bins: int = 10) -> dict[str, float | int | None]:
    """Customers, realised churn rate, mean predicted probability, AUC (None when every customer has
    the same outcome), log-loss and expected calibration error of churn predictions against outcomes."""
    y, p = np.asarray(y_true, dtype=float), np.asarray(probability, dtype=float)
    if len(y) == 0:
        raise EngineError("churn_realised: no customers to score")
    both = 0 < y.sum() < len(y)
    return {
        "customers": int(len(y)),
        "churn_rate": float(y.mean()),
        "mean_predicted": float(p.mean()),
        "auc": roc_auc(y, p) if both else None,
        "log_loss": log_loss(y, p),
        "ece": expected_calibration_error(y, p, min(bins, len(y))),
    }


def check_events(events: pd.DataFrame) -> pd.DataFrame:
    """The events with every :class:`EventColumns` column, a UTC timestamp and only known event types;
    otherwise an :class:`EngineError` naming the missing columns or the first bad row (1 = first row)."""
    missing = [name for name in E.ALL if name not in events]
    if missing:
        raise EngineError(f"events: missing column(s) {missing}; expected {list(E.ALL)}")
    unknown = ~events[E.event_type].isin(EVENT_TYPES)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise EngineError(f"events row {row + 1}, field event_type: {events[E.event_type].iloc[row]!r} is not one of {list(EVENT_TYPES)}")
    stamps = pd.to_datetime(events[E.timestamp], utc=True, errors="coerce")
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise EngineError(f"events row {row + 1}, field timestamp: {events[E.timestamp].iloc[row]!r} is not a date-time")
    frame = events.copy()
    frame[E.timestamp] = stamps.dt.tz_localize(None)
    for name in (E.customer_id, E.item_id, E.request_id, E.model_version, E.bundle_version, E.variant):
        frame[name] = frame[name].fillna("").astype(str)
    return frame.drop_duplicates(E.event_id)


def _pair_key(frame: pd.DataFrame) -> pd.Series:
    """What links a response to its exposure: the answer and the item (customer and item when the
    event names no answer, as an offer may not)."""
    anchor = frame[E.request_id].where(frame[E.request_id] != "", "customer:" + frame[E.customer_id])
    return anchor + "\x1f" + frame[E.item_id]


def event_funnel(events: pd.DataFrame, funnel: str = "recommendations", by: str = E.model_version) -> pd.DataFrame:
    """Per value of ``by`` (model version by default): how many answers and (answer, item) pairs were
    exposed, how many pairs got each response, each response's rate per exposed pair, and the hit rate:
    the share of exposed answers with at least one response. Responses that match no exposure are
    counted apart (``unmatched``): they mean lost or late exposure events, not conversions."""
    if funnel not in FUNNELS:
        raise EngineError(f"funnel must be one of {sorted(FUNNELS)}, got {funnel!r}")
    shown_type, responses = FUNNELS[funnel]
    frame = events.assign(_pair=_pair_key(events))
    shown = frame.loc[frame[E.event_type] == shown_type].drop_duplicates("_pair")
    rows = []
    for value, exposed in shown.groupby(by, sort=True):
        row: dict[str, float | int | str] = {by: value, "answers": int(exposed[E.request_id].replace("", np.nan).nunique()),
                                               "exposed": len(exposed)}
        answered = set()
        for response in responses:
            hit = frame.loc[(frame[E.event_type] == response) & frame["_pair"].isin(exposed["_pair"]), "_pair"].unique()
            row[response] = len(hit)
            row[f"{response}_rate"] = len(hit) / len(exposed)
            answered.update(hit)
        anchors = exposed["_pair"].str.split("\x1f").str[0]
        row["hit_rate"] = float(anchors[exposed["_pair"].isin(answered)].nunique() / anchors.nunique())
        rows.append(row)
    table = pd.DataFrame(rows)
    matched = frame.loc[frame[E.event_type].isin(responses), "_pair"].isin(shown["_pair"])
    table.attrs["unmatched"] = int((~matched).sum())
    return table


def served_lists(events: pd.DataFrame, k: int = 10) -> dict[str, list[str]]:
    """Per customer, the distinct items recommendations showed them, in the order first shown, up to ``k``."""
    shown = events.loc[(events[E.event_type] == "rec_shown") & (events[E.customer_id] != "")]
    shown = shown.sort_values(E.timestamp, kind="stable").drop_duplicates([E.customer_id, E.item_id])
    return {str(customer): items.astype(str).tolist()[:k] for customer, items in shown.groupby(E.customer_id)[E.item_id]}


def list_hit_rate(
    lists: Mapping[str, Sequence[str]], relevant: Mapping[str, Collection[str]], k: int = 10
) -> dict[str, float]:
    """Hit rate, precision and nDCG at ``k`` of top-N ``lists`` over the customers who bought something
    relevant (``relevant``: customer -> items bought in the period); a customer without a list is a miss.
    ``listed_customers`` counts the buyers that had a list."""
    customers = {c for c, items in relevant.items() if items}
    if not customers:
        raise EngineError("list_hit_rate: no customer bought anything relevant in the period")
    metrics = evaluate(lists, relevant, k=k)
    keep = (f"hit_rate@{k}", f"precision@{k}", f"ndcg@{k}", "n_customers")
    return {**{name: metrics[name] for name in keep}, "listed_customers": len(customers & set(lists))}


def forecast_units(base_units: np.ndarray, current_price: np.ndarray, elasticity: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Expected weekly units at ``price`` under a constant-elasticity demand through (current price,
    base units): the price model's own forecast (:meth:`engine.pricing.facts.ProductFacts.units`),
    vectorised; the exponent is bounded so that a huge price ratio gives 0 or a large finite number."""
    ratio = np.log(np.asarray(price, dtype=float) / np.asarray(current_price, dtype=float))
    return np.asarray(base_units, dtype=float) * np.exp(np.clip(np.asarray(elasticity, dtype=float) * ratio, -745.0, 700.0))


def price_response(actual_units: np.ndarray, forecast: np.ndarray) -> dict[str, float | int]:
    """How realised units compare with the forecast at the prices charged: WMAPE (sum of absolute
    errors over total units), bias (forecast total / realised total; > 1 over-forecast) and the number
    of product-weeks."""
    actual, predicted = np.asarray(actual_units, dtype=float), np.asarray(forecast, dtype=float)
    if len(actual) == 0 or actual.sum() <= 0:
        raise EngineError("price_response: no units sold in the period to compare with")
    return {
        "product_weeks": int(len(actual)),
        "wmape": float(np.abs(actual - predicted).sum() / actual.sum()),
        "bias": float(predicted.sum() / actual.sum()),
        "units": float(actual.sum()),
        "forecast_units": float(predicted.sum()),
    }
