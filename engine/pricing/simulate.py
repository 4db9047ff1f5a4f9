"""Forward simulation of pricing policies on a synthetic shop, scored with its true demand.

Week by week over the holdout, each policy sets every product's price from the previous week's; the
week's profit is computed from the true expected units at the chosen prices (the observed week's
expected units, moved by the true own- and cross-price elasticities), with that week's true unit cost.
Three policies: keep the current prices, the optimizer with estimated elasticities, and the same
optimizer with the true elasticities (the oracle). Every quote is checked against its guardrails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.synthetic import SyntheticTruth
from engine.pricing import guardrails as G
from engine.pricing.optimizer import CURRENT_PRICE, PriceOptimizer
from engine.pricing.shrinkage import CI_HIGH, CI_LOW, ELASTICITY, SE


def true_profit(truth: SyntheticTruth, week: pd.Timestamp, prices: pd.Series) -> float:
    """Expected profit of one week at ``prices`` (index product_id) under the true demand."""
    observed = truth.weekly.loc[truth.weekly["week_start"] == week].set_index(Columns.item).loc[prices.index]
    category = truth.products.loc[prices.index, Columns.category]
    shift = np.log(prices.to_numpy(float) / observed["price"].to_numpy(float))
    shift_by_category = pd.Series(shift, index=prices.index).groupby(category.to_numpy())
    sums, sizes = shift_by_category.transform("sum").to_numpy(), shift_by_category.transform("size").to_numpy()
    others = np.where(sizes > 1, (sums - shift) / np.maximum(sizes - 1, 1), 0.0)
    own = truth.products.loc[prices.index, "elasticity"].to_numpy()
    cross = category.map(truth.cross_elasticity).to_numpy()
    units = observed["expected_units"].to_numpy() * np.exp(own * shift + cross * others)
    return float(np.sum((prices.to_numpy(float) - observed[Columns.unit_cost].to_numpy(float)) * units))


def oracle_table(truth: SyntheticTruth, product_ids: pd.Index) -> pd.DataFrame:
    """An elasticity table holding the true elasticities (known exactly)."""
    e = truth.elasticity.loc[product_ids]
    return pd.DataFrame({ELASTICITY: e, SE: 0.0, CI_LOW: e, CI_HIGH: e}, index=product_ids)


@dataclass(frozen=True)
class Simulation:
    """Profit of a policy over the simulated weeks, with its quotes checked."""

    profit: float
    quotes: int
    violations: int
    prices: pd.DataFrame  # one column per week


def simulate(
    optimizer: PriceOptimizer | None, truth: SyntheticTruth, weeks: list[pd.Timestamp], start: pd.Series
) -> Simulation:
    """Run a policy forward from ``start`` prices; ``optimizer=None`` keeps the start prices."""
    prices, profit, quotes, violations, path = start.astype(float).copy(), 0.0, 0, 0, {}
    for week in weeks:
        if optimizer is not None:
            new = {}
            for product_id, current in prices.items():
                quote = optimizer.quote(product_id, current_price=current)
                rules = optimizer.guardrails(product_id, current)
                kept = bool(np.isclose(quote.price, current))
                violations += len(G.violations(quote.price, rules, optimizer.policy_, kept_current=kept))
                quotes += 1
                new[product_id] = quote.price
            prices = pd.Series(new)
        path[week] = prices
        profit += true_profit(truth, week, prices)
    return Simulation(profit, quotes, violations, pd.DataFrame(path))


def compare_policies(
    estimated: PriceOptimizer, truth: SyntheticTruth, weeks: list[pd.Timestamp]
) -> dict[str, float]:
    """Profit of the optimizer, the oracle (same facts and policy, true elasticities) and current
    prices over ``weeks``; guardrail violations of both optimizers."""
    facts = estimated.facts_
    oracle = PriceOptimizer(estimated.policy_).fit(oracle_table(truth, facts.index), facts, model_version="oracle")
    start = facts[CURRENT_PRICE]
    runs = {name: simulate(model, truth, weeks, start) for name, model in (("optimizer", estimated), ("oracle", oracle), ("current", None))}
    return {
        "profit_optimizer": runs["optimizer"].profit,
        "profit_oracle": runs["oracle"].profit,
        "profit_current": runs["current"].profit,
        "profit_ratio_to_oracle": runs["optimizer"].profit / runs["oracle"].profit,
        "profit_ratio_to_current": runs["optimizer"].profit / runs["current"].profit,
        "oracle_ratio_to_current": runs["oracle"].profit / runs["current"].profit,
        "guardrail_violations": float(runs["optimizer"].violations),
        "oracle_guardrail_violations": float(runs["oracle"].violations),
        "quotes": float(runs["optimizer"].quotes),
    }
