"""Prices of a category set together: one product's best price when its price also moves the other
products' units (cross-price effects), and coordinate ascent over a whole category.

The demand system (the synthetic shop's and the optimizer's): product ``j`` of a category of ``n`` sells
``units_j = base_j * (p_j / r_j) ** e_j * exp(gamma * mean_{k != j} log(p_k / r_k))`` around reference
prices ``r``. Raising ``p_j`` by one log point moves every other product's units by ``h = gamma / (n - 1)``
log points, so the category's profit as a function of ``p_j`` alone is

    f(p) = (p - c_j) * U_j(p) + O_j * (p / p_now) ** h

with ``U_j`` the product's own units (the others' prices folded in) and ``O_j`` the others' profit at
``p_now``. A product priced alone (``h = 0``) has the familiar optimum ``c e / (1 + e)``; with
substitutes (``gamma > 0``) the best price is higher, because some of the units a higher price loses go
to the category's other products.

:func:`best_response` maximises ``f`` over the ladder prices of a feasible interval *exactly* in O(1):
``p f'(p) = U(p) ((1 + e) p - e c) + h O (p / p_now) ** h``, whose first term has one turning point
``p* = e c (e - h) / ((1 + e)(e - h + 1))`` after division by ``p ** -h``; so ``f'`` changes sign at most
once on each side of ``p*``, each sign change is found by bisection, and the best ladder price is a
ladder neighbour of a local maximum (an interior one or an end of the interval). :func:`coordinate_ascent`
repeats best responses over a category until no price moves (each step can only raise the category's
profit, so it stops).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.errors import EngineError
from engine.pricing import guardrails as G
from engine.pricing.cross_price import CROSS, RELATION

_MAX_LOG = 700.0  # exp() of more overflows: amounts are capped there (the order of candidates is kept)
_BISECTIONS = 48


def _exp(value: float) -> float:
    return math.exp(min(max(value, -745.0), _MAX_LOG))


SIGNIFICANT_RELATIONS = ("substitutes", "complements")  # cross-price relations the optimizer acts on


@dataclass(frozen=True)
class Response:
    """One product's demand, given the others' prices: ``units(p) = units_now * (p / price_now) ** e``;
    ``others_profit`` is the rest of the category's profit at ``price_now``, which moves as ``(p /
    price_now) ** spill`` (``spill = gamma / (n - 1)``; 0 alone or without a cross-price effect)."""

    price_now: float
    units_now: float
    elasticity: float
    cost: float  # 0 for the revenue objective
    others_profit: float = 0.0
    spill: float = 0.0

    def log_units(self, price: float) -> float:
        return math.log(self.units_now) + self.elasticity * math.log(price / self.price_now) if self.units_now > 0 else -math.inf

    def objective(self, price: float) -> float:
        """The category's profit (or revenue) at ``price`` for this product, the others' prices fixed."""
        own = (price - self.cost) * _exp(self.log_units(price)) if self.units_now > 0 else 0.0
        return own + self.others_profit * _exp(self.spill * math.log(price / self.price_now))

    def slope_sign(self, price: float) -> float:
        """The sign of the objective's derivative at ``price`` (of ``p f'(p)``)."""
        own = ((1 + self.elasticity) * price - self.elasticity * self.cost) * _exp(self.log_units(price)) if self.units_now > 0 else 0.0
        return own + self.spill * self.others_profit * _exp(self.spill * math.log(price / self.price_now))

    def turning_point(self) -> float | None:
        """``p*``: where the own term of :meth:`slope_sign` (divided by ``p ** -spill``) turns."""
        e, h = self.elasticity, self.spill
        a, b = (1 + e) * (e - h + 1), e * self.cost * (e - h)
        return b / a if a != 0 and b / a > 0 else None


def local_maxima(response: Response, low: float, high: float) -> list[float]:
    """The prices in ``[low, high]`` where the objective has a local maximum (ends included)."""
    if high <= low:
        return [low]
    cuts = [low] + [p for p in [response.turning_point()] if p is not None and low < p < high] + [high]
    found = []
    if response.slope_sign(low) <= 0:
        found.append(low)
    for a, b in zip(cuts[:-1], cuts[1:]):  # the slope's sign changes at most once on each piece
        if response.slope_sign(a) > 0 > response.slope_sign(b):
            lo, hi = math.log(a), math.log(b)
            for _ in range(_BISECTIONS):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if response.slope_sign(math.exp(mid)) > 0 else (lo, mid)
            found.append(math.exp((lo + hi) / 2))
    if response.slope_sign(high) >= 0:
        found.append(high)
    return found


def best_response(
    response: Response, interval: G.Interval, policy: G.PricingPolicy, keep: Sequence[float] = ()
) -> tuple[float, float]:
    """The best price inside ``interval`` for ``response``, and the local maximum it was taken next to
    (the aim): on the policy's ladder, or one of the prices in ``keep`` (e.g. the unchanged current
    price) that lies inside the interval, or a whole cent when no ladder price fits (the aim itself when
    no cent does). Of equal objectives the first of ``keep`` wins, so a kept price moves only for a gain."""
    peaks = local_maxima(response, interval.low, interval.high)
    candidates = {p: p for p in keep if interval.low <= p <= interval.high}
    on_ladder = {p: peak for peak in peaks for p in G.ladder_candidates(interval, peak, policy)}
    if not on_ladder:
        peak = max(peaks, key=response.objective)
        cents = (math.floor(peak * 100) / 100, math.ceil(peak * 100) / 100)
        on_ladder = {c: peak for c in cents if interval.low <= c <= interval.high} or {peak: peak}
    for price in sorted(on_ladder):
        candidates.setdefault(price, on_ladder[price])
    price = max(candidates, key=response.objective)
    return price, candidates[price]


def coordinate_ascent(start: Sequence[float], respond: Callable[[int, list[float]], float], max_sweeps: int = 20) -> list[float]:
    """Best responses product by product until a sweep moves no price (``respond(j, prices)``: product
    ``j``'s best price given the others in ``prices``, keeping ``prices[j]`` unless another is better,
    so each move raises the objective and the ascent stops)."""
    prices = list(start)
    for _ in range(max_sweeps):
        moved = False
        for j in range(len(prices)):
            proposal = respond(j, prices)
            if proposal != prices[j]:
                prices[j], moved = proposal, True
        if not moved:
            break
    return prices


@dataclass(frozen=True)
class CategoryDemand:
    """Constant-elasticity demand with a cross-price effect per category, for a set of products:
    ``units[j]`` expected at the ``reference[j]`` prices; ``cross[j]`` is the ``gamma`` of ``j``'s category
    (0: no cross-price effect); ``category[j]`` its category."""

    reference: Sequence[float]
    units: Sequence[float]
    elasticity: Sequence[float]
    cost: Sequence[float]
    cross: Sequence[float]
    category: Sequence[str]

    def categories(self) -> dict[str, list[int]]:
        """The positions of each category's products."""
        found: dict[str, list[int]] = {}
        for j, name in enumerate(self.category):
            found.setdefault(name, []).append(j)
        return found

    def units_at(self, prices: Sequence[float], members: Sequence[int]) -> dict[int, float]:
        """Expected units of each of ``members`` (one category) at ``prices``."""
        shift = {k: math.log(prices[k] / self.reference[k]) for k in members}
        total, n = sum(shift.values()), len(members)
        return {
            k: self.units[k] * _exp(self.elasticity[k] * shift[k] + (self.cross[k] * (total - shift[k]) / (n - 1) if n > 1 else 0.0))
            for k in members
        }

    def response(self, j: int, prices: Sequence[float], members: Sequence[int], costs: Sequence[float]) -> Response:
        """Product ``j``'s :class:`Response` with the other ``members`` of its category at ``prices``
        (``costs``: the unit costs the objective subtracts, 0 for revenue; a NaN cost's product is left out
        of the others' profit)."""
        units = self.units_at(prices, members)
        others = sum((prices[k] - costs[k]) * units[k] for k in members if k != j and not math.isnan(costs[k]))
        spill = self.cross[j] / (len(members) - 1) if len(members) > 1 else 0.0
        return Response(prices[j], units[j], self.elasticity[j], costs[j], others, spill)


def joint_reason(response: Response, interval: G.Interval, aim: float) -> str:
    """Why a category-priced product's price is where it is: the rule at the end of the interval its aim
    was held at while the objective still rose past it, else ``optimal``."""
    tolerance = G.price_tolerance(aim)
    if aim >= interval.high - tolerance and response.slope_sign(interval.high) > 0:
        return interval.high_rule or G.OPTIMAL
    if aim <= interval.low + tolerance and response.slope_sign(interval.low) < 0:
        return interval.low_rule or G.OPTIMAL
    return G.OPTIMAL


def significant_cross(cross_price: pd.DataFrame | None, decision_z: float = 0.0) -> pd.Series:
    """Per category, the cross-price elasticity the optimizer acts on, where the relation is significant
    (else none). With a standard error ("se") and ``decision_z`` > 0, it is the end of the estimate +-
    ``decision_z`` se nearest zero (none if that interval holds zero): an effect barely past the test
    moves prices barely (with a true effect of 0 the estimate still leaned to
    complements under promotions timed to demand, see :mod:`engine.pricing.cross_price`)."""
    if cross_price is None or cross_price.empty:
        return pd.Series(dtype=float, name=CROSS)
    missing = [c for c in (CROSS, RELATION) if c not in cross_price]
    if missing:
        raise EngineError(f"PriceOptimizer.fit: cross_price lacks column(s) {missing}")
    kept = cross_price.loc[cross_price[RELATION].isin(SIGNIFICANT_RELATIONS), CROSS].astype(float)
    if "se" in cross_price and decision_z > 0:
        se = cross_price.loc[kept.index, "se"].astype(float).fillna(np.inf)
        kept = np.sign(kept) * (kept.abs() - decision_z * se).clip(lower=0)
    return kept.loc[np.isfinite(kept.to_numpy()) & (kept.to_numpy() != 0)].rename(CROSS)
