"""Generate a whole synthetic shop from its config: the steps of :mod:`engine.data.synthetic` in order,
each drawing from its own child stream of one seed sequence, then the validated tables and the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.aftersales import validate_support_contacts, validate_surveys
from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.data.schema import validate_customers, validate_products, validate_transactions
from engine.data.synthetic.aftersales import aftersales_tables, draw_aftersales
from engine.data.synthetic.baskets import allocate, order_lines, returns
from engine.data.synthetic.config import SyntheticShopConfig, SyntheticTruth
from engine.data.synthetic.customers import customer_truth, draw_customers, draw_visits
from engine.data.synthetic.market import Market, simulate_market
from engine.data.synthetic.prices import draw_products
from engine.data.synthetic.tables import (
    ShopIds,
    customer_table,
    product_table,
    promotion_table,
    stock_table,
    weekly_table,
)

WEEK = pd.Timedelta(days=7)
# streams of the seed sequence, one per source of randomness (order fixed: never reorder)
_STREAMS = (
    "customers", "visits", "factors", "products", "costs", "shocks", "promotions", "demand", "baskets", "returns",
    "cross", "deals", "aftersales",
)


def _streams(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children)}


def _taste(config: SyntheticShopConfig, products: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Latent taste factors of customers and products (products near their category's centroid)."""
    n_factors = config.n_factors
    customer_factors = rng.normal(0, 1 / np.sqrt(n_factors), (config.n_customers, n_factors))
    centroids = rng.normal(0, 1 / np.sqrt(n_factors), (config.n_categories, n_factors))
    product_factors = centroids[products["category_index"]] + rng.normal(
        0, 0.5 / np.sqrt(n_factors), (config.n_products, n_factors)
    )
    return customer_factors, product_factors


def generate_shop(config: SyntheticShopConfig) -> ShopData:
    """Generate a whole shop (transactions, products, customers, promotions, stock, support contacts,
    surveys) with its truth.

    Deterministic for a given config. The transactions pass :func:`validate_transactions` untouched;
    ``shop.stock`` is the observable stock on hand at the start of each product-week.
    """
    rng = _streams(config.seed)
    start = pd.Timestamp(config.start)
    weeks = pd.date_range(start, periods=config.n_weeks, freq="7D")
    end = start + config.n_weeks * WEEK
    horizon = float(config.n_weeks)

    customers = draw_customers(config, rng["customers"], horizon)
    visits = draw_visits(customers, rng["visits"], horizon)
    customers, visits, contacts, answers = draw_aftersales(config, customers, visits, rng["aftersales"], horizon)
    products = draw_products(config, rng["products"])
    customer_factors, product_factors = _taste(config, products, rng["factors"])
    market = simulate_market(config, products, visits, weeks, rng)
    weights = np.exp(config.affinity * customer_factors @ product_factors.T * np.sqrt(config.n_factors))
    lines = allocate(market.sold, visits, weights, rng["baskets"])

    ids = ShopIds.of(config)
    raw = order_lines(config, lines, visits, market, ids, start)
    raw = pd.concat([raw, returns(raw, config, rng["returns"], end)], ignore_index=True)
    raw = raw.sort_values([Columns.timestamp, Columns.order, Columns.item], kind="stable").reset_index(drop=True)
    transactions, report = validate_transactions(raw)
    products_out, product_report = validate_products(product_table(products, ids))
    customers_out, customer_report = validate_customers(customer_table(config, customers, ids, start, rng["customers"]))
    support, surveys = aftersales_tables(contacts, answers, start, horizon, ids.customers)
    support, support_report = validate_support_contacts(support)
    surveys, survey_report = validate_surveys(surveys)
    weekly = weekly_table(market, products, ids, weeks)
    visits_seen = visits.groupby("customer").size().reindex(range(config.n_customers), fill_value=0)
    truth = SyntheticTruth(
        config=config,
        end=end,
        customers=customer_truth(customers, visits_seen.to_numpy(), start, end, ids.customers),
        products=_product_truth(products, market, ids),
        weekly=weekly,
        cross_elasticity=pd.Series(
            market.cross, index=pd.Index([f"cat{c:02d}" for c in range(config.n_categories)], name=Columns.category)
        ),
        customer_factors=customer_factors,
        product_factors=product_factors,
        empty_visit_share=1 - np.unique(lines["visit"].to_numpy()).size / max(len(visits), 1),
        stockout_share=float((market.demand > market.stock).mean()),
    )
    return ShopData(
        transactions=transactions,
        source=f"synthetic:{config.seed}" + ("" if config.confounded else ":unconfounded"),
        products=products_out,
        customers=customers_out,
        promotions=promotion_table(weekly),
        stock=stock_table(weekly),
        support_contacts=support,
        surveys=surveys,
        reports=[report, product_report, customer_report, support_report, survey_report],
        truth=truth,
    )


def _product_truth(products: pd.DataFrame, market: Market, ids: ShopIds) -> pd.DataFrame:
    """The products' generating parameters by product_id, with the first week's regular price as the
    reference price."""
    return (
        products.drop(columns=["category_index"])
        .assign(reference_price=market.regular[:, 0], base_cost=products["base_cost"])
        .set_index(pd.Index(ids.products, name=Columns.item))
    )
