"""Implicit ALS fitted with ``pyspark.ml.recommendation.ALS(implicitPrefs=True)``, its factors exported
into :class:`~engine.recommend.als.ALSRecommender`: the saved model is an ordinary ``als`` model, so
serving loads it with the local class and answers new customers and unknown items with the engine's own
fold-in and cold start.

Parameter mapping (implicit -> Spark), for the confidence-weighted matrix ``W`` the engine builds:

- implicit minimises ``sum c_ui (p_ui - x_u.y_i)^2 + lambda (|x_u|^2 + |y_i|^2)`` with ``c_ui = W_ui``
  on observed cells (1 elsewhere). Spark uses ``c_ui = 1 + alpha r_ui``; we pass ``alpha = 1`` and
  ``r_ui = max(W_ui - 1, MIN_RATING)``, so ``c_ui = W_ui`` exactly wherever ``W_ui >= 1`` (a weight
  below 1 becomes confidence ~1: still a positive preference, never dropped as Spark drops ``r = 0``);
- Spark scales the penalty of each user (item) by its number of interactions ("ALS-WR"):
  ``regParam n_u``. implicit's constant ``regularization`` is matched on the average customer:
  ``regParam = regularization / mean interactions per customer``. Heavy customers are then penalised
  more than by implicit, light ones less: factors differ, and the parity test bounds the effect on
  recall@10 (tests/engine/backend/spark/test_spark_backend.py);
- ``factors -> rank``, ``iterations -> maxIter``, ``random_state -> seed``; ``num_threads`` has no
  equivalent (Spark's parallelism comes from its partitions: ``numUserBlocks``/``numItemBlocks``).

A customer or item without any interaction gets zero factors (Spark has none for them): never NaN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd
from scipy import sparse

from engine.recommend.als import ALSRecommender
from engine.recommend.training_data import TrainingData

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MIN_RATING = 1e-6


def spark_reg_param(weighted: sparse.csr_matrix, regularization: float) -> float:
    """Spark's ``regParam`` equivalent to implicit's ``regularization`` for the average customer."""
    per_customer = np.diff(weighted.indptr)
    mean = per_customer[per_customer > 0].mean() if (per_customer > 0).any() else 1.0
    return float(regularization / mean)


def spark_ratings(weighted: sparse.csr_matrix) -> pd.DataFrame:
    """user, item, rating rows such that Spark's ``1 + r`` confidence is the engine's weight."""
    cells = weighted.tocoo()
    return pd.DataFrame(
        {
            "user": cells.row.astype(np.int32),
            "item": cells.col.astype(np.int32),
            "rating": np.maximum(cells.data.astype(np.float64) - 1.0, MIN_RATING),
        }
    )


def dense_factors(rows: pd.DataFrame, n: int, rank: int) -> np.ndarray:
    """Spark's (id, features) factor rows as an n x rank float32 matrix (zeros for missing ids)."""
    factors = np.zeros((n, rank), dtype=np.float32)
    if len(rows):
        factors[rows["id"].to_numpy()] = np.stack(rows["features"].to_numpy()).astype(np.float32)
    return factors


class SparkALSRecommender(ALSRecommender):
    """:class:`ALSRecommender` whose factors are learned by Spark ML (same parameters, same saved
    files, ``kind`` ``als``). The session is a class attribute set by the backend that hands the class
    out (:meth:`SparkBackend.model_class`), so that the constructor keeps the estimator contract."""

    spark: ClassVar[SparkSession | None] = None

    def _fit_weighted(self, weighted: sparse.csr_matrix, data: TrainingData) -> None:
        from pyspark.ml.recommendation import ALS

        from engine.backend.spark.session import size_partitions

        spark = type(self).spark
        if spark is None:
            raise RuntimeError("SparkALSRecommender is used without a session: get it from SparkBackend.model_class")
        ratings = spark_ratings(weighted)
        blocks = size_partitions(spark, len(ratings))
        als = ALS(
            rank=self.factors,
            maxIter=self.iterations,
            regParam=spark_reg_param(weighted, self.regularization),
            implicitPrefs=True,
            alpha=1.0,
            userCol="user",
            itemCol="item",
            ratingCol="rating",
            seed=self.random_state,
            numUserBlocks=blocks,
            numItemBlocks=blocks,
            checkpointInterval=5,
            intermediateStorageLevel="MEMORY_AND_DISK",
            finalStorageLevel="MEMORY_AND_DISK",
        )
        model = als.fit(spark.createDataFrame(ratings))
        self.user_factors_ = dense_factors(model.userFactors.toPandas(), weighted.shape[0], self.factors)
        self.item_factors_ = dense_factors(model.itemFactors.toPandas(), weighted.shape[1], self.factors)
        self._solver = None
