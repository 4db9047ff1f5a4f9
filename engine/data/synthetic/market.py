"""The synthetic shop's weekly market (step 2 of :mod:`engine.data.synthetic`): expected units of each
product-week from prices, season, shocks and displays, demand drawn from it, stock and sales."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from engine.data.synthetic.config import SyntheticShopConfig
from engine.data.synthetic.prices import costs_and_regular_prices, deals, demand_shocks, promotions, seasonality


def stock_and_sales(
    config: SyntheticShopConfig, cover: np.ndarray, demand: np.ndarray, planned: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Replenishment every ``replenish_weeks`` up to ``cover`` weeks of the retailer's planned demand
    for the coming cycle (it knows its prices, promotions and season, not the shocks); sales are demand
    capped by the stock on hand."""
    n, w = demand.shape
    stock = np.empty((n, w), dtype=np.int64)
    sold = np.empty((n, w), dtype=np.int64)
    on_hand = np.zeros(n, dtype=np.int64)
    for t in range(w):
        if t % config.replenish_weeks == 0:
            cycle = planned[:, t : t + config.replenish_weeks]
            level = np.ceil(cover * cycle.max(axis=1) + cycle.sum(axis=1) - cycle[:, 0]).astype(np.int64)
            on_hand = np.maximum(on_hand, level)
        stock[:, t] = on_hand
        sold[:, t] = np.minimum(demand[:, t], on_hand)
        on_hand = on_hand - sold[:, t]
    return stock, sold


def others_mean(values: np.ndarray, group: pd.Series) -> np.ndarray:
    """Per row, the mean of the other rows of its group (0 for a group of one)."""
    frame = pd.DataFrame(values)
    sums = frame.groupby(group.to_numpy()).transform("sum").to_numpy()
    sizes = group.map(group.value_counts()).to_numpy()[:, None]
    return np.where(sizes > 1, (sums - values) / np.maximum(sizes - 1, 1), 0.0)


@dataclass(frozen=True)
class Market:
    """The simulated market, products x weeks unless said: ``season`` (log index, categories x weeks),
    the unobserved log ``shock``, unit ``cost`` (after deals), ``regular`` and charged ``price``, the
    vendor's ``allowance``, ``promo``/``depth``/``display``/``mailer``, ``cross`` (per category),
    ``expected`` units, ``demand`` drawn, ``stock`` on hand and units ``sold``."""

    season: np.ndarray
    shock: np.ndarray
    cost: np.ndarray
    regular: np.ndarray
    price: np.ndarray
    allowance: np.ndarray
    promo: np.ndarray
    depth: np.ndarray
    display: np.ndarray
    mailer: np.ndarray
    cross: np.ndarray
    expected: np.ndarray
    demand: np.ndarray
    stock: np.ndarray
    sold: np.ndarray


def simulate_market(
    config: SyntheticShopConfig,
    products: pd.DataFrame,
    visits: pd.DataFrame,
    weeks: pd.DatetimeIndex,
    rng: dict[str, np.random.Generator],
) -> Market:
    """Prices, promotions, demand, stock and sales of every product-week (``rng``: the shop's streams)."""
    n, w = config.n_products, config.n_weeks
    season = seasonality(config, rng["products"], weeks)
    shock = demand_shocks(config, products, rng["shocks"])
    cost, regular = costs_and_regular_prices(config, products, rng["costs"], shock)
    allowance = deals(config, (n, w), rng["deals"])
    promo, depth, display, mailer = promotions(config, shock, allowance, rng["promotions"])
    # the retailer pays the list cost less the vendor's allowance; regular prices follow the list cost
    cost = np.round(cost * (1 - allowance), 2).clip(0.01)
    price = np.round(regular * (1 - depth), 2)
    cross = rng["cross"].uniform(*config.cross_elasticity_range, config.n_categories)
    relative_price = np.log(price / regular[:, 0][:, None])  # against the first week's regular price
    log_multiplier = (
        season[products["category_index"]]
        + shock
        + products["elasticity"].to_numpy()[:, None] * relative_price
        + cross[products["category_index"]][:, None] * others_mean(relative_price, products["category_index"])
        + config.display_lift * display
        + config.mailer_lift * mailer
    )
    expected = _base_units(config, products, visits) * np.exp(log_multiplier)
    demand = stats.poisson.ppf(rng["demand"].uniform(size=(n, w)), expected).astype(np.int64)
    planned = expected / np.exp(shock)
    stock, sold = stock_and_sales(config, products["cover_weeks"].to_numpy(), demand, planned)
    return Market(season, shock, cost, regular, price, allowance, promo, depth, display, mailer, cross, expected, demand, stock, sold)


def _base_units(config: SyntheticShopConfig, products: pd.DataFrame, visits: pd.DataFrame) -> np.ndarray:
    """Expected units per product-week at reference conditions: basket x share x visits of the week."""
    w = config.n_weeks
    visits_per_week = np.bincount(np.floor(visits["week_time"]).astype(int), minlength=w)[:w]
    return config.basket_units * products["share"].to_numpy()[:, None] * visits_per_week[None, :]

