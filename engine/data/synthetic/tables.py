"""The synthetic shop's tables as a shop would export them: ids, products, customers and the weekly
product table (prices, promotions, stock and, for the truth, the unobserved quantities)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.synthetic.config import SyntheticShopConfig
from engine.data.synthetic.market import Market


@dataclass(frozen=True)
class ShopIds:
    """External ids by internal index: ``c00042`` for customer 42, ``p0007`` for product 7."""

    customers: np.ndarray
    products: np.ndarray

    @classmethod
    def of(cls, config: SyntheticShopConfig) -> ShopIds:
        return cls(
            customers=np.array([f"c{i:05d}" for i in range(config.n_customers)], dtype=object),
            products=np.array([f"p{j:04d}" for j in range(config.n_products)], dtype=object),
        )


def product_table(products: pd.DataFrame, ids: ShopIds) -> pd.DataFrame:
    """The shop's product table: id, category, brand and base unit cost."""
    return pd.DataFrame(
        {
            Columns.item: ids.products,
            Columns.category: products[Columns.category],
            Columns.brand: products[Columns.brand],
            Columns.unit_cost: products["base_cost"],
        }
    )


def customer_table(
    config: SyntheticShopConfig, customers: pd.DataFrame, ids: ShopIds, start: pd.Timestamp, rng: np.random.Generator
) -> pd.DataFrame:
    """The shop's customer table: id, the day the customer joined, region and age band (drawn)."""
    return pd.DataFrame(
        {
            Columns.customer: ids.customers,
            "joined": (start + pd.to_timedelta(customers["joined_week"] * 7, unit="D")).dt.normalize(),
            "region": rng.choice(["north", "south", "east", "west"], config.n_customers),
            # a protected attribute, present so that tests can check that no price depends on it
            "age_band": rng.choice(["18-34", "35-54", "55+"], config.n_customers),
        }
    )


def weekly_table(market: Market, products: pd.DataFrame, ids: ShopIds, weeks: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per product-week: prices, cost, deal, promotion and display flags, season, the
    unobserved shock, expected units, demand, units sold and stock on hand."""

    def frame(values: np.ndarray) -> np.ndarray:
        return values.reshape(-1)

    m = market
    return pd.DataFrame(
        {
            Columns.item: np.repeat(ids.products, len(weeks)),
            "week_start": np.tile(weeks, len(ids.products)),
            "regular_price": frame(m.regular),
            "price": frame(m.price),
            Columns.unit_cost: frame(m.cost),
            "deal": frame(m.allowance),
            "promo": frame(m.promo),
            "depth": frame(m.depth),
            "display": frame(m.display),
            "mailer": frame(m.mailer),
            "season": frame(m.season[products["category_index"]]),
            "shock": frame(m.shock),
            "expected_units": frame(m.expected),
            "demand": frame(m.demand),
            "units": frame(m.sold),
            "stock": frame(m.stock),
        }
    )


def promotion_table(weekly: pd.DataFrame) -> pd.DataFrame:
    """The observable promotions: display and mailer flags per product-week."""
    return weekly[[Columns.item, "week_start", "display", "mailer"]].astype({"display": np.float32, "mailer": np.float32})


def stock_table(weekly: pd.DataFrame) -> pd.DataFrame:
    """The observable stock on hand at the start of each product-week."""
    return weekly[[Columns.item, "week_start", "stock"]].rename(columns={"stock": "stock_on_hand"})
