"""The precomputed customer table: lookups, filters, stable sorting and pagination, CSV."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from engine.errors import EngineError
from serving.customer_table import CustomerTable


def _frame() -> pd.DataFrame:
    ids = ["a", "b", "c", "d", "e"]
    return pd.DataFrame(
        {
            "recency_days": [1.0, 20.0, 300.0, 45.0, 90.0],
            "frequency": [9, 4, 1, 6, 2],
            "monetary": [900.0, 120.0, 15.0, 610.0, 80.0],
            "r_score": [5, 4, 1, 3, 2],
            "f_score": [5, 3, 1, 4, 2],
            "m_score": [5, 3, 1, 4, 2],
            "segment": ["Champions", "Potential Loyalist", "Hibernating", "Loyal", "Hibernating"],
            "tier": ["Gold", "Bronze", "Bronze", "Silver", "Bronze"],
            "churn_probability": [0.1, 0.4, 0.9, 0.7, np.nan],
            "churn_band": ["low", "medium", "high", "high", None],
            "expected_clv": [1000.0, 200.0, 10.0, 500.0, np.nan],
            "value_at_risk": [100.0, 80.0, 9.0, 350.0, np.nan],
            "reasons": ["", "recency", "recency; frequency", "", None],
        },
        index=pd.Index(ids, name="customer_id"),
    )


@pytest.fixture
def table() -> CustomerTable:
    return CustomerTable.from_frame(_frame())


def test_lookup_returns_plain_values_and_none_for_missing(table: CustomerTable) -> None:
    row = table.lookup("d")
    assert row["segment"] == "Loyal" and row["frequency"] == 6 and isinstance(row["frequency"], int)
    assert row["churn_band"] == "high"
    assert table.lookup("e")["churn_probability"] is None
    assert table.lookup("e")["reasons"] == ""
    assert table.lookup("nobody") is None


def test_filters_combine_and_each_list_means_any_of(table: CustomerTable) -> None:
    assert list(table.query(segments=["Hibernating", "Loyal"]).index) == ["d", "c", "e"]
    assert list(table.query(bands=["high"], min_clv=100).index) == ["d"]
    assert list(table.query(tiers=["Bronze"], sort_by="recency_days", descending=False).index) == ["b", "e", "c"]


def test_sorting_puts_missing_values_last_in_both_directions(table: CustomerTable) -> None:
    assert list(table.query(sort_by="value_at_risk").index) == ["d", "a", "b", "c", "e"]
    assert list(table.query(sort_by="value_at_risk", descending=False).index) == ["c", "b", "a", "d", "e"]


def test_ties_are_broken_by_customer_id_so_pages_are_stable() -> None:
    frame = _frame().assign(value_at_risk=1.0)
    table = CustomerTable.from_frame(frame.iloc[::-1])
    assert list(table.query().index) == ["a", "b", "c", "d", "e"]


def test_rows_and_csv_of_a_page(table: CustomerTable) -> None:
    page = table.query().iloc[1:3]
    rows = table.rows(page)
    assert [r["customer_id"] for r in rows] == ["a", "b"]
    assert rows[0]["tier"] == "Gold" and rows[0]["value_at_risk"] == 100.0
    parsed = pd.read_csv(io.StringIO(table.to_csv(page)))
    assert list(parsed["customer_id"]) == ["a", "b"]
    assert {"churn_probability", "expected_clv", "segment", "tier", "recency_days", "reasons"} <= set(parsed.columns)


def test_a_table_without_value_scores_still_answers_profiles() -> None:
    table = CustomerTable.from_frame(_frame().drop(columns=["churn_probability", "churn_band", "expected_clv", "value_at_risk"]))
    assert not table.has_value_scores
    assert table.lookup("a")["expected_clv"] is None
    assert CustomerTable.from_frame(_frame()).has_value_scores


def test_a_table_without_rfm_columns_is_refused() -> None:
    with pytest.raises(EngineError, match="recency_days"):
        CustomerTable.from_frame(_frame().drop(columns=["recency_days"]))


def test_csv_neutralises_formula_text_and_keeps_numbers_numeric() -> None:
    frame = _frame()
    frame["segment"] = ["=HYPERLINK(\"http://x\")", "@SUM(A1)", "+1", "-2", "Loyal"]
    frame["reasons"] = ["\tcmd", "\rcmd", "recency", None, ""]
    frame.index = pd.Index(["=a", "b", "c", "d", "e"], name="customer_id")
    frame["monetary"] = [-5.0, 120.0, 15.0, 610.0, 80.0]  # a negative number is a number, not a formula
    table = CustomerTable.from_frame(frame)
    parsed = pd.read_csv(io.StringIO(table.to_csv(table.frame)), keep_default_na=False)
    assert list(parsed["segment"]) == ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'+1", "'-2", "Loyal"]
    assert list(parsed["reasons"]) == ["'\tcmd", "'\rcmd", "recency", "", ""]
    assert list(parsed["customer_id"]) == ["'=a", "b", "c", "d", "e"]
    assert parsed["monetary"].tolist() == [-5.0, 120.0, 15.0, 610.0, 80.0]
    assert parsed["frequency"].dtype.kind == "i" and parsed["churn_probability"].dtype.kind in "fO"


def test_search_finds_ids_containing_the_text_ignoring_case_and_regex_characters() -> None:
    frame = _frame().rename(index={"a": "Shop-A1", "b": "shop-b2", "c": "x.y"})
    table = CustomerTable.from_frame(frame)
    assert list(table.query(search="SHOP", sort_by="monetary").index) == ["Shop-A1", "shop-b2"]
    assert list(table.query(search=".")) == list(table.query(search=".").columns) and list(table.query(search=".").index) == ["x.y"]
    assert table.query(search="nobody").empty


def test_columns_beyond_the_known_ones_are_kept_for_lookups() -> None:
    table = CustomerTable.from_frame(_frame().assign(next_tier="Gold", to_next_tier=12.5))
    assert table.lookup("b")["next_tier"] == "Gold" and table.lookup("b")["to_next_tier"] == 12.5


def testaftersales_columns_are_looked_up_when_the_bundle_has_them() -> None:
    from serving.answers import aftersales

    frame = _frame().assign(open_complaints=[1.0, 0.0, 0.0, 0.0, np.nan], complaint_days_open=[9.0, 0.0, 0.0, 0.0, np.nan],
                            support_contacts=[2.0, 1.0, 0.0, 0.0, np.nan], satisfaction_last=[2.0, np.nan, np.nan, np.nan, np.nan])
    row = CustomerTable.from_frame(frame).lookup("a")
    profile = aftersales(row)
    assert profile is not None and profile.open_complaints == 1 and isinstance(profile.open_complaints, int)
    assert profile.complaint_days_open == 9.0 and profile.satisfaction_last == 2.0 and profile.nps_last is None
    # a bundle without after-sales data (older, or a shop without it) answers null
    assert aftersales(CustomerTable.from_frame(_frame()).lookup("a")) is None
