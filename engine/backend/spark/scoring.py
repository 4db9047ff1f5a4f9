"""Batch scoring of every customer with ``mapInPandas``, written to Parquet: churn probability and
band, value at risk and the top-N recommendations, each partition loading the saved models once.

The features and the expected CLV come in computed (on the driver, from the backend's aggregates):
the CLV's LightGBM spend is scaled to the probabilistic total over the whole population
(:meth:`engine.customers.clv.ClvModel.window_spend`), a sum no partition can take alone. Churn scores
and recommendations depend on one customer each, so they are what fans out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from engine.customers.scoring import CHURN_PROBABILITY, EXPECTED_CLV, RISK_BAND, VALUE_AT_RISK, RiskBands
from engine.data.columns import Columns

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CUSTOMERS_PER_PARTITION = 50_000
TOP_ITEMS = "top_items"
TOP_SOURCE = "top_source"
SCHEMA = (
    f"`{Columns.customer}` string, `{CHURN_PROBABILITY}` double, `{RISK_BAND}` string, `{EXPECTED_CLV}` double, "
    f"`{VALUE_AT_RISK}` double, `{TOP_ITEMS}` array<string>, `{TOP_SOURCE}` string"
)


def partition_scorer(
    churn_dir: Path, recommender_dir: Path | None, k: int, bands: RiskBands
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The function each partition runs: load the models once, score every chunk of customers (rows:
    customer_id, the churn features, expected_clv)."""

    def score(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from engine.customers.churn_gbm import ChurnClassifier
        from engine.recommend.registry import load_recommender

        churn = ChurnClassifier.load(churn_dir)
        recommender = load_recommender(recommender_dir) if recommender_dir is not None else None
        for chunk in chunks:
            ids = chunk[Columns.customer].astype(str)
            probability = churn.predict_proba(chunk.set_index(Columns.customer))
            clv = chunk[EXPECTED_CLV].to_numpy(dtype=float)
            top = recommender.recommend(list(ids), k) if recommender is not None else []
            yield pd.DataFrame(
                {
                    Columns.customer: ids.to_numpy(),
                    CHURN_PROBABILITY: probability,
                    RISK_BAND: bands.assign(probability),
                    EXPECTED_CLV: clv,
                    VALUE_AT_RISK: probability * clv,
                    TOP_ITEMS: [list(r.item_ids) for r in top] if top else [[] for _ in range(len(ids))],
                    TOP_SOURCE: [r.source for r in top] if top else [None] * len(ids),
                }
            )

    return score


def score_to_parquet(
    spark: SparkSession,
    customers: pd.DataFrame,
    churn_dir: Path,
    out: Path,
    recommender_dir: Path | None = None,
    k: int = 10,
    bands: RiskBands | None = None,
) -> int:
    """Score ``customers`` (index customer_id; the churn model's features and ``expected_clv``) with
    ``mapInPandas`` and write them to the Parquet folder ``out``; returns the number of rows written."""
    table = customers.rename_axis(Columns.customer).reset_index()
    table[Columns.customer] = table[Columns.customer].astype(str)
    # each partition's Python worker imports the engine and loads the models once: a few seconds, so
    # a partition is given enough customers to be worth it
    frame = spark.createDataFrame(table).repartition(max(1, math.ceil(len(table) / CUSTOMERS_PER_PARTITION)))
    scorer = partition_scorer(Path(churn_dir).resolve(), None if recommender_dir is None else Path(recommender_dir).resolve(), k, bands or RiskBands())
    frame.mapInPandas(scorer, SCHEMA).write.mode("overwrite").parquet(str(out))
    return int(spark.read.parquet(str(out)).count())
