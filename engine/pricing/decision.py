"""The optimizer's decision rule: the price whose profit is worth most, given what is known of the elasticity.

A product's weekly profit at price ``p`` is ``(p - c) * units0 * (p / r) ** e``, with ``units0`` the units
expected at the reference price ``r`` (where the data last saw it) and ``c`` the unit cost (0 for the
revenue objective). The elasticity is not known: it is ``e ~ N(e_hat, se^2)`` (the estimate and its
bias-aware standard error, :mod:`engine.pricing.bias_bound`), so the log of the profit is normal with mean
``log(p - c) + e_hat L`` and variance ``se^2 L^2`` (``L = log(p / r)``): the further the price moves from
where the demand was measured, the less is known about the profit there.

The rule maximises the certainty equivalent of that uncertain profit for a merchant with constant
relative risk aversion ``rho`` (``policy.risk_aversion``):

    log CE(p) = log(p - c) + e_hat L - (rho - 1) se^2 L^2 / 2

``rho = 0`` is the expected profit, ``rho = 1`` the profit at the estimate (the plug-in rule), and a
larger ``rho`` shrinks a move towards the reference price in proportion to how uncertain it makes the
profit. ``log CE`` is concave in ``L`` for ``rho >= 1`` and ``p > c``, so its maximum is the one root of

    p / (p - c) + e_hat - (rho - 1) se^2 L = 0

found by bisection in O(1) (and the best price in an interval is that root clipped into it; of ladder
prices, one of its two neighbours). The same root is the constant-elasticity optimum
``c e_ce / (1 + e_ce)`` of the *certainty-equivalent elasticity* ``e_ce = e_hat - (rho - 1) se^2 L``, the
elasticity a plug-in rule would need to choose the same price: the cross-price step
(:mod:`engine.pricing.joint`) prices with it.
"""

from __future__ import annotations

import math

from engine.pricing import guardrails as G

_BISECTIONS = 60
_MAX_LOG_MOVE = 30.0  # e^30: far beyond any allowed price move (the interval clips the aim)


def penalty(se: float, risk_aversion: float) -> float:
    """The curvature ``(rho - 1) se^2`` the uncertainty adds to ``log CE`` (0 for the plug-in rule)."""
    return (risk_aversion - 1.0) * se * se


def certainty_equivalent(price: float, reference: float, elasticity: float, cost: float, curvature: float) -> tuple[int, float]:
    """A sortable stand-in for the certainty-equivalent profit at ``price`` (sign of the margin, then the
    log of its magnitude; exact ordering with no overflow at any magnitude). A price at or below cost has
    a loss, ranked by the loss at the estimate."""
    margin = price - cost
    if margin == 0:
        return 0, 0.0
    move = math.log(price / reference)
    if margin < 0:
        return -1, -(math.log(-margin) + elasticity * move)
    return 1, math.log(margin) + elasticity * move - curvature * move * move / 2


def best_price(candidates: list[float], reference: float, elasticity: float, cost: float, curvature: float) -> float:
    """The candidate with the highest certainty-equivalent profit (the first of equals)."""
    return max(candidates, key=lambda p: certainty_equivalent(p, reference, elasticity, cost, curvature))


def _slope(move: float, reference: float, elasticity: float, cost: float, curvature: float) -> float:
    """``d log CE / d L`` at ``L = move`` (``p > c``)."""
    price = reference * math.exp(move)
    return price / (price - cost) + elasticity - curvature * move


def optimum(reference: float, elasticity: float, cost: float, curvature: float) -> float:
    """The price that maximises ``log CE`` with no guardrail (``math.inf``: as high as allowed; ``0.0``: as
    low as allowed). ``cost`` 0 is the revenue objective."""
    if curvature <= 0:  # the plug-in (or risk-seeking) rule: the constant-elasticity optimum
        if elasticity >= -1:
            return math.inf
        return cost * elasticity / (1 + elasticity) if cost > 0 else 0.0
    if cost <= 0:  # revenue: 1 + e - curvature L = 0
        return reference * math.exp(max(min((1 + elasticity) / curvature, _MAX_LOG_MOVE), -_MAX_LOG_MOVE))
    low = math.log(cost / reference)  # the slope is +inf just above cost and falls without bound
    high = max(low, 0.0) + _MAX_LOG_MOVE
    if _slope(high, reference, elasticity, cost, curvature) > 0:
        return reference * math.exp(high)
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        low, high = (middle, high) if _slope(middle, reference, elasticity, cost, curvature) > 0 else (low, middle)
    return reference * math.exp((low + high) / 2)


def equivalent_elasticity(price: float, reference: float, elasticity: float, curvature: float) -> float:
    """``e_ce``: the elasticity at which the plug-in rule's optimum is the certainty-equivalent optimum ``price``."""
    return elasticity - curvature * math.log(price / reference)


def uncertainty_flags(interval: G.Interval, reference: float, elasticity: float, ci_high: float, cost: float, aim: float) -> list[str]:
    """What a decision weighed besides the estimate, as quote flags: an interval that reaches 0
    (``not_significant``), inelastic demand (``inelastic``: the profit rises with the price at the
    estimate), and an ``aim`` the uncertainty moved by more than 1% from the estimate's own optimum
    (``uncertain``; both inside ``interval``)."""
    alone = interval.clip(optimum(reference, elasticity, cost, 0.0))
    moved = abs(math.log(interval.clip(aim) / alone)) > 0.01
    named = ((G.NOT_SIGNIFICANT, ci_high >= 0), (G.INELASTIC, elasticity >= -1), (G.UNCERTAIN, moved))
    return [name for name, on in named if on]
