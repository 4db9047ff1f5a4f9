"""The local backend: the verbs run in this process with pandas/numpy (the default)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from engine.customers.scoring import RiskBands
    from engine.recommend.base import RecommenderModel


class LocalBackend:
    """Today's single-node code behind the backend verbs (:class:`engine.backend.base.Backend`)."""

    name = "local"

    def purchase_aggregates(self, transactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
        from engine.customers.rfm import purchase_aggregates

        return purchase_aggregates(transactions, as_of)

    def customer_days(
        self, transactions: pd.DataFrame, as_of: pd.Timestamp | None, with_orders: bool = False
    ) -> pd.DataFrame:
        from engine.customers.btyd_data import customer_day_totals

        return customer_day_totals(transactions, as_of, with_orders)

    def product_slopes(self, frame: pd.DataFrame, y: str, x: str, instrument: str | None) -> pd.DataFrame:
        from engine.pricing.base import product_slopes

        return product_slopes(frame, y, x, instrument)

    def model_class(self, kind: str, default: type[RecommenderModel]) -> type[RecommenderModel]:
        return default

    def score_to_parquet(
        self, customers: pd.DataFrame, churn_dir: Path, out: Path, recommender_dir: Path | None, k: int, bands: RiskBands
    ) -> int:
        from engine.backend.scoring import score_chunks_to_parquet

        return score_chunks_to_parquet(customers, churn_dir, out, recommender_dir, k, bands)
