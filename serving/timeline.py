"""The customers' monthly purchases of a bundle (``timeline.parquet``), held for per-customer lookups."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.customers.timeline import MONTH, ORDERS, SPEND
from engine.data.columns import Columns


@dataclass(frozen=True)
class PurchaseTimeline:
    """Rows sorted by customer and month; ``spans`` gives each customer's slice of them."""

    frame: pd.DataFrame
    spans: dict[str, tuple[int, int]]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> PurchaseTimeline:
        frame = frame.astype({Columns.customer: str}).sort_values([Columns.customer, MONTH], kind="stable")
        frame = frame.reset_index(drop=True)
        customers = frame[Columns.customer].to_numpy()
        starts = np.flatnonzero(np.r_[True, customers[1:] != customers[:-1]]) if len(customers) else np.array([], int)
        ends = np.r_[starts[1:], len(customers)]
        return cls(frame, {customers[s]: (int(s), int(e)) for s, e in zip(starts, ends)})

    @classmethod
    def read(cls, path: str) -> PurchaseTimeline:
        return cls.from_frame(pd.read_parquet(path))

    def of(self, customer_id: str) -> pd.DataFrame:
        """The customer's months with a purchase (month, spend, orders); empty for an unknown customer."""
        start, end = self.spans.get(customer_id, (0, 0))
        return self.frame.iloc[start:end][[MONTH, SPEND, ORDERS]]

    def months(self) -> pd.DatetimeIndex:
        """Every month the timeline covers, in order."""
        return pd.DatetimeIndex(sorted(self.frame[MONTH].unique()))
