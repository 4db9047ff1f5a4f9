"""Canonical transactions as a Spark DataFrame: read by Spark itself from Parquet files or a catalogue
table (checked here against the core of the transactions contract, so a bad row is named by its row
number rather than aggregated), or copied from a validated pandas table (Arrow) when there is no file
Spark can read the same way."""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.dataset import TransactionsFile
from engine.errors import DataValidationError, EngineError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_log = logging.getLogger(__name__)
# what the aggregating verbs read: nothing else crosses into Spark
NEEDED = (Columns.customer, Columns.item, Columns.order, Columns.timestamp, Columns.quantity, Columns.revenue)


class SparkFrames:
    """The Spark frames of pandas transactions, made once per table (a pipeline calls several verbs on
    the same table) and dropped with it: read by Spark from the table's Parquet file when the table is
    that file's validated lines (:meth:`read_from`), else copied from the table."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._copies: dict[int, tuple[weakref.ref[pd.DataFrame], DataFrame]] = {}
        self._on_drop: dict[int, list[Callable[[], object]]] = {}
        self._files: dict[int, tuple[weakref.ref[pd.DataFrame], TransactionsFile, np.ndarray]] = {}

    def read_from(self, transactions: pd.DataFrame, origin: TransactionsFile, skipped_rows: np.ndarray) -> bool:
        """Note that ``transactions`` are the lines of the file ``origin`` less ``skipped_rows`` (its
        1-based row numbers the validation quarantined), so :meth:`of` reads them there; whether Spark
        can (a Parquet file)."""
        if not origin.path.endswith((".parquet", ".pq")):
            return False
        key = id(transactions)
        self._files[key] = (weakref.ref(transactions, lambda _: self._files.pop(key, None)), origin, skipped_rows)
        return True

    def of(self, transactions: pd.DataFrame) -> DataFrame:
        """The Spark DataFrame of ``transactions``' needed columns (ids as text)."""
        key = id(transactions)
        held = self._copies.get(key)
        if held is not None and held[0]() is transactions:
            return held[1]
        frame = self._read(transactions)
        if frame is None:
            frame = to_spark(self.spark, transactions)
        self._copies[key] = (weakref.ref(transactions, lambda _: self._drop(key)), frame)
        return frame

    def _read(self, transactions: pd.DataFrame) -> DataFrame | None:
        """The lines read from the table's file (:meth:`read_from`), or ``None`` where there is none or
        a column's type would read differently in Spark (then the table is copied)."""
        rows, noted = len(transactions), self._files.get(id(transactions))
        if noted is None or noted[0]() is not transactions:
            return None
        origin, skipped = noted[1], noted[2]
        try:
            frame = read_transactions(self.spark, origin.path, origin.column_map, skipped)
        except SparkTypesError as why:
            _log.info("copying the table into Spark: %s", why)
            return None
        if (read := frame.count()) != rows:
            frame.unpersist()
            raise EngineError(
                f"{origin.path}: Spark read {read:,} lines where the validated table has {rows:,} "
                "(did the file change since it was loaded?)"
            )
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


class SparkTypesError(DataValidationError):
    """A source column whose type Spark would read differently from the local loader (text numbers or
    timestamps, fractional ids): such a source is read by the local loader and copied into Spark."""


def read_transactions(
    spark: SparkSession, source: str, column_map: Mapping[str, str] | None = None,
    skip_rows: Sequence[int] | np.ndarray = (),
) -> DataFrame:
    """Canonical transactions read by Spark itself from Parquet (a path ending in .parquet/.pq, or a
    folder of them) or a catalogue table name, with ``revenue`` derived as in
    :func:`engine.data.schema.validate_transactions`. ``column_map`` renames the source's
    columns (your name: canonical name); ``skip_rows`` are 1-based row numbers of a single file to leave
    out (the rows the local validation quarantined).

    Each line keeps its place in the source (:data:`ROW`: file and row number, from Parquet's row
    index), so money sums in file order like pandas and a bad row is named by its row number, as the
    local validation names it. Rows breaking the core contract (missing id or timestamp, zero
    quantity, missing or negative price) are refused with their count and the first few rows."""
    from pyspark.sql import functions as F

    from engine.backend.spark.aggregates import ROW
    from engine.backend.spark.session import size_partitions

    c = Columns
    frame, numbered = _with_row_numbers(spark, source)
    frame = frame.withColumnsRenamed(dict(column_map or {}))
    missing = [name for name in c.TRANSACTION_REQUIRED if name not in frame.columns]
    if missing:
        raise DataValidationError(f"{source}: missing required column(s) {missing}; has {frame.columns}")
    frame = _typed(frame, source)
    if len(skip_rows):
        if not numbered:
            raise EngineError(f"{source}: rows can be skipped by number only in a Parquet file")
        skipped = spark.createDataFrame(pd.DataFrame({_LINE: np.asarray(skip_rows, dtype=np.int64)}))
        frame = frame.join(F.broadcast(skipped), on=_LINE, how="left_anti")
    _refuse_bad_rows(frame, source, numbered)
    discount = F.coalesce(F.col(c.discount), F.lit(0.0)) if c.discount in frame.columns else F.lit(0.0)
    sign = F.when(F.col(c.quantity) < 0, -1.0).otherwise(1.0)
    frame = frame.withColumn(c.revenue, F.col(c.quantity) * F.col(c.unit_price) - sign * discount)
    place = F.struct(F.col(_FILE), F.col(_LINE)) if numbered else F.monotonically_increasing_id()
    frame = frame.select(*[F.col(name) for name in NEEDED], place.alias(ROW)).cache()
    size_partitions(spark, frame.count())
    return frame


_FILE, _LINE = "_file", "_line"  # where a line was read: its file and 1-based row number there
_ID_TYPES = ("string", "bigint", "int", "smallint", "tinyint")
_NUMBER_TYPES = ("double", "float", "bigint", "int", "smallint", "tinyint")


def _with_row_numbers(spark: SparkSession, source: str) -> tuple[DataFrame, bool]:
    """The source with each line's file and row number (``_file``, ``_line``) when Spark knows them
    (Parquet files, and catalogue tables stored as files); whether it does."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    frame = spark.read.parquet(source) if source.endswith((".parquet", ".pq", "/")) else spark.table(source)
    try:
        numbered = frame.select(
            "*", F.col("_metadata.file_path").alias(_FILE), (F.col("_metadata.row_index") + 1).alias(_LINE)
        )
        numbered.schema  # noqa: B018 - resolves the columns now: a table that is not files has no _metadata
    except AnalysisException:
        return frame, False
    return numbered, True


def _typed(frame: DataFrame, source: str) -> DataFrame:
    """Ids as text, numbers as double and timestamps as Spark timestamps, for the column types that
    Spark converts exactly as the local loader does; any other type is a :class:`SparkTypesError`."""
    from pyspark.sql import functions as F

    c = Columns
    types = dict(frame.dtypes)
    wrong = [f"{name} ({types[name]})" for name in (c.customer, c.item, c.order) if types[name] not in _ID_TYPES]
    wrong += [f"{name} ({types[name]})" for name in (c.quantity, c.unit_price, c.discount)
              if name in types and types[name] not in _NUMBER_TYPES]
    if types[c.timestamp] not in ("timestamp", "timestamp_ntz", "bigint"):
        wrong.append(f"{c.timestamp} ({types[c.timestamp]})")
    if wrong:
        raise SparkTypesError(
            f"{source}: Spark reads ids as text or whole numbers, quantities and prices as numbers and "
            f"timestamps as a timestamp type; these columns are not: {', '.join(wrong)}"
        )
    if types[c.timestamp] == "bigint":  # nanoseconds since the epoch (a pandas-written file)
        frame = frame.withColumn(c.timestamp, F.timestamp_micros(F.floor(F.col(c.timestamp) / 1000)))
    else:
        frame = frame.withColumn(c.timestamp, F.col(c.timestamp).cast("timestamp"))
    frame = frame.withColumns({name: F.col(name).cast("string") for name in (c.customer, c.item, c.order)})
    return frame.withColumns({name: F.col(name).cast("double") for name in (c.quantity, c.unit_price, c.discount) if name in types})


def _refuse_bad_rows(frame: DataFrame, source: str, numbered: bool, shown: int = 5) -> None:
    """Raise a DataValidationError naming the first ``shown`` rows (by row number where known) that
    break the core contract, with what each breaks and the count of all such rows."""
    from pyspark.sql import functions as F

    c = Columns
    rules = [(F.col(name).isNull(), f"{name}: missing value") for name in (c.customer, c.item, c.order, c.timestamp, c.quantity, c.unit_price)]
    rules += [(F.col(c.quantity) == 0, f"{c.quantity}: zero quantity"), (F.col(c.unit_price) < 0, f"{c.unit_price}: negative price")]
    problems = F.concat_ws("; ", *[F.when(broken, F.lit(text)) for broken, text in rules])
    bad = frame.select("*", problems.alias("_problems")).where(F.col("_problems") != "")
    first = bad.orderBy(_FILE, _LINE).limit(shown).collect() if numbered else bad.limit(shown).collect()
    if not first:
        return
    def where(row: Any) -> str:
        return f"row {row[_LINE]} of {row[_FILE].rsplit('/', 1)[-1]}" if numbered else str({k: row[k] for k in NEEDED if k in row})

    named = "\n".join(f"  {where(row)}: {row['_problems']}" for row in first)
    raise DataValidationError(
        f"{source}: {bad.count():,} row(s) break the transactions contract (missing id or timestamp, zero "
        f"quantity, missing or negative unit_price):\n{named}"
    )
