"""Transactions read by Spark itself from Parquet: money summed in file order (bit for bit the local
backend's however Spark splits and orders the files), quarantined rows skipped by number, bad rows named by number."""

from __future__ import annotations

import pandas as pd
import pytest
from pyspark.sql.types import StructType

from engine.backend import LocalBackend
from engine.backend.spark.aggregates import ROW, purchase_aggregates
from engine.backend.spark.backend import SparkBackend
from engine.backend.spark.transactions import read_transactions
from engine.data.sources import load_shop
from engine.errors import DataValidationError

pytestmark = pytest.mark.spark
AS_OF = pd.Timestamp("2024-10-01")


def test_a_folder_of_files_sums_in_file_order_like_pandas(spark, random_transactions, tmp_path):
    # Spark reads the larger file first (it packs splits largest first): the order must come from the files
    folder = tmp_path / "lines"
    folder.mkdir()
    random_transactions.iloc[:500].to_parquet(folder / "part-0.parquet", index=False)
    random_transactions.iloc[500:].to_parquet(folder / "part-1.parquet", index=False)
    lines = read_transactions(spark, f"{folder}/")
    expected = LocalBackend().purchase_aggregates(random_transactions, AS_OF)
    pd.testing.assert_frame_equal(purchase_aggregates(lines, AS_OF, like=random_transactions), expected, check_exact=True)


@pytest.mark.parametrize("timestamps", ["typed", "text"])
def test_a_loaded_shop_is_read_from_its_file_less_its_quarantined_rows(spark, random_transactions, tmp_path, timestamps):
    raw = random_transactions.drop(columns=["revenue", "discount"]).rename(columns={"customer_id": "cust"})
    raw.loc[[5, 400], "quantity"] = 0
    raw.loc[77, "unit_price"] = -1.0
    if timestamps == "text":  # Spark would parse text differently: the table is copied instead
        raw["timestamp"] = raw["timestamp"].astype(str)
    path = tmp_path / "lines.parquet"
    raw.to_parquet(path, index=False)
    shop = load_shop(str(path), column_map={"cust": "customer_id"}, on_bad_rows="quarantine")
    backend = SparkBackend(spark)
    assert backend.read_lines_from_file(shop)
    local = LocalBackend()
    pd.testing.assert_frame_equal(
        backend.purchase_aggregates(shop.transactions, AS_OF), local.purchase_aggregates(shop.transactions, AS_OF), check_exact=True
    )
    pd.testing.assert_frame_equal(
        backend.customer_days(shop.transactions, AS_OF, with_orders=True),
        local.customer_days(shop.transactions, AS_OF, with_orders=True), check_exact=True,
    )
    read_from_file = isinstance(backend._frames.of(shop.transactions).schema[ROW].dataType, StructType)
    assert read_from_file == (timestamps == "typed")


def test_a_bad_row_is_named_by_its_row_number(spark, random_transactions, tmp_path):
    bad = random_transactions.drop(columns="revenue")
    bad.loc[[3, 8], "quantity"] = 0
    bad.loc[8, "customer_id"] = None
    path = tmp_path / "bad.parquet"
    bad.to_parquet(path, index=False)
    with pytest.raises(DataValidationError, match="2 row") as error:
        read_transactions(spark, str(path))
    assert "row 4 of bad.parquet: quantity: zero quantity\n" in str(error.value)
    assert "row 9 of bad.parquet: customer_id: missing value; quantity: zero quantity" in str(error.value)


def test_a_file_changed_since_loading_is_an_error(spark, random_transactions, tmp_path):
    path = tmp_path / "lines.parquet"
    random_transactions.to_parquet(path, index=False)
    shop = load_shop(str(path))
    random_transactions.head(10).to_parquet(path, index=False)
    backend = SparkBackend(spark)
    backend.read_lines_from_file(shop)
    with pytest.raises(Exception, match="did the file change"):
        backend.purchase_aggregates(shop.transactions, AS_OF)
