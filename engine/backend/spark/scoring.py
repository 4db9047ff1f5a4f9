"""Batch scoring of every customer with ``mapInPandas``, written to Parquet: the chunk scorer of
:mod:`engine.backend.scoring` run in each partition (see there for what is scored and why the CLV
comes in computed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from engine.backend.scoring import SCHEMA, chunk_scorer, chunks_for, scoring_table
from engine.customers.scoring import RiskBands

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


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
    table = scoring_table(customers)
    frame = spark.createDataFrame(table).repartition(chunks_for(len(table)))
    # each partition's Python worker imports the engine and loads the models once
    scorer = chunk_scorer(Path(churn_dir).resolve(), None if recommender_dir is None else Path(recommender_dir).resolve(), k, bands or RiskBands())
    frame.mapInPandas(scorer, SCHEMA).write.mode("overwrite").parquet(str(out))
    return int(spark.read.parquet(str(out)).count())
