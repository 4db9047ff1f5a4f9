"""The customer reductions in Spark SQL: the same definitions as the local backend's
(:func:`engine.customers.rfm.purchase_aggregates`, :func:`engine.customers.btyd_data.customer_day_totals`),
returning the small pandas frames (one row per customer or customer-day) everything downstream reads.

Money is summed the way pandas sums a group: in the table's row order with Kahan compensation
(:func:`row_order_sum`), so the sums are bit for bit the local backend's, however Spark splits the
table (a plain Spark ``sum`` adds in partition order and differs in the last bits).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from engine.customers.rfm import FIRST_PURCHASE, FREQUENCY, LAST_PURCHASE, MONETARY
from engine.data.columns import Columns

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

ROW = "_row"  # the line's position in the source table (transactions.py adds it)


def row_order_sum(name: str) -> Column:
    """The group's sum of ``name`` as pandas' groupby computes it: in row order, Kahan-compensated
    (pandas ``group_sum``; a compensation that turns NaN, from inf - inf, restarts at 0)."""
    from pyspark.sql import functions as F

    values = F.array_sort(F.collect_list(F.struct(F.col(ROW), F.col(name).alias("v"))))

    def add(total: Column, line: Column) -> Column:
        y = line["v"] - total["c"]
        t = total["s"] + y
        c = (t - total["s"]) - y
        return F.struct(t.alias("s"), F.when(F.isnan(c), F.lit(0.0)).otherwise(c).alias("c"))

    start = F.struct(F.lit(0.0).alias("s"), F.lit(0.0).alias("c"))
    return F.aggregate(values, start, add, lambda total: total["s"])


def _before(lines: DataFrame, as_of: pd.Timestamp | None) -> DataFrame:
    from pyspark.sql import functions as F

    return lines if as_of is None else lines.where(F.col(Columns.timestamp) < F.lit(as_of.to_pydatetime()))


def purchase_aggregates(lines: DataFrame, as_of: pd.Timestamp, like: pd.DataFrame | None = None) -> pd.DataFrame:
    """first_purchase, last_purchase, frequency, monetary per customer with a purchase before ``as_of``
    (index customer_id, sorted); ``like`` (the pandas transactions) gives the id and time dtypes back."""
    from pyspark.sql import functions as F

    c = Columns
    past = _before(lines, as_of)
    bought = past.where(F.col(c.quantity) > 0).groupBy(c.customer).agg(
        F.min(c.timestamp).alias(FIRST_PURCHASE),
        F.max(c.timestamp).alias(LAST_PURCHASE),
        F.countDistinct(c.order).alias(FREQUENCY),
    )
    money = past.groupBy(c.customer).agg(row_order_sum(c.revenue).alias(MONETARY))
    frame = bought.join(money, on=c.customer, how="left").toPandas()
    frame = _like(frame, like, {FIRST_PURCHASE: c.timestamp, LAST_PURCHASE: c.timestamp})
    frame[FREQUENCY] = frame[FREQUENCY].astype("int64")
    return frame.set_index(c.customer).sort_index()[[FIRST_PURCHASE, LAST_PURCHASE, FREQUENCY, MONETARY]]


def customer_days(
    lines: DataFrame, as_of: pd.Timestamp | None, with_orders: bool = False, like: pd.DataFrame | None = None
) -> pd.DataFrame:
    """customer_id, day, value, bought (and orders) per customer-day before ``as_of``, sorted."""
    from pyspark.sql import functions as F

    c = Columns
    purchase = F.col(c.quantity) > 0
    totals = [row_order_sum(c.revenue).alias("value"), F.max(purchase).alias("bought")]
    if with_orders:
        totals.append(F.countDistinct(F.when(purchase, F.col(c.order))).alias("orders"))
    day = F.date_trunc("day", F.col(c.timestamp)).alias("day")
    frame = _before(lines, as_of).groupBy(F.col(c.customer), day).agg(*totals).toPandas()
    frame = _like(frame, like, {"day": c.timestamp})
    frame["bought"] = frame["bought"].astype(bool)
    if with_orders:
        frame["orders"] = frame["orders"].astype("int64")
    return frame.sort_values([c.customer, "day"], ignore_index=True)


def _like(frame: pd.DataFrame, like: pd.DataFrame | None, times: dict[str, str]) -> pd.DataFrame:
    """Give the collected frame the pandas table's dtypes: ids as they were (Spark held them as text),
    times as the table's datetime unit."""
    if like is None:
        return frame
    c = Columns
    if c.customer in like:
        frame[c.customer] = frame[c.customer].astype(like[c.customer].dtype)
    for name, source in times.items():
        frame[name] = frame[name].astype(like[source].dtype)
    return frame
