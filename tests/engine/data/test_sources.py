"""Sources: user files with a column map, the public data sets, and clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.data.sources import load_shop, parse_column_map
from engine.errors import DataValidationError, EngineError
from tests.conftest import shared_data

USER_CSV = """cust,sku,basket,when,qty,price
1,A,b1,2024-03-01 09:00,1,3.50
1,B,b1,2024-03-01 09:00,2,1.25
2,A,b2,2024-03-02 18:30,-1,3.50
"""


@pytest.fixture
def user_csv(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(USER_CSV)
    return path


MAPPING = "cust=customer_id,sku=product_id,basket=order_id,when=timestamp,qty=quantity,price=unit_price"


def test_user_csv_with_column_map(user_csv):
    shop = load_shop(str(user_csv), column_map=parse_column_map(MAPPING))
    assert len(shop.transactions) == 3
    assert shop.summary()["returns"] == 1
    assert shop.transactions["revenue"].sum() == pytest.approx(3.5 + 2.5 - 3.5)


def test_user_parquet_gives_the_same_shop(user_csv, tmp_path):
    parquet = tmp_path / "orders.parquet"
    pd.read_csv(user_csv).to_parquet(parquet)
    from_csv = load_shop(str(user_csv), column_map=parse_column_map(MAPPING))
    from_parquet = load_shop(str(parquet), column_map=parse_column_map(MAPPING))
    assert from_csv.fingerprint() == from_parquet.fingerprint()


def test_unmapped_file_and_bad_map_are_explained(user_csv):
    with pytest.raises(DataValidationError, match="missing required column"):
        load_shop(str(user_csv))
    with pytest.raises(DataValidationError, match=r"column map names \['nope'\]"):
        load_shop(str(user_csv), column_map={"nope": "customer_id"})
    with pytest.raises(EngineError, match="not canonical columns"):
        load_shop(str(user_csv), column_map={"cust": "client"})
    with pytest.raises(EngineError, match="yours=canonical"):
        parse_column_map("cust:customer_id")


def test_user_file_bad_rows_stop_by_default_and_quarantine_on_request(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(USER_CSV + "3,A,b3,yesterday,1,2.0\n")
    with pytest.raises(DataValidationError, match="row 4: timestamp: unparseable timestamp"):
        load_shop(str(path), column_map=parse_column_map(MAPPING))
    shop = load_shop(str(path), column_map=parse_column_map(MAPPING), on_bad_rows="quarantine")
    assert shop.summary()["quarantined"] == {"transactions": 1}


def test_unknown_source_and_missing_file():
    with pytest.raises(EngineError, match="unknown data source"):
        load_shop("shopify")
    with pytest.raises(EngineError, match="no file at"):
        load_shop("cdnow:/nonexistent/CDNOW_master.txt")
    with pytest.raises(EngineError, match="needs a path"):
        load_shop("cdnow")


@pytest.mark.realdata
def test_cdnow_master_merges_same_day_rows():
    shop = load_shop(f"cdnow:{shared_data('cdnow/CDNOW_master.txt')}")
    report = shop.reports[0]
    assert report.rows_in == 67_591  # 69,659 file rows, same customer-day merged
    assert report.counts_by_rule().to_dict() == {"non-positive price": 80}
    assert shop.transactions["customer_id"].nunique() == 23_502
    assert shop.transactions["timestamp"].min() == pd.Timestamp("1997-01-01")


@pytest.mark.realdata
def test_movielens_every_rating_is_a_purchase():
    shop = load_shop(f"movielens:{shared_data('ml-100k/u.data')}")
    assert len(shop.transactions) == 100_000
    assert shop.transactions["customer_id"].nunique() == 943


@pytest.mark.realdata
def test_completejourney_loads_with_known_bad_rows_quarantined():
    shop = load_shop("completejourney")
    summary = shop.summary()
    assert summary["customers"] == 2469
    assert summary["quarantined"] == {"transactions": 9132, "products": 0, "customers": 0}
    assert summary["transactions"] == 1_469_307 - 9132
    # revenue is what the shop received: the package's sales_value of the kept lines
    assert summary["revenue"] == pytest.approx(4_596_027.06, rel=1e-9)


def test_yaml_data_config_carries_the_mapping(user_csv, tmp_path):
    config = tmp_path / "shop.yaml"
    config.write_text(
        f"source: {user_csv.name}\n"
        "columns: {cust: customer_id, sku: product_id, basket: order_id, when: timestamp, qty: quantity, price: unit_price}\n"
        "timestamp_format: '%Y-%m-%d %H:%M'\n"
    )
    shop = load_shop(str(config))
    assert shop.fingerprint() == load_shop(str(user_csv), column_map=parse_column_map(MAPPING)).fingerprint()
    config.write_text(f"source: {user_csv.name}\ncolumn: {{}}\n")
    with pytest.raises(EngineError, match="column"):
        load_shop(str(config))
