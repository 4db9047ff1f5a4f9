"""Forward simulation of pricing policies on a synthetic shop, scored with its true demand.

Week by week over the holdout, each policy sets every product's price from the previous week's; the
week's profit is computed from the true expected units at the chosen prices (the observed week's
expected units, moved by the true own- and cross-price elasticities), with that week's true unit cost.
Four policies: keep the current prices, the optimizer with estimated elasticities, the constrained
oracle (the best prices the same guardrails allow under that week's true demand, own- and cross-price
effects, and true costs, set jointly per category: :func:`engine.pricing.oracle.joint_oracle_prices`), and the same optimizer fed the true elasticities (the
earlier benchmark's oracle, which keeps the prices of inelastic products and so understates what the
guardrails allow). Every quote of the optimizer is checked against its guardrails.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.synthetic import SyntheticTruth
from engine.pricing import guardrails as G
from engine.pricing.facts import CURRENT_PRICE, LIST_PRICE, MAX_PRICE, MIN_PRICE
from engine.pricing.joint import CategoryDemand
from engine.pricing.optimizer import PriceOptimizer
from engine.pricing.oracle import joint_oracle_prices
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


Step = Callable[[pd.Timestamp, pd.Series], tuple[pd.Series, int, int]]  # week, prices -> new prices, quotes, violations


def optimizer_step(optimizer: PriceOptimizer) -> Step:
    """A policy step that quotes every product with ``optimizer`` (:meth:`PriceOptimizer.quote_all`: a
    category with a significant cross-price effect is priced jointly) and checks each quote's guardrails."""

    def step(week: pd.Timestamp, prices: pd.Series) -> tuple[pd.Series, int, int]:
        quotes = optimizer.quote_all(current_prices=prices)["price"].astype(float).loc[prices.index]
        violations = 0
        for product_id, current in prices.items():
            rules = optimizer.guardrails(product_id, current)
            kept = bool(np.isclose(quotes[product_id], current))
            violations += len(G.violations(quotes[product_id], rules, optimizer.policy_, kept_current=kept))
        return quotes, len(quotes), violations

    return step


def constrained_oracle_step(optimizer: PriceOptimizer, truth: SyntheticTruth) -> Step:
    """A policy step that sets the prices to the best the optimizer's guardrails allow (its facts: the
    cost it knows, list price, range seen) under the week's true demand, own- and cross-price effects
    and true costs included: :func:`engine.pricing.oracle.joint_oracle_prices`, category by category."""
    facts = optimizer.facts_

    def step(week: pd.Timestamp, prices: pd.Series) -> tuple[pd.Series, int, int]:
        observed = truth.weekly.loc[truth.weekly["week_start"] == week].set_index(Columns.item).loc[prices.index]
        category = truth.products.loc[prices.index, Columns.category]
        demand = CategoryDemand(
            reference=observed["price"].astype(float).tolist(),
            units=observed["expected_units"].astype(float).tolist(),
            elasticity=truth.elasticity.loc[prices.index].astype(float).tolist(),
            cost=observed[Columns.unit_cost].astype(float).tolist(),
            cross=category.map(truth.cross_elasticity).astype(float).tolist(),
            category=category.astype(str).tolist(),
        )
        intervals = []
        for product_id, current in prices.items():
            row = facts.loc[product_id]
            known = float(row[Columns.unit_cost])
            intervals.append(
                G.feasible_interval(
                    optimizer.policy_, float(current), known if math.isfinite(known) else None, float(row[LIST_PRICE]),
                    float(row[MIN_PRICE]), float(row[MAX_PRICE]),
                )
            )
        chosen = joint_oracle_prices(intervals, demand, optimizer.policy_, prices.astype(float).tolist())
        return pd.Series(chosen, index=prices.index), len(prices), 0

    return step


def simulate(step: Step | None, truth: SyntheticTruth, weeks: list[pd.Timestamp], start: pd.Series) -> Simulation:
    """Run a policy forward from ``start`` prices; ``step=None`` keeps the start prices."""
    prices, profit, quotes, violations, path = start.astype(float).copy(), 0.0, 0, 0, {}
    for week in weeks:
        if step is not None:
            prices, asked, broken = step(week, prices)
            quotes, violations = quotes + asked, violations + broken
        path[week] = prices
        profit += true_profit(truth, week, prices)
    return Simulation(profit, quotes, violations, pd.DataFrame(path))


def compare_policies(
    estimated: PriceOptimizer, truth: SyntheticTruth, weeks: list[pd.Timestamp]
) -> dict[str, float]:
    """Profit over ``weeks`` of the optimizer, the constrained oracle (``profit_oracle``), the optimizer
    fed the true elasticities and current prices; guardrail violations of both optimizers."""
    facts = estimated.facts_
    informed = PriceOptimizer(estimated.policy_).fit(oracle_table(truth, facts.index), facts, model_version="oracle")
    start = facts[CURRENT_PRICE]
    steps = {
        "optimizer": optimizer_step(estimated),
        "oracle": constrained_oracle_step(estimated, truth),
        "informed": optimizer_step(informed),
        "current": None,
    }
    runs = {name: simulate(step, truth, weeks, start) for name, step in steps.items()}
    return {
        "profit_optimizer": runs["optimizer"].profit,
        "profit_oracle": runs["oracle"].profit,
        "profit_informed_optimizer": runs["informed"].profit,
        "profit_current": runs["current"].profit,
        "profit_ratio_to_oracle": runs["optimizer"].profit / runs["oracle"].profit,
        "profit_ratio_to_informed_optimizer": runs["optimizer"].profit / runs["informed"].profit,
        "profit_ratio_to_current": runs["optimizer"].profit / runs["current"].profit,
        "oracle_ratio_to_current": runs["oracle"].profit / runs["current"].profit,
        "guardrail_violations": float(runs["optimizer"].violations),
        "oracle_guardrail_violations": float(runs["informed"].violations),
        "quotes": float(runs["optimizer"].quotes),
    }
