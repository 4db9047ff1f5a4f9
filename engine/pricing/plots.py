"""Figures of the pricing models (returned, never shown or saved: the caller decides)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from engine.pricing.facts import BASE_UNITS, CURRENT_PRICE
from engine.pricing.optimizer import PriceOptimizer
from engine.pricing.shrinkage import CI_HIGH, CI_LOW, ELASTICITY


def demand_curve(optimizer: PriceOptimizer, product_id: str, span: float = 0.3) -> Figure:
    """Expected weekly units (with the elasticity's 95% band) and margin against price, with the
    current price, the quoted price and the guardrail bounds of the next step."""
    quote = optimizer.quote(product_id)
    facts = optimizer.facts_.loc[product_id]
    table = optimizer.elasticities_.loc[product_id]
    current = float(facts[CURRENT_PRICE])
    prices = np.linspace(current * (1 - span), current * (1 + span), 61)

    def units(elasticity: float) -> np.ndarray:
        return float(facts[BASE_UNITS]) * (prices / current) ** elasticity

    figure = Figure(figsize=(6.4, 4.0))
    axis = figure.subplots()
    axis.plot(prices, units(table[ELASTICITY]), color="C0", label=f"units (e = {table[ELASTICITY]:.2f})")
    axis.fill_between(prices, units(table[CI_LOW]), units(table[CI_HIGH]), color="C0", alpha=0.15, label="95% band")
    axis.set_xlabel("price")
    axis.set_ylabel("expected units per week")
    if quote.unit_cost is not None:
        margin_axis = axis.twinx()
        margin_axis.plot(prices, (prices - quote.unit_cost) * units(table[ELASTICITY]), color="C1", label="margin")
        margin_axis.set_ylabel("expected margin per week", color="C1")
    interval = optimizer.interval(product_id)
    axis.axvspan(max(interval.low, prices[0]), min(interval.high, prices[-1]), color="grey", alpha=0.08, label="allowed this step")
    axis.axvline(current, color="black", linestyle=":", label=f"current {current:.2f}")
    if quote.price is not None:
        axis.axvline(quote.price, color="C2", linestyle="--", label=f"quoted {quote.price:.2f} ({quote.reason})")
    axis.set_title(f"{product_id} ({facts['category']})")
    axis.legend(loc="upper right", fontsize=7)
    figure.tight_layout()
    return figure


def elasticity_scatter(tables: dict[str, pd.DataFrame], truth: pd.Series, reference: str = "true elasticity") -> Figure:
    """Estimated elasticities against a reference (the truth, or another estimator), one panel per
    estimator."""
    figure = Figure(figsize=(3.2 * len(tables), 3.2))
    axes = np.atleast_1d(figure.subplots(1, len(tables), sharex=True, sharey=True))
    low, high = float(truth.min()) - 0.5, float(truth.max()) + 0.5
    for axis, (name, table) in zip(axes, tables.items()):
        axis.scatter(truth.reindex(table.index), table[ELASTICITY], s=8, alpha=0.7)
        axis.plot([low, high], [low, high], color="black", linewidth=0.8)
        axis.set_title(name, fontsize=9)
        axis.set_xlabel(reference)
    axes[0].set_ylabel("estimated")
    figure.tight_layout()
    return figure


def elasticity_histogram(tables: dict[str, pd.DataFrame]) -> Figure:
    """Distribution of the (pooled) elasticities of each estimator."""
    figure = Figure(figsize=(6.4, 3.6))
    axis = figure.subplots()
    values = [table[ELASTICITY].clip(-6, 2) for table in tables.values()]
    axis.hist(values, bins=30, label=list(tables), histtype="step", linewidth=1.4)
    axis.axvline(-1, color="black", linestyle=":", linewidth=0.8)
    axis.set_xlabel("own-price elasticity (clipped to [-6, 2])")
    axis.set_ylabel("products")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
