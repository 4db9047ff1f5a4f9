"""The transactions contract: every planted bad row is named with its rule; nothing is lost."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.data.schema import validate_customers, validate_products, validate_transactions
from engine.errors import DataValidationError

GOOD = ("c1", "p1", "o1", "2024-01-02 10:00", 2, 9.5, 1.0)
COLUMNS = ["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price", "discount"]

# (row values, field, rule) — one planted problem per row
PLANTED = [
    (("", "p1", "o2", "2024-01-02", 1, 5.0, 0), "customer_id", "missing value"),
    (("c1", None, "o2", "2024-01-02", 1, 5.0, 0), "product_id", "missing value"),
    (("c1", "p1", "o3", "not a date", 1, 5.0, 0), "timestamp", "unparseable timestamp"),
    (("c1", "p1", "o4", "2024-01-02", "two", 5.0, 0), "quantity", "not a number"),
    (("c1", "p1", "o5", "2024-01-02", 0, 5.0, 0), "quantity", "zero quantity (returns are negative)"),
    (("c1", "p1", "o6", "2024-01-02", 1, 0.0, 0), "unit_price", "non-positive price"),
    (("c1", "p1", "o7", "2024-01-02", 1, -3.0, 0), "unit_price", "non-positive price"),
    (("c1", "p1", "o8", "2024-01-02", 1, 5.0, -1), "discount", "negative discount"),
    (("c1", "p1", "o9", "2024-01-02", 1, 5.0, 6), "discount", "discount exceeds line value"),
    (GOOD, "row", "duplicate line"),
]


def _planted_frame():
    rows = [GOOD, ("c2", "p2", "o10", "2024-01-03", -1, 4.0, 0)] + [row for row, _, _ in PLANTED]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_every_planted_row_is_reported_with_field_and_rule():
    with pytest.raises(DataValidationError) as raised:
        validate_transactions(_planted_frame())
    message = str(raised.value)
    assert f"{len(PLANTED)} of {len(PLANTED) + 2} rows" in message
    for offset, (_, field, rule) in enumerate(PLANTED):
        assert f"row {offset + 3}: {field}: {rule}" in message


def test_quarantine_keeps_good_rows_and_loses_nothing():
    raw = _planted_frame()
    clean, report = validate_transactions(raw, on_bad_rows="quarantine")
    assert report.rows_in == len(raw)
    assert report.rows_kept == len(clean) == 2
    assert report.rows_quarantined == len(PLANTED)
    assert sorted(report.quarantined["row"]) == list(range(3, len(raw) + 1))
    # the quarantined rows are the original values, untouched, with the problem named
    assert report.quarantined.loc[report.quarantined["row"] == 5, "timestamp"].item() == "not a date"
    assert report.quarantined.loc[report.quarantined["row"] == 5, "problems"].item() == "timestamp: unparseable timestamp"
    assert report.counts_by_rule()["non-positive price"] == 2
    assert report.counts_by_rule(by_field=True)[("unit_price", "non-positive price")] == 2
    assert "quarantined" in report.summary() and "unit_price: non-positive price: 2 rows" in report.summary()


def test_returns_are_kept_and_revenue_is_net_of_discount():
    clean, report = validate_transactions(_planted_frame().iloc[:2])
    assert report.rows_quarantined == 0
    assert clean["quantity"].tolist() == [2, -1]
    assert clean["revenue"].tolist() == pytest.approx([2 * 9.5 - 1.0, -4.0])


def test_missing_required_column_names_it():
    with pytest.raises(DataValidationError, match=r"missing required column\(s\) \['unit_price'\]"):
        validate_transactions(_planted_frame().drop(columns="unit_price"))


def test_time_zones_are_converted_to_utc_and_ids_become_text():
    raw = pd.DataFrame(
        {"customer_id": [101, 102], "product_id": [7, 8], "order_id": [1, 2],
         "timestamp": ["2024-01-02T10:00:00+02:00", "2024-01-02T10:00:00+02:00"],
         "quantity": [1, 1], "unit_price": [1.0, 2.0]}
    )
    clean, _ = validate_transactions(raw)
    assert clean["timestamp"].iloc[0] == pd.Timestamp("2024-01-02 08:00")
    assert clean["customer_id"].tolist() == ["101", "102"]


def test_an_id_seen_on_many_lines_is_one_string_and_nullable_integers_read_as_integers():
    raw = pd.DataFrame(
        {"customer_id": pd.array([101, 101, 102], dtype="Int64"), "product_id": [7, 7, 8], "order_id": ["o1", "o1", "o2"],
         "timestamp": ["2024-01-02"] * 3, "quantity": [1, 2, 1], "unit_price": [1.0, 2.0, 3.0]}
    )
    raw.loc[1, "product_id"] = 9
    clean, _ = validate_transactions(raw)
    assert clean["customer_id"].tolist() == ["101", "101", "102"]  # not "101.0" (nullable Int64)
    # one string object per distinct id, shared by its lines: the memory of a column grows with its ids
    assert clean["customer_id"].iloc[0] is clean["customer_id"].iloc[1]
    assert clean["order_id"].iloc[0] is clean["order_id"].iloc[1]


def test_products_and_customers_contracts():
    products, report = validate_products(
        pd.DataFrame({"product_id": ["a", "a", "b"], "category": ["x", "y", None]}), on_bad_rows="quarantine"
    )
    assert report.counts_by_rule().to_dict() == {"duplicate product_id": 1}
    assert products["category"].tolist() == ["x", "unknown"]
    with pytest.raises(DataValidationError, match="row 2: customer_id: duplicate customer_id"):
        validate_customers(pd.DataFrame({"customer_id": [1, 1]}))


def _lines(**columns):
    base = {"customer_id": ["c1", "c2"], "product_id": ["p1", "p2"], "order_id": ["o1", "o2"],
            "timestamp": ["2024-01-02", "2024-01-03"], "quantity": [1, 1], "unit_price": [1.0, 1.0]}
    return pd.DataFrame({**base, **columns})


def test_limits_are_configurable_and_named_in_the_rule():
    from engine.data.schema import ValueLimits

    raw = _lines(quantity=[5, 50], unit_price=[2.0, 3.0])
    _, report = validate_transactions(raw, "quarantine", limits=ValueLimits(max_abs_quantity=10, max_unit_price=2.5))
    assert report.counts_by_rule(by_field=True).to_dict() == {
        ("quantity", "|quantity| above 10 (limits.max_abs_quantity)"): 1,
        ("unit_price", "price above 2.5 (limits.max_unit_price)"): 1,
    }


def test_dates_past_the_as_of_are_quarantined_alike_whether_pandas_can_hold_them_or_not():
    from datetime import date

    from engine.data.schema import ValueLimits

    raw = _lines(timestamp=["2024-01-03", "2024-01-04"])
    limits = ValueLimits(latest=date(2024, 1, 2))
    _, report = validate_transactions(raw, "quarantine", limits=limits)
    assert report.counts_by_rule().to_dict() == {"date after 2024-01-03": 1}
    raw = _lines(timestamp=["2024-01-02", "3000-01-01"])
    _, report = validate_transactions(raw, "quarantine", limits=limits)
    assert report.counts_by_rule().to_dict() == {"date after 2024-01-03": 1}


def test_discount_rule_shows_discount_and_line_value_and_needs_the_column():
    with pytest.raises(DataValidationError, match=r"row 2: discount: discount exceeds line value \(value: 'discount 7 > line value 6'\)"):
        validate_transactions(_lines(quantity=[1, 2], unit_price=[1.0, 3.0], discount=[0, 7]))
    _, report = validate_transactions(_lines(unit_price=[1.0, -1.0]), "quarantine")
    assert report.counts_by_rule().to_dict() == {"non-positive price": 1}


def test_revenue_stays_finite_and_kept_plus_quarantined_is_rows_in():
    raw = _lines(quantity=["1e300", "2"], unit_price=["1e300", "3"])
    clean, report = validate_transactions(raw, "quarantine")
    assert len(clean) + report.rows_quarantined == report.rows_in == 2
    assert clean["revenue"].tolist() == [6.0]
