"""What the optimizer knows about each product: its facts from the training panel (current, list and
observed prices, unit cost, recent weekly units) and, with its elasticity, its expected units at a price."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.errors import EngineError
from engine.pricing import panel as P
from engine.pricing.shrinkage import CI_HIGH, CI_LOW, ELASTICITY, SE

CURRENT_PRICE = "current_price"
LIST_PRICE = "list_price"
MIN_PRICE = "min_price"
MAX_PRICE = "max_price"
BASE_UNITS = "base_units"  # expected weekly units at the current price (recent weeks)
DISCOUNT = "discount"  # the segment offers' column
ELASTICITY_COLUMNS = (ELASTICITY, SE, CI_LOW, CI_HIGH)
FACT_COLUMNS = (Columns.category, CURRENT_PRICE, Columns.unit_cost, LIST_PRICE, MIN_PRICE, MAX_PRICE, BASE_UNITS)


def product_facts(panel: pd.DataFrame, elasticity: pd.Series, recent_weeks: int = 4, cost_weeks: int = 8) -> pd.DataFrame:
    """What the optimizer needs to know about each product, from the training panel.

    current_price: last regular (shelf) price; unit_cost: median over the last ``cost_weeks`` weeks
    with sales (a one-week deal does not set the cost); list_price: highest regular price seen;
    min_price / max_price: range of paid prices seen; base_units: mean weekly units of the last
    ``recent_weeks`` weeks, moved to the current price with the product's elasticity.
    """
    panel = panel.loc[panel[Columns.item].isin(elasticity.index)].sort_values([Columns.item, P.WEEK])
    if panel.empty:
        raise EngineError("no panel row belongs to a product with an elasticity")
    grouped = panel.groupby(Columns.item, sort=True)
    current = grouped[P.REGULAR_PRICE].last()
    last_weeks = panel.loc[panel[P.WEEK] > panel[P.WEEK].max() - pd.Timedelta(weeks=recent_weeks)]
    e = last_weeks[Columns.item].map(elasticity)
    moved = last_weeks[P.UNITS] * (last_weeks[Columns.item].map(current) / last_weeks[P.PRICE]) ** e
    cost = grouped.tail(cost_weeks).groupby(Columns.item)[Columns.unit_cost].median() if Columns.unit_cost in panel else np.nan
    facts = pd.DataFrame(
        {
            Columns.category: grouped[Columns.category].first(),
            CURRENT_PRICE: current.round(2),
            Columns.unit_cost: cost,
            LIST_PRICE: grouped[P.REGULAR_PRICE].max().round(2),
            MIN_PRICE: grouped[P.PRICE].min().round(2),
            MAX_PRICE: grouped[P.PRICE].max().round(2),
            # a product without a sale in the last weeks is expected to sell nothing at this price
            BASE_UNITS: (moved.groupby(last_weeks[Columns.item]).sum() / recent_weeks).reindex(current.index).fillna(0.0),
        }
    )
    facts.index.name = Columns.item
    return facts


@dataclass
class ProductFacts:
    """One product's facts and elasticity, as plain floats."""

    category: str
    current_price: float
    unit_cost: float | None
    list_price: float
    min_price: float
    max_price: float
    base_units: float
    elasticity: float
    se: float
    ci_low: float
    ci_high: float
    own_estimate: bool

    def units(self, price: float) -> float:
        """Expected weekly units at ``price`` (in logs: a huge price ratio gives 0 or a huge finite number,
        never an overflow)."""
        return self.base_units * math.exp(min(max(self.elasticity * math.log(price / self.current_price), -745.0), 700.0))


def check_fit_inputs(elasticities: pd.DataFrame, facts: pd.DataFrame, segment_offers: pd.DataFrame | None) -> None:
    """Refuse an optimizer fit on incomplete tables or on prices that are not finite and positive,
    naming the column and the first product at fault."""
    missing = [c for c in ELASTICITY_COLUMNS if c not in elasticities] + [c for c in FACT_COLUMNS if c not in facts]
    if missing:
        raise EngineError(f"PriceOptimizer.fit: missing column(s) {missing}")
    for column in (CURRENT_PRICE, LIST_PRICE, MIN_PRICE, MAX_PRICE):
        values = pd.to_numeric(facts[column], errors="coerce").to_numpy(float)
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            raise EngineError(
                f"PriceOptimizer.fit: {column} must be a finite price > 0; product {facts.index[bad][0]!r} "
                f"has {facts[column].iloc[int(np.argmax(bad))]!r} ({int(bad.sum())} product(s) in all)"
            )
    unknown = facts.index.difference(elasticities.index)
    if len(unknown):
        raise EngineError(f"PriceOptimizer.fit: {len(unknown)} product(s) have facts but no elasticity, e.g. {list(unknown[:3])}")
    if segment_offers is not None and DISCOUNT not in segment_offers:
        raise EngineError(f"segment_offers need a {DISCOUNT!r} column")
