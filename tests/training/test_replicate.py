"""The replicated shop of the scale bench: k distinct copies of every customer and order, nothing else changed."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.data.sources import load_shop
from engine.errors import EngineError
from training.replicate import replicate_copy, write_replicated_shop, write_replicated_transactions, written_shop


def test_copies_have_distinct_customers_and_orders_and_the_same_lines(tiny_transactions, tmp_path):
    path = tmp_path / "tx.parquet"
    written = write_replicated_transactions(tiny_transactions, 3, path)
    copies = pd.read_parquet(path)
    assert written == len(copies) == 3 * len(tiny_transactions)
    for column in (Columns.customer, Columns.order):
        assert copies[column].nunique() == 3 * tiny_transactions[column].nunique()
    assert copies[Columns.item].nunique() == tiny_transactions[Columns.item].nunique()
    # every copy buys the same products at the same prices on the same dates
    unchanged = [Columns.item, Columns.timestamp, Columns.quantity, Columns.unit_price]
    for part in range(3):
        block = copies.iloc[part * len(tiny_transactions):(part + 1) * len(tiny_transactions)].reset_index(drop=True)
        pd.testing.assert_frame_equal(block[unchanged], tiny_transactions[unchanged].reset_index(drop=True), check_dtype=False)


def test_copy_zero_keeps_the_original_ids(tiny_transactions):
    assert replicate_copy(tiny_transactions, 0) is tiny_transactions
    assert replicate_copy(tiny_transactions, 2)[Columns.customer].iloc[0] == f"{tiny_transactions[Columns.customer].iloc[0]}~2"


@pytest.mark.parametrize("copies", [0, -1])
def test_refuses_fewer_than_one_copy(tiny_transactions, tmp_path, copies):
    with pytest.raises(EngineError, match="copies must be >= 1"):
        write_replicated_transactions(tiny_transactions, copies, tmp_path / "tx.parquet")


def test_the_written_data_config_loads_as_a_shop_k_times_larger(tiny_transactions, tmp_path):
    products = pd.DataFrame({Columns.item: ["p1", "p2", "p3", "p4"], Columns.category: ["a", "a", "b", "b"]})
    shop = ShopData(transactions=tiny_transactions, source="tiny", products=products)
    written = write_replicated_shop(shop, 2, tmp_path)
    assert written.pricing_data == written.data  # no promotions: one config
    loaded = load_shop(str(written.data))
    assert len(loaded.transactions) == written.lines == 2 * len(tiny_transactions)
    assert loaded.transactions[Columns.customer].nunique() == 2 * tiny_transactions[Columns.customer].nunique()
    assert loaded.transactions[Columns.revenue].sum() == pytest.approx(2 * tiny_transactions[Columns.revenue].sum())
    assert len(loaded.products) == len(products)


def test_a_shop_written_before_is_found_again(tiny_transactions, tmp_path):
    assert written_shop(2, tmp_path) is None
    written = write_replicated_shop(ShopData(transactions=tiny_transactions, source="tiny"), 2, tmp_path)
    assert written_shop(2, tmp_path) == written
