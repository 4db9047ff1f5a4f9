"""Monthly purchases per customer: sums, returns, the window and no look-ahead."""

from __future__ import annotations

import pandas as pd

from engine.customers.timeline import monthly_purchases


def _lines() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "a"],
        "order_id": ["o1", "o1", "o2", "o3", "o4"],
        "timestamp": pd.to_datetime(["2024-03-02", "2024-03-02", "2024-03-20", "2023-01-05", "2024-04-01"]),
        "revenue": [10.0, 5.0, -2.0, 7.0, 99.0],
    })


def test_spend_and_orders_per_month_before_the_as_of_date() -> None:
    months = monthly_purchases(_lines(), "2024-04-01", months=12)
    assert months.to_dict("records") == [
        {"customer_id": "a", "month": pd.Timestamp("2024-03-01"), "spend": 13.0, "orders": 2},
    ], "the return reduces spend; the line on the as-of day and the one over a year old are left out"


def test_a_longer_window_reaches_older_months() -> None:
    months = monthly_purchases(_lines(), "2024-04-01", months=24)
    assert set(months["customer_id"]) == {"a", "b"}
