"""The mechanics of an offline feedback loop over a shop's history, week by week (pure functions).

The storefront shows each customer active in a week the recommendations of the model then served; the
customer "buys" what they actually bought that week. :func:`recommendation_events` turns both into the
events the service would have received (``rec_shown`` per shown item, ``rec_bought`` per shown item the
customer bought, with its net quantity and value), so the loop's metrics are computed from events
exactly as the live ones are (:func:`engine.feedback.experiments.customer_outcomes`).
:func:`plant_new_range` plants a known shift: from a week on, a share of the catalogue is sold under
new ids the served model has never seen (a new product range).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.errors import EngineError
from engine.feedback.events import EventColumns
from engine.recommend.base import Recommendations

NEW_ID_PREFIX = "new:"


def week_start(transactions: pd.DataFrame) -> pd.Timestamp:
    """Midnight of the first day of the data: week 0 starts there."""
    if transactions.empty:
        raise EngineError("no transactions to replay")
    return transactions[Columns.timestamp].min().normalize()


def week_of(transactions: pd.DataFrame, start: pd.Timestamp) -> np.ndarray:
    """Each line's week number counted from ``start`` (7-day weeks)."""
    return ((transactions[Columns.timestamp] - start) // pd.Timedelta(days=7)).to_numpy(dtype=np.int64)


def complete_weeks(transactions: pd.DataFrame, start: pd.Timestamp) -> int:
    """How many whole weeks the data covers from ``start`` (a last, partial week is left out)."""
    end = transactions[Columns.timestamp].max().normalize() + pd.Timedelta(days=1)
    return int((end - start) // pd.Timedelta(days=7))


def plant_new_range(
    transactions: pd.DataFrame, since: pd.Timestamp, share: float, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """The transactions where, from ``since`` on, a random ``share`` of the items (uniformly over the
    catalogue, seeded) carry a new id (``"new:" + old id``), and the old ids of those items."""
    if not 0 < share <= 1:
        raise EngineError(f"share of the catalogue to renew must be within (0, 1], got {share!r}")
    items = np.sort(transactions[Columns.item].astype(str).unique())
    renewed = np.random.default_rng(seed).choice(items, size=int(round(share * len(items))), replace=False)
    shifted = transactions.copy()
    after = (shifted[Columns.timestamp] >= since) & shifted[Columns.item].astype(str).isin(renewed)
    shifted[Columns.item] = shifted[Columns.item].astype(str)
    shifted.loc[after, Columns.item] = NEW_ID_PREFIX + shifted.loc[after, Columns.item]
    return shifted, np.sort(renewed)


def recommendation_events(
    recommendations: Sequence[Recommendations],
    purchases: pd.DataFrame,
    shown_at: pd.Timestamp,
    request_prefix: str,
    variants: Mapping[str, str] | None = None,
    model_versions: Mapping[str, str] | None = None,
    bundle_version: str = "replay",
) -> pd.DataFrame:
    """The events of one round of recommendations: a ``rec_shown`` per shown item at ``shown_at`` and a
    ``rec_bought`` per shown item with a net positive quantity in ``purchases`` (its quantity, value
    and mean unit price, at its first purchase time). ``variants`` gives each customer's experiment arm
    (none: outside an experiment); ``model_versions`` the model version serving each arm (key ``""``
    outside an experiment). Event ids are fixed by request, type and item, so a replay is idempotent."""
    e, c = EventColumns, Columns
    variants = variants or {}
    model_versions = model_versions or {}
    customer = np.repeat([r.subject for r in recommendations], [len(r.item_ids) for r in recommendations])
    item: Any = np.concatenate([np.asarray(r.item_ids, dtype=object) for r in recommendations]) if recommendations else []
    shown = pd.DataFrame({e.customer_id: customer.astype(str), e.item_id: np.asarray(item, dtype=str)})
    shown[e.request_id] = request_prefix + shown[e.customer_id]
    shown[e.variant] = shown[e.customer_id].map(variants).fillna("")
    shown[e.model_version] = shown[e.variant].map(model_versions).fillna("")
    shown[e.timestamp] = shown_at
    keys = [purchases[c.customer].astype(str).rename(e.customer_id), purchases[c.item].astype(str).rename(e.item_id)]
    lines = purchases.groupby(keys, sort=False)
    bought = lines[[c.quantity, c.revenue]].sum().rename(columns={c.quantity: e.quantity, c.revenue: e.value})
    bought["first"] = lines[c.timestamp].min()
    bought = bought.reset_index()
    bought = bought.loc[bought[e.quantity] > 0].merge(shown, on=[e.customer_id, e.item_id], suffixes=("", "_shown"))
    bought[e.timestamp] = bought.pop("first")
    bought[e.price] = bought[e.value] / bought[e.quantity]
    frames = [
        shown.assign(**{e.event_type: "rec_shown", e.price: np.nan, e.quantity: np.nan, e.value: 0.0}),
        bought.drop(columns=[f"{e.timestamp}_shown"], errors="ignore").assign(**{e.event_type: "rec_bought"}),
    ]
    events = pd.concat(frames, ignore_index=True)
    events[e.bundle_version] = bundle_version
    events[e.event_id] = events[e.request_id] + ":" + events[e.event_type] + ":" + events[e.item_id]
    return events[list(e.ALL)]
