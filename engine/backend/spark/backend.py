"""The Spark backend behind :class:`engine.backend.base.Backend` (see :mod:`engine.backend.spark`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from engine.backend.spark import aggregates
from engine.backend.spark.transactions import SparkFrames

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from engine.customers.scoring import RiskBands
    from engine.data.dataset import ShopData
    from engine.recommend.base import RecommenderModel


class SparkBackend:
    """The verbs on a Spark session: customer reductions in Spark SQL, ALS in Spark ML, the per-product
    slopes fanned out per category. A table loaded from a Parquet file is read by Spark from the file
    (:meth:`read_lines_from_file`); any other table is copied into Spark; either once, reused by every verb.

    The purchase aggregates of a table as of a date are computed once and kept while the table lives:
    every recommender's fit asks for them (its cold-start segments), a dozen times on the same training
    window in ``crm train recommender``, and each Spark job costs ~20 s where pandas takes ~2 s (Complete
    Journey, 2 cores). A caller gets a copy, so the kept frame cannot be changed."""

    name = "spark"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._frames = SparkFrames(spark)
        self._aggregates: dict[tuple[int, pd.Timestamp], pd.DataFrame] = {}

    def read_lines_from_file(self, shop: ShopData) -> bool:
        from engine.data.validation_report import ROW

        if shop.transactions_file is None:
            return False
        report = next((r for r in shop.reports if r.table == "transactions"), None)
        skipped = report.quarantined[ROW].to_numpy(dtype=np.int64) if report is not None else np.empty(0, np.int64)
        return self._frames.read_from(shop.transactions, shop.transactions_file, skipped)

    def purchase_aggregates(self, transactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
        lines = self._frames.of(transactions)  # keyed like the copy: both go when the table goes
        key = (id(transactions), pd.Timestamp(as_of))
        if key not in self._aggregates:
            self._aggregates[key] = aggregates.purchase_aggregates(lines, as_of, like=transactions)
            self._frames.on_drop(transactions, lambda: self._aggregates.pop(key, None))
        return self._aggregates[key].copy()

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

    def score_to_parquet(
        self, customers: pd.DataFrame, churn_dir: Path, out: Path, recommender_dir: Path | None, k: int, bands: RiskBands,
    ) -> int:
        from engine.backend.spark.scoring import score_to_parquet

        return score_to_parquet(self.spark, customers, churn_dir, out, recommender_dir, k, bands)
