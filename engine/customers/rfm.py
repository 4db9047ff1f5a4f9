"""Recency, frequency and monetary value per customer as of a date, with quintile scores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.errors import EngineError

RECENCY = "recency_days"
FREQUENCY = "frequency"
MONETARY = "monetary"
R_SCORE, F_SCORE, M_SCORE = "r_score", "f_score", "m_score"
FIRST_PURCHASE = "first_purchase"
LAST_PURCHASE = "last_purchase"
SCORE_BINS = 5


def rank_scores(values: pd.Series, bins: int = SCORE_BINS) -> pd.Series:
    """Equal-count scores 1..bins of ``values`` (higher value, higher score), decided by value alone.

    A customer's score is the bin its lowest rank among equals falls in (``ceil(min_rank * bins / n)``),
    so equal values always share a score and nothing but the value orders customers (an id or file
    order must never split a tie: on CDNOW, 55% of customers have one order and all get F = 1). Without
    ties every bin is filled evenly; a large tie leaves the bins above it thinner or empty."""
    if values.empty:
        return values.astype("int64")
    ranks = values.rank(method="min").to_numpy()
    return pd.Series(np.ceil(ranks * bins / len(values)).astype("int64"), index=values.index)


def rfm_scores(transactions: pd.DataFrame, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """RFM per customer from the lines strictly before ``as_of``.

    - recency_days: days from the last purchase (a line with positive quantity) to ``as_of``;
    - frequency: distinct orders with a purchase;
    - monetary: net revenue (returns reduce it);
    - r/f/m_score: quintiles 1..5 (5 = most recent, most frequent, highest spend).

    Customers with no purchase before ``as_of`` (none, or only returns) are not scored.
    """
    from engine.backend import active_backend

    c = Columns
    as_of = pd.Timestamp(as_of)
    frame = active_backend().purchase_aggregates(transactions, as_of)
    if frame.empty:
        raise EngineError(f"no purchases before as_of={as_of.date()}: nothing to score")
    frame[RECENCY] = (as_of - frame[LAST_PURCHASE]) / pd.Timedelta(days=1)
    frame[R_SCORE] = rank_scores(-frame[RECENCY])
    frame[F_SCORE] = rank_scores(frame[FREQUENCY])
    frame[M_SCORE] = rank_scores(frame[MONETARY])
    frame.index.name = c.customer
    return frame[[RECENCY, FREQUENCY, MONETARY, R_SCORE, F_SCORE, M_SCORE, FIRST_PURCHASE, LAST_PURCHASE]]


def purchase_aggregates(transactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The reduction RFM rests on, in pandas (the local backend's verb): per customer with a purchase
    before ``as_of`` (index sorted), first_purchase, last_purchase, frequency (distinct orders with a
    purchase) and monetary (net revenue of all their lines, returns included)."""
    c = Columns
    past = transactions.loc[transactions[c.timestamp] < as_of]
    purchases = past.loc[past[c.quantity] > 0]
    by_customer = purchases.groupby(c.customer, sort=True)
    frame = pd.DataFrame(
        {
            FIRST_PURCHASE: by_customer[c.timestamp].min(),
            LAST_PURCHASE: by_customer[c.timestamp].max(),
            FREQUENCY: by_customer[c.order].nunique(),
        }
    )
    frame[MONETARY] = past.groupby(c.customer)[c.revenue].sum().reindex(frame.index)
    frame.index.name = c.customer
    return frame
