"""Batch scoring of every customer -- churn probability and band, expected CLV, value at risk and the
top-N recommendations -- written to a Parquet folder, by the same per-chunk function on both backends:
locally chunk by chunk (:func:`score_chunks_to_parquet`), on Spark in each partition with
``mapInPandas`` (:mod:`engine.backend.spark.scoring`).

The features and the expected CLV come in computed (on the driver, from the backend's aggregates):
the CLV's LightGBM spend is scaled to the probabilistic total over the whole population
(:meth:`engine.customers.clv.ClvModel.window_spend`), a sum no chunk can take alone. Churn scores
and recommendations depend on one customer each, so they are what fans out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from engine.customers.scoring import CHURN_PROBABILITY, EXPECTED_CLV, RISK_BAND, VALUE_AT_RISK, RiskBands
from engine.data.columns import Columns

CUSTOMERS_PER_CHUNK = 50_000
TOP_ITEMS = "top_items"
TOP_SOURCE = "top_source"
SCHEMA = (
    f"`{Columns.customer}` string, `{CHURN_PROBABILITY}` double, `{RISK_BAND}` string, `{EXPECTED_CLV}` double, "
    f"`{VALUE_AT_RISK}` double, `{TOP_ITEMS}` array<string>, `{TOP_SOURCE}` string"
)
Scorer = Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]


def chunk_scorer(churn_dir: Path, recommender_dir: Path | None, k: int, bands: RiskBands) -> Scorer:
    """The function each chunk of customers goes through: load the models once, score every chunk
    (rows: customer_id, the churn features, expected_clv). ``bands``: made :meth:`RiskBands.for_population`
    of the whole population, whose high band's size no chunk can tell alone."""

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


def scoring_table(customers: pd.DataFrame) -> pd.DataFrame:
    """``customers`` (index customer_id; the churn features and ``expected_clv``) as the rows a scorer
    reads: the id as a text column."""
    table = customers.rename_axis(Columns.customer).reset_index()
    table[Columns.customer] = table[Columns.customer].astype(str)
    return table


def score_chunks_to_parquet(
    customers: pd.DataFrame, churn_dir: Path, out: Path, recommender_dir: Path | None = None, k: int = 10,
    bands: RiskBands | None = None,
) -> int:
    """Score ``customers`` chunk by chunk in this process into the Parquet folder ``out`` (one
    ``part-NNNNN.parquet`` per chunk, as Spark writes it; the folder is replaced); returns the rows written."""
    import shutil

    table = scoring_table(customers)
    scorer = chunk_scorer(Path(churn_dir), None if recommender_dir is None else Path(recommender_dir), k, bands or RiskBands())
    chunks = (table.iloc[start:start + CUSTOMERS_PER_CHUNK] for start in range(0, len(table), CUSTOMERS_PER_CHUNK))
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    written = 0
    for number, scored in enumerate(scorer(chunks)):
        scored.to_parquet(out / f"part-{number:05d}.parquet", index=False)
        written += len(scored)
    return written


def chunks_for(rows: int) -> int:
    """How many chunks (Spark partitions) ``rows`` customers are scored in: each loads the models once
    (a few seconds), so a chunk is given enough customers to be worth it."""
    return max(1, math.ceil(rows / CUSTOMERS_PER_CHUNK))
