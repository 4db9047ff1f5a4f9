"""Per-category work fanned out with ``groupBy().applyInPandas``: each group runs the very function
the local backend runs on the whole frame (:func:`engine.pricing.base.product_slopes`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.pricing import panel as P
from engine.pricing.base import panel_lags, product_slopes
from engine.pricing.shrinkage import RAW_ELASTICITY, RAW_SE, WEEKS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_product_slopes(
    spark: SparkSession, frame: pd.DataFrame, y: str, x: str, instrument: str | None = None
) -> pd.DataFrame:
    """:func:`product_slopes` fanned out per category (per product without a category column): a
    category's results depend only on its own rows, and the Newey-West lags are the whole panel's,
    so each group's answer is the one the whole-frame call gives."""
    c = Columns
    group = c.category if c.category in frame else c.item
    lags = panel_lags(frame[P.WEEK]) if P.WEEK in frame else None
    columns = list(dict.fromkeys([c.item, group, y, x, *([instrument] if instrument else []), *([P.WEEK] if P.WEEK in frame else [])]))
    ids = frame[c.item].dtype

    def per_group(rows: pd.DataFrame) -> pd.DataFrame:
        result = product_slopes(rows, y, x, instrument, lags)
        return result.assign(**{c.item: result[c.item].astype(str), WEEKS: result[WEEKS].astype("int64")})

    table = frame[columns].copy()
    for name in {c.item, group}:
        table[name] = table[name].astype(str)
    schema = f"`{c.item}` string, `{RAW_ELASTICITY}` double, `{RAW_SE}` double, `{WEEKS}` long"
    result: pd.DataFrame = spark.createDataFrame(table).groupBy(group).applyInPandas(per_group, schema).toPandas()
    result[c.item] = result[c.item].astype(ids) if not pd.api.types.is_object_dtype(ids) else result[c.item]
    result = result.sort_values(c.item, ignore_index=True)
    result[WEEKS] = result[WEEKS].astype(np.int64)
    return result
