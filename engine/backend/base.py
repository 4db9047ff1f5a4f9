"""The few verbs a pipeline hands to a backend: the steps whose cost grows with the whole table.

Each verb has a local implementation (today's pandas/numpy code, :mod:`engine.backend.local`) and a
Spark one (:mod:`engine.backend.spark`). A verb returns small pandas frames (one row per customer,
customer-day or product), so everything downstream of it -- scores, segment rules, tiers' windows,
LightGBM, the BG/NBD fits -- is the same code on both backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pandas as pd

if TYPE_CHECKING:
    from engine.customers.scoring import RiskBands
    from engine.data.dataset import ShopData
    from engine.recommend.base import RecommenderModel


class Backend(Protocol):
    """What a backend implements (see the module docstring)."""

    name: str

    def read_lines_from_file(self, shop: ShopData) -> bool:
        """Where ``shop``'s transactions are the validated lines of a file this backend reads itself,
        let the verbs on that table read the file rather than copy the table; whether they will."""
        ...

    def purchase_aggregates(self, transactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
        """Per customer with a purchase before ``as_of`` (index customer_id, sorted): first_purchase,
        last_purchase, frequency (distinct orders with a purchase), monetary (net revenue of all lines)."""
        ...

    def customer_days(
        self, transactions: pd.DataFrame, as_of: pd.Timestamp | None, with_orders: bool = False
    ) -> pd.DataFrame:
        """One row per (customer, day with a line) before ``as_of``, sorted: customer_id, day, value
        (net revenue), bought (any positive quantity) and, with ``with_orders``, orders (distinct
        orders with a purchase)."""
        ...

    def product_slopes(self, frame: pd.DataFrame, y: str, x: str, instrument: str | None) -> pd.DataFrame:
        """:func:`engine.pricing.base.product_slopes` on the whole frame (per product results)."""
        ...

    def model_class(self, kind: str, default: type[RecommenderModel]) -> type[RecommenderModel]:
        """The class that fits a recommender of ``kind`` on this backend (``default``: the local one).
        Whatever class fits it, the model saves as ``kind`` and loads with the local class."""
        ...

    def score_to_parquet(
        self, customers: pd.DataFrame, churn_dir: Path, out: Path, recommender_dir: Path | None, k: int, bands: RiskBands,
    ) -> int:
        """Score every row of ``customers`` (index customer_id; the churn features and ``expected_clv``)
        with the saved churn model (and recommender: top ``k``) into the Parquet folder ``out``
        (:mod:`engine.backend.scoring`); returns the rows written."""
        ...
