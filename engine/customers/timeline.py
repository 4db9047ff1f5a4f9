"""Each customer's purchases month by month: what a customer page draws as a purchase timeline."""

from __future__ import annotations

import pandas as pd

from engine.data.columns import Columns

MONTH, SPEND, ORDERS = "month", "spend", "orders"


def monthly_purchases(transactions: pd.DataFrame, as_of: str | pd.Timestamp, months: int = 12) -> pd.DataFrame:
    """Net spend (returns reduce it) and orders per customer and calendar month, over the ``months``
    months that end with the one before ``as_of`` (lines from ``as_of`` on are left out: no look-ahead).
    Rows: one per customer and month with a line; columns customer_id, month (first day), spend, orders."""
    c = Columns
    as_of = pd.Timestamp(as_of)
    start = (as_of - pd.DateOffset(months=months)).to_period("M").to_timestamp()
    lines = transactions.loc[(transactions[c.timestamp] < as_of) & (transactions[c.timestamp] >= start)]
    month = lines[c.timestamp].dt.to_period("M").dt.to_timestamp().rename(MONTH)
    grouped = lines.groupby([lines[c.customer].astype(str), month], sort=True)
    frame = pd.DataFrame({SPEND: grouped[c.revenue].sum(), ORDERS: grouped[c.order].nunique()}).reset_index()
    return frame.astype({SPEND: float, ORDERS: int})
