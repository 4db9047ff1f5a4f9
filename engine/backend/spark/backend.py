"""The Spark backend behind :class:`engine.backend.base.Backend` (see :mod:`engine.backend.spark`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from engine.backend.spark import aggregates
from engine.backend.spark.transactions import SparkFrames

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from engine.recommend.base import RecommenderModel


class SparkBackend:
    """The verbs on a Spark session: customer reductions in Spark SQL, ALS in Spark ML, the per-product
    slopes fanned out per category. A pandas table is copied into Spark once and reused by every verb."""

    name = "spark"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._frames = SparkFrames(spark)

    def purchase_aggregates(self, transactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
        return aggregates.purchase_aggregates(self._frames.of(transactions), as_of, like=transactions)

    def customer_days(
        self, transactions: pd.DataFrame, as_of: pd.Timestamp | None, with_orders: bool = False
    ) -> pd.DataFrame:
        return aggregates.customer_days(self._frames.of(transactions), as_of, with_orders, like=transactions)

    def product_slopes(self, frame: pd.DataFrame, y: str, x: str, instrument: str | None) -> pd.DataFrame:
        from engine.backend.spark.fanout import spark_product_slopes

        return spark_product_slopes(self.spark, frame, y, x, instrument)

    def model_class(self, kind: str, default: type[RecommenderModel]) -> type[RecommenderModel]:
        from engine.backend.spark.als import SparkALSRecommender

        if kind != SparkALSRecommender.kind:
            return default
        return type("SparkALSRecommender", (SparkALSRecommender,), {"spark": self.spark})
