"""The best price the guardrails allow under a known constant-elasticity demand: the benchmark's oracle.

Demand is ``units(p) = base_units * p ** elasticity``; the objective is profit ``(p - cost) * units(p)``
or revenue ``p * units(p)``. Both are unimodal in ``p`` (profit rises while ``p < cost``, peaks at
``cost * e / (1 + e)`` when ``e < -1`` and keeps rising when ``e >= -1``; revenue falls with ``p`` when
``e < -1`` and rises when ``e > -1``), so the best allowed price is found exactly among a handful of
candidates: the ladder neighbours of the continuous optimum clipped into the feasible interval, the
unchanged current price when it is inside the interval, and, when no ladder price fits the interval, the
whole cents next to the optimum. ``base_units`` scales every candidate alike and so does not matter.

:func:`joint_oracle_prices` is the oracle of products whose demand has cross-price effects: the true
demand of one product depends on the others' prices, so a category's prices are chosen together
(coordinate ascent over the same ladder inside each product's interval, :mod:`engine.pricing.joint`).

This is *not* the optimizer fed the true elasticity: it has none of the optimizer's caution (no
significance test, no refusal to reprice inelastic products, no stock adjustment), only the same
guardrails (:func:`engine.pricing.guardrails.feasible_interval`) and the same price ladder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from engine.pricing import guardrails as G
from engine.pricing import joint as J
from engine.pricing.joint import CategoryDemand

Objective = Literal["profit", "revenue"]


def unconstrained_optimum(elasticity: float, unit_cost: float | None, objective: Objective) -> float:
    """The price that maximises the objective with no guardrail (``math.inf``: as high as allowed;
    ``0.0``: as low as allowed; NaN when the objective is flat or undefined)."""
    if not math.isfinite(elasticity):
        return math.nan
    if objective == "revenue":
        return 0.0 if elasticity < -1 else math.inf if elasticity > -1 else math.nan
    if unit_cost is None or not math.isfinite(unit_cost):
        return math.nan
    return unit_cost * elasticity / (1 + elasticity) if elasticity < -1 else math.inf


def _objective_key(price: float, elasticity: float, unit_cost: float | None, objective: Objective) -> tuple[int, float]:
    """A sortable stand-in for the objective at ``price`` (sign, log of magnitude): exact ordering with
    no overflow at prices from 0.01 to 1e9 and elasticities to -50."""
    log_units = elasticity * math.log(price)
    margin = price if objective == "revenue" else price - (unit_cost or 0.0)
    if margin == 0:
        return 0, 0.0
    sign = 1 if margin > 0 else -1
    return sign, sign * (math.log(abs(margin)) + log_units)


def best_price(candidates: list[float], elasticity: float, unit_cost: float | None, objective: Objective) -> float:
    """The candidate with the highest objective (the first of equals)."""
    if objective == "profit" and (unit_cost is None or not math.isfinite(unit_cost)):
        raise ValueError("the profit objective needs a finite unit_cost")
    return max(candidates, key=lambda p: _objective_key(p, elasticity, unit_cost, objective))


def constrained_oracle_price(
    interval: G.Interval,
    elasticity: float,
    unit_cost: float | None,
    policy: G.PricingPolicy,
    current_price: float | None = None,
    objective: Objective | None = None,
) -> float:
    """The best price inside ``interval`` (from :func:`engine.pricing.guardrails.feasible_interval`) for
    a true constant ``elasticity`` and true ``unit_cost``: on the policy's ladder, or the unchanged
    ``current_price`` if that is inside the interval and better, or a whole cent when no ladder price
    fits (the aim itself when no cent does). ``objective`` defaults to the policy's. Always finite and
    inside the interval; raises ValueError for the profit objective without a finite ``unit_cost``.

    Typical use, per product and step (the cost the guardrails know may differ from the true one)::

        interval = feasible_interval(policy, current, facts_cost, list_price, min_seen, max_seen)
        price = constrained_oracle_price(interval, true_elasticity, true_cost, policy, current)
    """
    objective = objective or policy.objective
    aim = unconstrained_optimum(elasticity, unit_cost, objective)
    if math.isnan(aim):  # a flat objective: keep the current price as far as allowed
        aim = interval.clip(current_price) if current_price is not None else interval.low
    aim = interval.clip(aim)
    candidates = G.ladder_candidates(interval, aim, policy)
    if not candidates:  # whole cents next to the aim, or the aim itself when no cent fits
        cents = (math.floor(aim * 100) / 100, math.ceil(aim * 100) / 100)
        candidates = [c for c in cents if interval.low <= c <= interval.high] or [aim]
    if current_price is not None and interval.low <= current_price <= interval.high:
        candidates.append(current_price)
    return best_price(candidates, elasticity, unit_cost, objective)


def joint_oracle_prices(
    intervals: Sequence[G.Interval],
    demand: CategoryDemand,
    policy: G.PricingPolicy,
    current_prices: Sequence[float],
    objective: Objective | None = None,
) -> list[float]:
    """The best prices the guardrails allow for a set of products whose true demand has cross-price
    effects (``demand``): per category, coordinate ascent (:func:`engine.pricing.joint.coordinate_ascent`)
    over each product's ladder inside its ``intervals[j]``, from the per-product oracle prices (so it is
    never worse than pricing each product alone). Without cross-price effects it is the per-product
    oracle. Always finite and inside each interval."""
    objective = objective or policy.objective
    costs = [0.0 if objective == "revenue" else c for c in demand.cost]
    start = [
        constrained_oracle_price(interval, e, demand.cost[j], policy, current_prices[j], objective)
        for j, (interval, e) in enumerate(zip(intervals, demand.elasticity))
    ]
    prices = list(start)
    for members in demand.categories().values():
        if len(members) < 2 or demand.cross[members[0]] == 0:
            continue

        def respond(i: int, chosen: list[float], members: list[int] = members) -> float:
            j = members[i]
            trial = list(prices)
            for k, p in zip(members, chosen):
                trial[k] = p
            response = demand.response(j, trial, members, costs)
            return J.best_response(response, intervals[j], policy, keep=(chosen[i], current_prices[j]))[0]

        for k, p in zip(members, J.coordinate_ascent([start[k] for k in members], respond)):
            prices[k] = p
    return prices
