"""Product categories on the lines and on a model's catalogue: optional, aligned, never required."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.idmap import IdMap
from engine.data.schema import validate_transactions
from engine.recommend.categories import ItemCategories, with_product_categories
from engine.recommend.popularity import PopularityRecommender


def _lines() -> pd.DataFrame:
    raw = pd.DataFrame(
        {
            Columns.customer: ["a", "a", "b", "b", "c"],
            Columns.item: ["milk", "bread", "milk", "tea", "jam"],
            Columns.order: ["1", "1", "2", "2", "3"],
            Columns.timestamp: pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"]),
            Columns.quantity: [1.0, 1.0, 1.0, 1.0, 1.0],
            Columns.unit_price: [1.0, 2.0, 1.0, 3.0, 4.0],
        }
    )
    return validate_transactions(raw)[0]


PRODUCTS = pd.DataFrame(
    {
        Columns.item: ["milk", "bread", "tea", "coffee"],
        Columns.category: ["dairy", "bakery", "drinks", "drinks"],
        Columns.sub_category: ["milk", "bread", "tea", None],
    }
)


def test_lines_without_a_products_table_or_categories_are_returned_as_they_are():
    lines = _lines()
    assert with_product_categories(lines, None) is lines
    assert with_product_categories(lines, PRODUCTS[[Columns.item]]) is lines


def test_each_line_gets_its_products_categories_and_an_unknown_product_none():
    lines = with_product_categories(_lines(), PRODUCTS)
    assert lines[Columns.category].tolist()[:4] == ["dairy", "bakery", "dairy", "drinks"]
    assert pd.isna(lines[Columns.category].iloc[4])  # jam is not in the products table
    assert lines[Columns.sub_category].tolist()[:4] == ["milk", "bread", "milk", "tea"]


def test_catalogue_codes_follow_the_catalogue_order_and_a_smaller_catalogue_keeps_them():
    lines = with_product_categories(_lines(), PRODUCTS)
    items = IdMap(["tea", "jam", "milk"])
    categories = ItemCategories.from_lines(lines, items)
    assert categories is not None and categories.levels == (Columns.category, Columns.sub_category)
    names = pd.Categorical(lines[Columns.category]).categories
    coarse = categories.of(Columns.category)
    assert coarse is not None
    assert [names[code] if code >= 0 else None for code in coarse] == ["drinks", None, "dairy"]
    smaller = categories.subset(np.array([2, 0]))
    assert smaller.of(Columns.category).tolist() == [coarse[2], coarse[0]]


def test_lines_without_categories_or_with_none_on_the_catalogue_give_none():
    items = IdMap(["milk", "jam"])
    assert ItemCategories.from_lines(_lines(), items) is None
    unknown = with_product_categories(_lines(), PRODUCTS)
    assert ItemCategories.from_lines(unknown, IdMap(["jam"])) is None
    only_coarse = unknown.drop(columns=[Columns.sub_category])
    categories = ItemCategories.from_lines(only_coarse, items)
    assert categories is not None and categories.levels == (Columns.category,)
    assert categories.of(Columns.sub_category) is None


def test_a_model_carries_the_categories_of_its_own_catalogue():
    lines = with_product_categories(_lines(), PRODUCTS)
    model = PopularityRecommender()
    data = model._training_data(lines, pd.Timestamp("2024-01-04"))
    assert data.categories is not None
    assert data.categories.codes.shape == (len(data.items), 2)
    assert model._training_data(_lines(), pd.Timestamp("2024-01-04")).categories is None
    within = data.within(1, 2)
    assert within.categories is not None
    positions = data.items.to_internal(within.items.external_ids)
    assert np.array_equal(within.categories.codes, data.categories.codes[positions])
