"""The customer summary behind the BTYD models, on hand-computed values."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.customers.btyd_data import btyd_summary, in_units, purchase_days
from engine.data.schema import validate_transactions
from engine.errors import EngineError


def test_hand_computed_summary_in_days(tiny_transactions):
    summary = btyd_summary(tiny_transactions, "2024-04-01", time_unit="days")
    assert summary.attrs["time_unit"] == "days"
    rows = summary[["frequency", "recency", "T", "monetary"]].astype(float).T.to_dict("list")
    # a: 01-05 ($25), 03-01 ($10), 03-20 ($30); last observed day 03-31
    assert rows["a"] == [2, 75, 86, 20.0]
    # b: 02-10 ($20); 02-11 is a return only (not a purchase); 03-25 ($2.50)
    assert rows["b"] == [1, 44, 50, 2.5]
    # c: five purchase days 2023-06-01 .. 10-01; repeat values 90, 5, 5, 5
    assert rows["c"] == [4, 122, 304, 26.25]


def test_weeks_divide_days_by_seven(tiny_transactions):
    days = btyd_summary(tiny_transactions, "2024-04-01", time_unit="days")
    weeks = btyd_summary(tiny_transactions, "2024-04-01", time_unit="weeks")
    assert weeks[["recency", "T"]].to_numpy() == pytest.approx(days[["recency", "T"]].to_numpy() / 7)
    assert in_units(14, "weeks") == 2.0


def test_same_day_orders_merge_and_later_lines_are_ignored(tiny_transactions):
    extra = pd.DataFrame(
        {"customer_id": ["a", "a"], "product_id": ["p9", "p9"], "order_id": ["o20", "o21"],
         "timestamp": ["2024-03-20 18:00", "2024-04-01 09:00"], "quantity": [1, 1], "unit_price": [6.0, 99.0], "discount": [0.0, 0.0]}
    )
    more, _ = validate_transactions(pd.concat([tiny_transactions.drop(columns="revenue"), extra], ignore_index=True))
    summary = btyd_summary(more, "2024-04-01", time_unit="days")
    # the second order on 03-20 joins that day's purchase ($36); the line on as_of is not counted
    assert summary.loc["a", "frequency"] == 2
    assert summary.loc["a", "monetary"] == pytest.approx((10 + 36) / 2)
    days = purchase_days(more, "2024-04-01")
    assert len(days[days["customer_id"] == "a"]) == 3


def test_customer_who_bought_on_the_last_day_has_recency_equal_to_t(tiny_transactions):
    summary = btyd_summary(tiny_transactions, "2024-03-26", time_unit="days")
    assert summary.loc["b", "recency"] == summary.loc["b", "T"] == 44


def test_errors(tiny_transactions):
    with pytest.raises(EngineError, match="no purchases before"):
        btyd_summary(tiny_transactions, "2020-01-01")
    with pytest.raises(EngineError, match="time_unit must be one of"):
        btyd_summary(tiny_transactions, "2024-04-01", time_unit="months")
