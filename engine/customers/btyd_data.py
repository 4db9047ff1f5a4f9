"""The per-customer summary the "buy till you die" models are fitted on: repeat purchases, recency,
age and mean repeat spend, measured in an explicit time unit.

Conventions (those of Fader, Hardie & Lee, so that the published CDNOW figures are reproduced):

- a *purchase* is a calendar day on which the customer bought something (a line with positive
  quantity); several orders on one day count once, and the day's value is its net revenue (a return
  booked the same day reduces it). Days with only returns are not purchases;
- ``frequency`` (x) counts repeat purchases: purchase days after the first one;
- ``recency`` (t_x) is the time from the first to the last purchase day;
- ``T`` is the time from the first purchase day to the last day observed, the day before ``as_of``
  (lines at or after ``as_of`` are ignored), so a customer who bought on that day has t_x = T;
- ``monetary`` is the mean value of the repeat purchases (0 when there are none).

Times are whole days divided by the unit's length (``days`` = 1, ``weeks`` = 7).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.errors import DataValidationError, EngineError

TimeUnit = Literal["days", "weeks"]
UNIT_DAYS: dict[str, float] = {"days": 1.0, "weeks": 7.0}
DAYS_PER_MONTH = 365.25 / 12

FREQUENCY = "frequency"
RECENCY = "recency"
AGE = "T"
MONETARY = "monetary"
FIRST_PURCHASE_DAY = "first_purchase_day"
TIME_UNIT_ATTR = "time_unit"


def unit_days(time_unit: str) -> float:
    """Length of one time unit in days; an unknown unit is an error naming the known ones."""
    if time_unit not in UNIT_DAYS:
        raise EngineError(f"time_unit must be one of {sorted(UNIT_DAYS)}, got {time_unit!r}")
    return UNIT_DAYS[time_unit]


def in_units(days: float, time_unit: str) -> float:
    """A duration in days expressed in ``time_unit``."""
    return float(days) / unit_days(time_unit)


def purchase_days(transactions: pd.DataFrame, as_of: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per (customer, calendar day with a purchase) before ``as_of``: columns customer_id,
    day, value (the day's net revenue)."""
    from engine.backend import active_backend

    daily = active_backend().customer_days(transactions, None if as_of is None else pd.Timestamp(as_of))
    return daily.loc[daily["bought"], [Columns.customer, "day", "value"]].reset_index(drop=True)


def customer_day_totals(
    transactions: pd.DataFrame, as_of: pd.Timestamp | None = None, with_orders: bool = False
) -> pd.DataFrame:
    """The reduction of lines to customer-days, in pandas (the local backend's verb): one row per
    (customer, calendar day with a line) before ``as_of``, sorted, with value (the day's net revenue),
    bought (a line with positive quantity that day) and, with ``with_orders``, orders (distinct orders
    with a purchase that day)."""
    c = Columns
    lines = transactions if as_of is None else transactions.loc[transactions[c.timestamp] < as_of]
    bought = lines[c.quantity] > 0
    extra = {"purchase_order": lines[c.order].where(bought)} if with_orders else {}
    grouped = lines.assign(day=lines[c.timestamp].dt.normalize(), bought=bought, **extra).groupby([c.customer, "day"], sort=True)
    totals = {"value": (c.revenue, "sum"), "bought": ("bought", "any")}
    if with_orders:
        totals["orders"] = ("purchase_order", "nunique")
    return grouped.agg(**totals).reset_index()


def btyd_summary(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp,
    time_unit: TimeUnit = "weeks",
) -> pd.DataFrame:
    """frequency, recency, T, monetary and first_purchase_day of every customer with a purchase before
    ``as_of`` (index customer_id); ``frame.attrs["time_unit"]`` records the unit. See the module
    docstring for the exact conventions."""
    c = Columns
    days_per_unit = unit_days(time_unit)
    as_of = pd.Timestamp(as_of)
    daily = purchase_days(transactions, as_of)
    if daily.empty:
        raise EngineError(f"no purchases before as_of={as_of}: nothing to summarise")
    last_day = (as_of - pd.Timedelta(1, "ns")).normalize()
    grouped = daily.groupby(c.customer, sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    count = grouped.size()
    total = grouped["value"].sum()
    first_value = grouped["value"].first()  # days are sorted within each customer
    frequency = count - 1
    repeat_total = total - first_value
    summary = pd.DataFrame(
        {
            FREQUENCY: frequency.astype("int64"),
            RECENCY: (last - first).dt.days / days_per_unit,
            AGE: (last_day - first).dt.days / days_per_unit,
            MONETARY: np.where(frequency > 0, repeat_total / frequency.where(frequency > 0, 1), 0.0),
            FIRST_PURCHASE_DAY: first,
        }
    )
    summary.index.name = c.customer
    summary.attrs[TIME_UNIT_ATTR] = time_unit
    return summary


def summary_arrays(summary: pd.DataFrame, time_unit: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked (frequency, recency, T) arrays of a summary frame in ``time_unit``.

    A frame that records another unit, missing columns, negative or non-integer frequencies, or a
    recency beyond T are errors naming the column and the first offending customer.
    """
    recorded = summary.attrs.get(TIME_UNIT_ATTR)
    if recorded is not None and recorded != time_unit:
        raise EngineError(f"summary is in {recorded!r} but the model works in {time_unit!r}; rebuild it with time_unit={time_unit!r}")
    missing = [name for name in (FREQUENCY, RECENCY, AGE) if name not in summary]
    if missing:
        raise DataValidationError(f"summary: missing column(s) {missing}; build it with btyd_summary()")
    x = summary[FREQUENCY].to_numpy(dtype=float)
    t_x = summary[RECENCY].to_numpy(dtype=float)
    age = summary[AGE].to_numpy(dtype=float)
    checks = [
        (FREQUENCY, ~np.isfinite(x) | (x < 0) | (x != np.round(x)), "a non-negative whole number"),
        (RECENCY, ~np.isfinite(t_x) | (t_x < 0), "finite and >= 0"),
        (AGE, ~np.isfinite(age) | (age < t_x) | (age < 0), f"finite and >= {RECENCY}"),
        (RECENCY, (x == 0) & (t_x != 0), "0 for a customer without repeat purchases"),
    ]
    for column, bad, rule in checks:
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"summary: {int(bad.sum()):,} row(s) where {column} is not {rule}, e.g. customer "
                f"{summary.index[position]!r} ({FREQUENCY}={x[position]}, {RECENCY}={t_x[position]}, {AGE}={age[position]})"
            )
    return x, t_x, age
