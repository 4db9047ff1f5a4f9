"""The local backend: the verbs run in this process with pandas/numpy (the default)."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from engine.customers.scoring import RiskBands
    from engine.data.dataset import ShopData
    from engine.recommend.base import RecommenderModel


class LocalBackend:
    """Today's single-node code behind the backend verbs (:class:`engine.backend.base.Backend`).

    As in the Spark backend, the purchase aggregates of a table as of a date are computed once and kept
    while the table lives: every recommender's fit asks for them (its cold-start segments), about 20
    times on the same windows in ``crm train recommender`` (~2 s each on Complete Journey). The key is
    the table's identity, length and the date; a caller gets a copy, so the kept frame cannot change."""

    name = "local"

    def __init__(self) -> None:
        self._aggregates: dict[tuple[int, int, pd.Timestamp], pd.DataFrame] = {}

    def read_lines_from_file(self, shop: ShopData) -> bool:
        return False  # the verbs read the table itself

    def purchase_aggregates(self, transactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
        from engine.customers.rfm import purchase_aggregates

        key = (id(transactions), len(transactions), pd.Timestamp(as_of))
        if key not in self._aggregates:
            self._aggregates[key] = purchase_aggregates(transactions, as_of)
            weakref.finalize(transactions, self._aggregates.pop, key, None)  # gone with the table
        return self._aggregates[key].copy()

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
        self, customers: pd.DataFrame, churn_dir: Path, out: Path, recommender_dir: Path | None, k: int, bands: RiskBands,
    ) -> int:
        from engine.backend.scoring import score_chunks_to_parquet

        return score_chunks_to_parquet(customers, churn_dir, out, recommender_dir, k, bands)
