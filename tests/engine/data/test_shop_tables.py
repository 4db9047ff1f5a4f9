"""The promotions and stock contracts: flags in several spellings, errors naming row and field,
quarantine that keeps the good rows, and the data config's per-table column maps."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from engine.data.shop_tables import product_unit_costs, validate_promotions, validate_stock
from engine.data.sources import load_shop
from engine.errors import DataValidationError, EngineError


def test_promotion_flags_in_words_numbers_and_blanks():
    raw = pd.DataFrame(
        {"product_id": ["p1", "p1", "p2"], "date": ["2024-01-01", "2024-01-02", "2024-01-01"], "display": ["Yes", "0", ""]}
    )
    clean, report = validate_promotions(raw)
    assert clean["display"].tolist() == [1.0, 0.0, 0.0] and clean["mailer"].tolist() == [0.0, 0.0, 0.0]
    assert report.rows_quarantined == 0 and str(clean["date"].dtype) == "datetime64[ns]"


def test_bad_rows_are_named_or_quarantined():
    raw = pd.DataFrame(
        {
            "product_id": ["p1", "p1", "p2", "p2"],
            "date": ["2024-01-01", "2024-01-01", "not a day", "2024-01-03"],
            "display": ["1", "1", "1", "1.5"],
        }
    )
    with pytest.raises(DataValidationError) as error:
        validate_promotions(raw)
    message = str(error.value)
    assert "row 2: row: duplicate product and day" in message
    assert "row 3: date: unparseable date" in message and "row 4: display: not a flag or share in [0, 1]" in message
    clean, report = validate_promotions(raw, on_bad_rows="quarantine")
    assert clean["product_id"].tolist() == ["p1"] and report.quarantined["row"].tolist() == [2, 3, 4]


def test_stock_contract():
    raw = pd.DataFrame({"product_id": ["p1", "p2"], "week_start": ["2024-01-01", "2024-01-01"], "stock_on_hand": ["5", "-1"]})
    with pytest.raises(DataValidationError, match="row 2: stock_on_hand: negative stock"):
        validate_stock(raw)
    with pytest.raises(DataValidationError, match="needs exactly one of the columns 'date'"):
        validate_stock(raw.drop(columns="week_start"))
    with pytest.raises(DataValidationError, match="display"):
        validate_promotions(raw)


def test_product_costs_ignore_zero_and_blank():
    products = pd.DataFrame({"product_id": ["a", "b", "c"], "unit_cost": [1.5, 0.0, float("nan")]})
    assert product_unit_costs(products).to_dict() == {"a": 1.5}
    assert product_unit_costs(None).empty


def test_data_config_reads_each_table_with_its_own_column_map(tmp_path):
    pd.DataFrame(
        {"customer_id": ["c"], "sku": ["p1"], "order_id": ["o"], "timestamp": ["2024-01-01"], "quantity": [1], "unit_price": [2.0]}
    ).to_csv(tmp_path / "sales.csv", index=False)
    pd.DataFrame({"item": ["p1"], "day": ["2024-01-02"], "on_display": ["true"]}).to_csv(tmp_path / "promo.csv", index=False)
    pd.DataFrame({"product_id": ["p1"], "date": ["2024-01-01"], "stock_on_hand": [3]}).to_csv(tmp_path / "stock.csv", index=False)
    config = {
        "source": "sales.csv",
        "columns": {"sku": "product_id"},
        "promotions": {"file": "promo.csv", "columns": {"item": "product_id", "day": "date", "on_display": "display"}},
        "stock": "stock.csv",
    }
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(config))
    shop = load_shop(str(tmp_path / "shop.yaml"))
    assert shop.promotions["display"].tolist() == [1.0] and shop.stock["stock_on_hand"].tolist() == [3.0]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**config, "stock": {"file": "stock.csv", "columns": {"qty": "stock_on_hand"}}}))
    with pytest.raises(DataValidationError, match=r"column map names \['qty'\]"):
        load_shop(str(tmp_path / "bad.yaml"))
    with pytest.raises(EngineError, match="go with your own transactions file"):
        load_shop("synthetic", stock=str(tmp_path / "stock.csv"))
