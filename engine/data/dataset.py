"""The validated shop: canonical tables plus what validation found and where the data came from."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engine.data.columns import Columns
from engine.data.schema import ValidationReport


@dataclass(frozen=True)
class TransactionsFile:
    """The file a shop's transactions were read from and the column map applied to it (your name:
    canonical name): what an engine that reads files itself (Spark) needs to read the same lines."""

    path: str
    column_map: Mapping[str, str] = field(default_factory=dict)


@dataclass
class ShopData:
    """Canonical, validated tables of one shop.

    ``transactions`` always follows the contract of :func:`engine.data.schema.validate_transactions`;
    ``products`` and ``customers`` are optional. ``promotions`` (display and mailer flags per product and
    ``week_start`` or ``date``) and ``stock`` (stock_on_hand per product and ``week_start`` or ``date``)
    come from sources that have them or from the shop's own files (:mod:`engine.data.shop_tables`);
    ``support_contacts`` and ``surveys`` (what customers said after the sale) likewise
    (:mod:`engine.data.aftersales`). ``truth`` carries the generating parameters of a synthetic shop (``None`` for real data).
    ``transactions_file`` says which file the transactions came from when they came from the user's file.
    """

    transactions: pd.DataFrame
    source: str
    products: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    promotions: pd.DataFrame | None = None
    stock: pd.DataFrame | None = None
    support_contacts: pd.DataFrame | None = None
    surveys: pd.DataFrame | None = None
    reports: list[ValidationReport] = field(default_factory=list)
    truth: Any = None
    transactions_file: TransactionsFile | None = None

    def fingerprint(self) -> str:
        """A content hash of the canonical transactions (same rows in the same order, same hash) and,
        when the shop has them, of its support contacts and surveys (they feed churn and CLV features, so
        a change there is a change of the models' data)."""
        columns = [name for name in (*Columns.TRANSACTION_REQUIRED, Columns.discount) if name in self.transactions]
        digest = hashlib.sha256(pd.util.hash_pandas_object(self.transactions[columns], index=False).to_numpy().tobytes())
        for table in (self.support_contacts, self.surveys):
            if table is not None:
                digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
        return digest.hexdigest()[:16]

    def summary(self) -> dict[str, Any]:
        """Sizes, time range and validation counts, for logs and the CLI; valid JSON (no NaN or
        infinity: an empty table has ``null`` first and last dates)."""
        tx = self.transactions
        first, last = tx[Columns.timestamp].min(), tx[Columns.timestamp].max()
        return {
            "source": self.source,
            "fingerprint": self.fingerprint(),
            "transactions": len(tx),
            "customers": int(tx[Columns.customer].nunique()),
            "products": int(tx[Columns.item].nunique()),
            "orders": int(tx[Columns.order].nunique()),
            "first": None if pd.isna(first) else str(first),
            "last": None if pd.isna(last) else str(last),
            "returns": int((tx[Columns.quantity] < 0).sum()),
            "revenue": float(tx[Columns.revenue].sum()),
            "quarantined": {r.table: r.rows_quarantined for r in self.reports},
        }
