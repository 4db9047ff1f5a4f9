"""The synthetic shop's order lines (steps 4 and 5 of :mod:`engine.data.synthetic`): each
product-week's units handed out to that week's visits by taste, and the share of lines returned."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.synthetic.config import SyntheticShopConfig
from engine.data.synthetic.market import Market
from engine.data.synthetic.tables import ShopIds


def allocate(
    units: np.ndarray,
    visits: pd.DataFrame,
    weights: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Hand each product-week's units to that week's visits in proportion to taste weights; returns
    one row per (visit, product) with a positive quantity."""
    week = np.floor(visits["week_time"].to_numpy()).astype(np.int64)
    bounds = np.searchsorted(week, np.arange(units.shape[1] + 1))
    parts = []
    for t in range(units.shape[1]):
        lo, hi = bounds[t], bounds[t + 1]
        if hi == lo or units[:, t].sum() == 0:
            continue
        w = weights[visits["customer"].to_numpy()[lo:hi]].T  # products x visits
        p = w / w.sum(axis=1, keepdims=True)
        counts = rng.multinomial(units[:, t], p)
        product, visit = np.nonzero(counts)
        parts.append(np.column_stack([visit + lo, product, counts[product, visit]]))
    lines = np.concatenate(parts) if parts else np.empty((0, 3), dtype=np.int64)
    return pd.DataFrame(lines, columns=["visit", "product", "quantity"])


def returns(lines: pd.DataFrame, config: SyntheticShopConfig, rng: np.random.Generator, end: pd.Timestamp) -> pd.DataFrame:
    """Return a random share of lines 3-21 days later (part of the quantity, same prices)."""
    chosen = lines.loc[rng.uniform(size=len(lines)) < config.return_rate]
    back = np.ceil(rng.uniform(size=len(chosen)) * chosen[Columns.quantity].to_numpy())
    later = chosen[Columns.timestamp] + pd.to_timedelta(rng.uniform(3, 21, len(chosen)), unit="D").round("min")
    share = back / chosen[Columns.quantity].to_numpy()
    returned = chosen.assign(
        **{
            Columns.order: "r" + chosen[Columns.order].str[1:],
            Columns.timestamp: later,
            Columns.quantity: -back,
            Columns.discount: np.round(chosen[Columns.discount].to_numpy() * share, 2),
        }
    )
    return returned.loc[returned[Columns.timestamp] < end]


def order_lines(
    config: SyntheticShopConfig,
    lines: pd.DataFrame,
    visits: pd.DataFrame,
    market: Market,
    ids: ShopIds,
    start: pd.Timestamp,
) -> pd.DataFrame:
    """The allocated (visit, product, quantity) lines as raw transaction lines: ids, the visit's time,
    list price and discount (or the paid price with ``prices_paid``) and unit cost of the week."""
    # floor, not round: a visit must stay in the week it was drawn in
    visit_time = start + pd.to_timedelta(np.floor(visits["week_time"].to_numpy() * 7 * 24 * 60), unit="min")
    visit_week = np.floor(visits["week_time"].to_numpy()).astype(np.int64)
    v, j = lines["visit"].to_numpy(), lines["product"].to_numpy()
    t = visit_week[v]
    quantity = lines["quantity"].to_numpy().astype(float)
    price, regular = market.price, market.regular
    return pd.DataFrame(
        {
            Columns.customer: ids.customers[visits["customer"].to_numpy()[v]],
            Columns.item: ids.products[j],
            Columns.order: np.char.add("o", v.astype(str)).astype(object),
            Columns.timestamp: visit_time[v],
            Columns.quantity: quantity,
            Columns.unit_price: price[j, t] if config.prices_paid else regular[j, t],
            Columns.discount: 0.0 if config.prices_paid else np.round(quantity * (regular[j, t] - price[j, t]), 2),
            Columns.unit_cost: market.cost[j, t],
        }
    )
