"""Canonical transactions as a Spark DataFrame: from a validated pandas table (Arrow), or straight from
Parquet files or a catalogue table with the canonical columns (checked here against the core of the
transactions contract, so a bad row is named rather than aggregated)."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.errors import DataValidationError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# what the aggregating verbs read: nothing else crosses into Spark
NEEDED = (Columns.customer, Columns.item, Columns.order, Columns.timestamp, Columns.quantity, Columns.revenue)


class SparkFrames:
    """Spark copies of pandas transactions, converted once per table (a pipeline calls several verbs on
    the same table) and dropped with it."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._copies: dict[int, tuple[weakref.ref[pd.DataFrame], DataFrame]] = {}
        self._on_drop: dict[int, list[Callable[[], object]]] = {}

    def of(self, transactions: pd.DataFrame) -> DataFrame:
        """The Spark DataFrame of ``transactions``' needed columns (ids as text)."""
        key = id(transactions)
        held = self._copies.get(key)
        if held is not None and held[0]() is transactions:
            return held[1]
        frame = to_spark(self.spark, transactions)
        self._copies[key] = (weakref.ref(transactions, lambda _: self._drop(key)), frame)
        return frame

    def on_drop(self, transactions: pd.DataFrame, forget: Callable[[], object]) -> None:
        """Call ``forget`` when ``transactions`` (converted by :meth:`of`) is dropped: what a caller
        derived from the table goes with it (a new table at the same address is not mistaken for it)."""
        self._on_drop.setdefault(id(transactions), []).append(forget)

    def _drop(self, key: int) -> None:
        for forget in self._on_drop.pop(key, []):
            forget()
        held = self._copies.pop(key, None)
        if held is not None:
            # the table may go after the session stopped (at exit): nothing is left to free then
            with contextlib.suppress(Exception):
                held[1].unpersist()


def to_spark(spark: SparkSession, transactions: pd.DataFrame) -> DataFrame:
    """Transactions' needed columns as a cached Spark DataFrame (ids as text, timestamps in UTC)."""
    from engine.backend.spark.aggregates import ROW
    from engine.backend.spark.session import size_partitions

    columns = [name for name in NEEDED if name in transactions]
    table = transactions[columns].copy()
    table[ROW] = np.arange(len(table), dtype=np.int64)
    for name in (Columns.customer, Columns.item, Columns.order):
        if name in table and not pd.api.types.is_integer_dtype(table[name]):
            table[name] = table[name].astype(str)
    size_partitions(spark, len(table))
    return spark.createDataFrame(table).cache()


def read_transactions(spark: SparkSession, source: str) -> DataFrame:
    """Canonical transactions from Parquet (a path ending in .parquet/.pq, or a folder of them) or a
    catalogue table name, with ``revenue`` derived as in :func:`engine.data.schema.validate_transactions`
    when absent. Rows breaking the core contract (missing id or timestamp, zero quantity, negative or
    missing price) are refused with their count and the first offending row."""
    from pyspark.sql import functions as F

    from engine.backend.spark.aggregates import ROW
    from engine.backend.spark.session import size_partitions

    c = Columns
    frame = spark.read.parquet(source) if source.endswith((".parquet", ".pq", "/")) else spark.table(source)
    missing = [name for name in c.TRANSACTION_REQUIRED if name not in frame.columns]
    if missing:
        raise DataValidationError(f"{source}: missing required column(s) {missing}; has {frame.columns}")
    if dict(frame.dtypes)[c.timestamp] == "bigint":  # nanoseconds since the epoch (a pandas-written file)
        frame = frame.withColumn(c.timestamp, F.timestamp_micros(F.floor(F.col(c.timestamp) / 1000)))
    bad = (
        F.col(c.customer).isNull() | F.col(c.item).isNull() | F.col(c.order).isNull() | F.col(c.timestamp).isNull()
        | F.col(c.quantity).isNull() | (F.col(c.quantity) == 0)
        | F.col(c.unit_price).isNull() | (F.col(c.unit_price) < 0)
    )
    offending = frame.where(bad)
    first = offending.limit(1).collect()
    if first:
        raise DataValidationError(
            f"{source}: {offending.count():,} row(s) break the transactions contract (missing id or timestamp, "
            f"zero quantity, missing or negative unit_price); first: {first[0].asDict()}"
        )
    if c.revenue not in frame.columns:
        discount = F.coalesce(F.col(c.discount), F.lit(0.0)) if c.discount in frame.columns else F.lit(0.0)
        sign = F.when(F.col(c.quantity) < 0, -1.0).otherwise(1.0)
        frame = frame.withColumn(c.revenue, F.col(c.quantity) * F.col(c.unit_price) - sign * discount)
    frame = frame.select(*[F.col(name) for name in NEEDED]).withColumn(ROW, F.monotonically_increasing_id())
    for name in (c.customer, c.item, c.order):
        frame = frame.withColumn(name, F.col(name).cast("string"))
    size_partitions(spark, frame.count())
    return frame.cache()
