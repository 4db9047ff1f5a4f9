"""The local backend keeps a table's purchase aggregates per as-of date while the table lives."""

from __future__ import annotations

import gc

import pandas as pd

import engine.customers.rfm as rfm
from engine.backend.local import LocalBackend
from engine.data.schema import validate_transactions


def _lines() -> pd.DataFrame:
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "product_id": ["x", "y", "x", "z"],
            "order_id": ["1", "2", "3", "4"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-15", "2024-03-01"]),
            "quantity": [1, 2, 1, 1],
            "unit_price": [2.0, 3.0, 2.0, 5.0],
        }
    )
    return validate_transactions(raw)[0]


def test_purchase_aggregates_are_computed_once_per_table_and_date_and_dropped_with_the_table(monkeypatch):
    calls = []
    original = rfm.purchase_aggregates
    monkeypatch.setattr(rfm, "purchase_aggregates", lambda tx, as_of: calls.append(as_of) or original(tx, as_of))
    backend, lines = LocalBackend(), _lines()
    first = backend.purchase_aggregates(lines, pd.Timestamp("2024-02-10"))
    first.iloc[0, 0] = pd.Timestamp("1990-01-01")  # a caller's change does not reach the kept frame
    again = backend.purchase_aggregates(lines, pd.Timestamp("2024-02-10"))
    pd.testing.assert_frame_equal(again, original(lines, pd.Timestamp("2024-02-10")))
    later = backend.purchase_aggregates(lines, pd.Timestamp("2024-04-01"))
    assert len(calls) == 2 and len(later) == 3 and len(again) == 2
    assert len(backend._aggregates) == 2
    del lines
    gc.collect()
    assert not backend._aggregates
