"""The per-customer answers precomputed at import time, held column-wise for fast lookups and lists.

The table is computed from the training data when a bundle is built (RFM scores, segment, loyalty tier,
and, when the customer-value models are in the bundle, churn probability, risk band, expected CLV and
the top reasons; when the shop has support contacts or surveys, the after-sales profile of
:mod:`engine.customers.aftersales`), so the service needs no data source at run time. Columns that a bundle lacks are
answered as ``None``; other columns it has (the tier's ``next_tier`` and ``to_next_tier``, ...) are kept
after them for the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.customers.scoring import select_customers
from engine.errors import EngineError
from engine.spreadsheet import neutralise_frame

RFM_COLUMNS = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score")
VALUE_COLUMNS = ("churn_probability", "churn_band", "expected_clv", "value_at_risk")
REASONS = "reasons"
SEGMENT, TIER = "segment", "tier"
ROW_COLUMNS = (SEGMENT, TIER, *VALUE_COLUMNS)
AFTERSALES_COLUMNS = ("support_contacts", "open_complaints", "complaint_days_open", "mean_days_to_resolve",
                      "satisfaction_last", "nps_last", "csat_last")
COLUMNS = (*RFM_COLUMNS, *ROW_COLUMNS, REASONS, *AFTERSALES_COLUMNS)
REASON_SEPARATOR = "; "


@dataclass(frozen=True)
class CustomerTable:
    """Customers (index ``customer_id``) with the columns above; built once, read by every request."""

    frame: pd.DataFrame
    positions: dict[str, int]
    columns: dict[str, np.ndarray]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> CustomerTable:
        missing = [column for column in (*RFM_COLUMNS, SEGMENT, TIER) if column not in frame.columns]
        if missing:
            raise EngineError(f"customer table lacks columns {missing}")
        frame = frame.reindex(columns=[*COLUMNS, *(column for column in frame.columns if column not in COLUMNS)])
        frame.index = frame.index.astype(str)
        frame[REASONS] = frame[REASONS].fillna("")
        positions = {customer: i for i, customer in enumerate(frame.index.tolist())}
        columns = {column: frame[column].to_numpy() for column in frame.columns}
        return cls(frame, positions, columns)

    @classmethod
    def read(cls, path: str) -> CustomerTable:
        return cls.from_frame(pd.read_parquet(path))

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def has_value_scores(self) -> bool:
        """True when churn and CLV scores are present (the customer-value models were in the bundle)."""
        return bool(self.frame["churn_probability"].notna().any())

    def lookup(self, customer_id: str) -> dict[str, Any] | None:
        """Every column of one customer as plain Python values, or None for an unknown customer."""
        position = self.positions.get(customer_id)
        if position is None:
            return None
        return {column: _plain(values[position]) for column, values in self.columns.items()}

    def query(
        self,
        segments: list[str] | None = None,
        tiers: list[str] | None = None,
        bands: list[str] | None = None,
        min_clv: float | None = None,
        sort_by: str = "value_at_risk",
        descending: bool = True,
        search: str | None = None,
    ) -> pd.DataFrame:
        """The customers matching every given filter (each list: any of; ``search``: the id contains
        this text, ignoring case), sorted by ``sort_by`` with missing values last and ties by customer
        id, so pages are stable. The API and the console both list customers through this one method."""
        return select_customers(self.frame, segments, tiers, bands, min_clv, sort_by, descending, search)

    def rows(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """Records (customer_id + the row columns) of a slice of :meth:`query`'s result."""
        records = frame[list(ROW_COLUMNS)].astype(object).where(frame[list(ROW_COLUMNS)].notna(), None)
        return [{"customer_id": customer, **record} for customer, record in zip(frame.index, records.to_dict("records"))]

    def to_csv(self, frame: pd.DataFrame) -> str:
        """CSV of a query result: id, the row columns, RFM and the reasons. Text cells that a spreadsheet
        would run as a formula get a leading apostrophe; numbers stay numbers."""
        table = neutralise_frame(frame[[*ROW_COLUMNS, *RFM_COLUMNS, REASONS]])
        # CRLF rows (RFC 4180), so a text cell holding a lone CR is quoted too
        return table.to_csv(index_label="customer_id", float_format="%.6g", lineterminator="\r\n")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
