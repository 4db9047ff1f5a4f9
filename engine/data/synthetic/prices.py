"""The synthetic shop's products and prices (step 3 of :mod:`engine.data.synthetic`): elasticities,
costs, regular prices on a .49/.99 ladder, unobserved demand shocks, vendor deals, promotions,
displays and mailers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.synthetic.config import SyntheticShopConfig


def ladder_price(price: np.ndarray | float) -> np.ndarray:
    """Round prices down to the .49/.99 ladder (5.37 -> 4.99, 5.99 -> 5.99), never below 0.49."""
    steps = np.floor(np.round((np.asarray(price, dtype=float) + 0.01) * 2, 6))
    return np.maximum(steps / 2 - 0.01, 0.49)


def draw_products(config: SyntheticShopConfig, rng: np.random.Generator) -> pd.DataFrame:
    n, k = config.n_products, config.n_categories
    category = np.sort(np.arange(n) % k)
    low, high = config.elasticity_range
    category_mean = rng.uniform(low + 0.4, high - 0.3, k)
    elasticity = np.clip(category_mean[category] + rng.normal(0, config.elasticity_spread, n), low, high)
    price_level = np.exp(rng.normal(np.log(4.0), 0.6, k))
    base_cost = np.round(price_level[category] * np.exp(rng.normal(0, 0.3, n)) * 0.6, 2).clip(0.05)
    # a plausible but imperfect retailer: near the profit-maximising markup for elastic goods, a
    # conventional one for inelastic goods, with noise (so a price optimizer has something to find)
    optimal = np.where(elasticity < -1.05, elasticity / (1 + elasticity), np.inf)
    markup = np.where(np.isfinite(optimal), np.clip(optimal, 1.2, 3.0), rng.uniform(1.4, 2.0, n))
    markup = markup * np.exp(rng.normal(0, 0.12, n))
    share = np.exp(rng.normal(0, 0.8, n))
    brand = rng.integers(0, 4, n)
    return pd.DataFrame(
        {
            "category_index": category,
            Columns.category: [f"cat{c:02d}" for c in category],
            Columns.brand: [f"brand{c:02d}-{b}" for c, b in zip(category, brand)],
            "elasticity": elasticity,
            "base_cost": base_cost,
            "markup": markup,
            "share": share / share.sum(),
            "cover_weeks": rng.uniform(*config.stock_cover_weeks, n),
        }
    )


def seasonality(config: SyntheticShopConfig, rng: np.random.Generator, weeks: pd.DatetimeIndex) -> np.ndarray:
    """Log seasonal index per category-week: an annual wave plus a year-end holiday bump (observable
    from the calendar)."""
    k = config.n_categories
    amplitude = rng.uniform(0.05, 0.3, k)
    phase = rng.uniform(0, 2 * np.pi, k)
    holiday = rng.uniform(0.0, 0.4, k)
    week_of_year = weeks.isocalendar().week.to_numpy().astype(float)
    wave = amplitude[:, None] * np.sin(2 * np.pi * week_of_year[None, :] / 52 + phase[:, None])
    return wave + holiday[:, None] * (week_of_year[None, :] >= 50)


def costs_and_regular_prices(
    config: SyntheticShopConfig, products: pd.DataFrame, rng: np.random.Generator, shock: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n, w = config.n_products, config.n_weeks
    category_walk = np.cumsum(rng.normal(0, config.cost_drift_sd / 2, (config.n_categories, w)), axis=1)
    own_walk = np.cumsum(rng.normal(0, config.cost_drift_sd, (n, w)), axis=1)
    log_cost = np.log(products["base_cost"].to_numpy())[:, None] + category_walk[products["category_index"]] + own_walk
    cost = np.round(np.exp(log_cost), 2).clip(0.01)
    phase = rng.integers(0, config.price_review_weeks, n)
    regular = np.empty((n, w))
    seen = config.manager_pricing * shock / max(shock.std(), 1e-12)
    target = ladder_price(cost * products["markup"].to_numpy()[:, None] * np.exp(seen))
    regular[:, 0] = target[:, 0]
    for t in range(1, w):
        review = (t - phase) % config.price_review_weeks == 0
        regular[:, t] = np.where(review, target[:, t], regular[:, t - 1])
    return cost, regular


def demand_shocks(config: SyntheticShopConfig, products: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Unobserved log demand shocks per product-week: category-week plus a product AR(1)."""
    n, w = config.n_products, config.n_weeks
    category = rng.normal(0, config.category_shock_sd, (config.n_categories, w))
    innovations = rng.normal(0, config.product_shock_sd * np.sqrt(1 - config.product_shock_rho**2), (n, w))
    own = np.empty((n, w))
    own[:, 0] = rng.normal(0, config.product_shock_sd, n)
    for t in range(1, w):
        own[:, t] = config.product_shock_rho * own[:, t - 1] + innovations[:, t]
    return category[products["category_index"]] + own


def deals(config: SyntheticShopConfig, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Vendor trade deals: the share of the unit cost taken off per product-week (0 without a deal)."""
    deal = rng.uniform(size=shape) < config.deal_rate
    return np.where(deal, rng.uniform(*config.deal_allowance, shape), 0.0)


def promotions(
    config: SyntheticShopConfig, shock: np.ndarray, deal: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Promotion flags and depths, display and mailer flags. The uniforms are drawn identically for
    both twins; only the promotion probability depends on the shock, and only when confounded."""
    shape = shock.shape
    u_promo, u_depth, u_display, u_mailer = (rng.uniform(size=shape) for _ in range(4))
    logit = np.log(config.promo_rate / (1 - config.promo_rate)) + config.deal_promotion * (deal > 0)
    if config.confounded:
        logit = logit + config.confounding * shock / max(shock.std(), 1e-12)
    promo = u_promo < 1 / (1 + np.exp(-logit))
    depth = np.where(promo, 0.10 + 0.30 * u_depth, 0.0)
    standard_shock = shock / max(shock.std(), 1e-12)
    display = u_display < _shifted(config.display_rate, config.display_promotion * promo + config.display_confounding * standard_shock)
    mailer = u_mailer < _shifted(config.mailer_rate, config.display_promotion * promo)
    return promo, depth, display, mailer


def _shifted(rate: float, log_odds: np.ndarray) -> np.ndarray:
    """The probability ``rate`` moved by ``log_odds`` (0 and 1 stay)."""
    if rate <= 0 or rate >= 1:
        return np.full(log_odds.shape, float(rate))
    return 1 / (1 + np.exp(-(np.log(rate / (1 - rate)) + log_odds)))
