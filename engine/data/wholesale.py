"""A seeded wholesale shop like UCI Online Retail: one product sells at many unit prices in one week,
because the unit price falls with the order size; the true own-price elasticities are known.

How it is made (products ``j``, days ``d``):

1. Each product has a posted (list) price that the shop changes now and then (every 3-10 weeks, by a
   random factor), independently of demand: the exogenous price variation an estimate should use.
2. Orders of product ``j`` on day ``d`` are Poisson with mean
   ``base_j x weekday_d x season_d x exp(shock_jw) x (list_jd / reference_j) ** elasticity_j``
   (``shock_jw`` a weekly demand shock nobody observes, independent of prices).
3. An order's size does not depend on the price: most buyers take a few units, wholesale buyers take
   dozens to hundreds. Its unit price is the list price less a quantity-tier discount (15% from 12
   units, 30% from 48, 40% from 120), rounded to cents: the weekly average paid price then falls in the
   weeks a large order happens to come in, which are also the weeks with many units.

Expected units are ``E[orders] x E[size]``, so the elasticity of units with respect to the posted price
is ``elasticity_j`` exactly: ``truth`` holds it. The data start on a Wednesday and end on a Tuesday
(partial first and last weeks with Monday weeks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.data.schema import validate_products, validate_transactions


@dataclass(frozen=True)
class WholesaleTruth:
    """The true own-price elasticity of units with respect to the posted price, per product_id."""

    elasticity: pd.Series


TIERS = ((120, 0.40), (48, 0.30), (12, 0.15))  # (minimum units, discount), largest first


class WholesaleShopConfig(BaseModel):
    """Sizes of the wholesale shop; the defaults generate in about a second."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    n_products: int = Field(40, ge=2)
    n_categories: int = Field(4, ge=1)
    n_days: int = Field(364, ge=14)
    start: str = "2023-01-04"  # a Wednesday
    orders_per_day: tuple[float, float] = (6.0, 15.0)  # at the reference price, per product
    elasticity_range: tuple[float, float] = (-2.6, -1.0)
    wholesale_share: float = Field(0.15, ge=0, le=1, description="share of orders placed by wholesale buyers")
    shock_sd: float = Field(0.15, ge=0, description="sd of the weekly log demand shock")
    wholesale_units: float = Field(40.0, gt=1, description="median units of a wholesale order (lognormal)")
    wholesale_units_sd: float = Field(0.3, ge=0, description="sd of the log units of a wholesale order")


def tier_discount(quantity: np.ndarray) -> np.ndarray:
    """The quantity-tier discount of an order of ``quantity`` units."""
    discount = np.zeros(len(quantity))
    for minimum, off in reversed(TIERS):
        discount[quantity >= minimum] = off
    return discount


def generate_wholesale_shop(config: WholesaleShopConfig | None = None) -> ShopData:
    """The shop's validated transactions and products, with the true elasticities (``truth``)."""
    config = config or WholesaleShopConfig()
    rng = np.random.default_rng(config.seed)
    n, days = config.n_products, config.n_days
    product_ids = np.array([f"w{j:03d}" for j in range(n)], dtype=object)
    elasticity = rng.uniform(*config.elasticity_range, n)
    reference = np.round(rng.uniform(1.0, 12.0, n), 2)
    list_price = np.empty((n, days))
    for j in range(n):
        price, day = reference[j], 0
        while day < days:
            length = 7 * int(rng.integers(3, 11))
            list_price[j, day : day + length] = price
            price = float(np.round(reference[j] * np.exp(rng.normal(0, 0.2)), 2))
            day += length
    dates = pd.date_range(config.start, periods=days, freq="D")
    weekday = np.array([1.1, 1.2, 1.2, 1.1, 1.0, 0.6, 0.4])[dates.dayofweek]
    season = 1 + 0.2 * np.sin(2 * np.pi * dates.dayofyear.to_numpy() / 365.25)
    week = (np.arange(days) + dates[0].dayofweek) // 7
    shock = rng.normal(0, config.shock_sd, (n, week.max() + 1))[:, week]
    base = rng.uniform(*config.orders_per_day, n)[:, None]
    mean_orders = base * (weekday * season)[None, :] * np.exp(shock) * (list_price / reference[:, None]) ** elasticity[:, None]
    orders = rng.poisson(mean_orders)
    line_item, d = np.nonzero(orders)
    counts = orders[line_item, d]
    line_item, d = np.repeat(line_item, counts), np.repeat(d, counts)
    wholesale = rng.uniform(size=len(line_item)) < config.wholesale_share
    quantity = np.where(
        wholesale,
        np.ceil(rng.lognormal(np.log(config.wholesale_units), config.wholesale_units_sd, len(line_item))),
        1 + rng.geometric(0.35, len(line_item)) - 1,
    ).astype(float)
    unit_price = np.round(list_price[line_item, d] * (1 - tier_discount(quantity)), 2)
    customers = np.where(wholesale, rng.integers(0, 60, len(line_item)), rng.integers(60, 2000, len(line_item)))
    seconds = rng.integers(8 * 3600, 18 * 3600, len(line_item))
    raw = pd.DataFrame(
        {
            Columns.customer: np.char.add("c", customers.astype(str)).astype(object),
            Columns.item: product_ids[line_item],
            Columns.order: np.char.add("o", np.arange(len(line_item)).astype(str)).astype(object),
            Columns.timestamp: dates[d] + pd.to_timedelta(seconds, unit="s"),
            Columns.quantity: quantity,
            Columns.unit_price: unit_price,
        }
    ).sort_values(Columns.timestamp, kind="stable")
    transactions, report = validate_transactions(raw)
    products, products_report = validate_products(
        pd.DataFrame({Columns.item: product_ids, Columns.category: [f"cat{k % config.n_categories}" for k in range(n)]})
    )
    shop = ShopData(transactions, source=f"wholesale:{config.seed}", products=products, reports=[report, products_report])
    shop.truth = WholesaleTruth(pd.Series(elasticity, index=pd.Index(product_ids, name=Columns.item), name="elasticity"))
    return shop
