"""An independent check of a quoted price against the pricing policy, written from the policy's text
(``engine/pricing/guardrails.py`` docstring and ``PricingPolicy`` field descriptions), not from the
optimizer's code: it shares no function with ``engine.pricing`` and finds ladder prices by scanning
cents one by one.

The policy, in words:
- never above the ceiling (list price x ceiling_multiple), a finite price above 0, at least one cent
  unless the ceiling is lower;
- never below the cost floor cost / (1 - min_margin) when that floor is at or below the ceiling; when
  it is above, the price is the ceiling and the reason is ``cost_above_price``;
- within max_change of the current price (the step's ends rounded to the cent) whenever that step
  reaches the prices the rules above allow; otherwise at the allowed end nearest to it;
- within the range of prices seen (the current price counts as seen) unless allow_outside_range,
  under the same condition;
- on the ladder (.49/.99 endings from fine_endings_below up, x.x9 below it) unless the price is the
  unchanged current price or no ladder price lies among the allowed ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Facts:
    """What the checker needs to know about one product at quote time."""

    current_price: float
    unit_cost: float | None
    list_price: float
    min_seen: float
    max_seen: float


def _tolerance(price: float) -> float:
    return 1e-6 + abs(price) * 1e-12


def _is_ladder_cent(cents: int, policy) -> bool:
    if cents <= 0:
        return False
    if cents >= round(policy.fine_endings_below * 100):
        return cents % 100 in {round(e * 100) for e in policy.endings}
    return cents % 10 == 9


def on_ladder(price: float, policy) -> bool:
    """Whether the price is a whole number of cents with an allowed ending."""
    cents = round(price * 100)
    return abs(price * 100 - cents) <= 100 * _tolerance(price) and _is_ladder_cent(cents, policy)


def any_ladder_price(low: float, high: float, policy) -> bool:
    """Whether some ladder price lies in [low, high]: any 100 consecutive cents hold every ending."""
    first = math.ceil(low * 100 - 100 * _tolerance(low))
    last = math.floor(high * 100 + 100 * _tolerance(high))
    return any(_is_ladder_cent(c, policy) for c in range(first, min(last, first + 200) + 1))


def _hold(allowed: tuple[float, float], wanted: tuple[float, float]) -> tuple[float, float]:
    """The allowed prices that also meet a lower-priority rule, or the allowed end nearest to it."""
    low, high = max(allowed[0], wanted[0]), min(allowed[1], wanted[1])
    if low <= high:
        return low, high
    end = allowed[1] if wanted[0] > allowed[1] else allowed[0]
    return end, end


def check_quote(price: float | None, reason: str, facts: Facts, policy) -> list[str]:
    """Every way ``price`` breaks the policy (an empty list when it keeps it)."""
    if price is None or not isinstance(price, float | int) or not math.isfinite(price) or price <= 0:
        return ["not_a_finite_positive_price"]
    tol = _tolerance(price)
    broken = []
    ceiling = facts.list_price * policy.ceiling_multiple
    if price > ceiling + tol:
        broken.append("above_ceiling")
    allowed = (min(0.01, ceiling), ceiling)
    if facts.unit_cost is not None and math.isfinite(facts.unit_cost):
        floor = facts.unit_cost / (1 - policy.min_margin)
        if floor <= ceiling:
            allowed = (max(allowed[0], floor), ceiling)
            if price < floor - tol:
                broken.append("below_cost_floor")
        else:
            allowed = (ceiling, ceiling)
            if reason != "cost_above_price":
                broken.append("cost_above_ceiling_without_reason")
    current = facts.current_price
    step = (
        min(round(current * (1 - policy.max_change), 2), current),
        max(round(current * (1 + policy.max_change), 2), current),
    )
    allowed = _hold(allowed, step)
    if not policy.allow_outside_range:
        allowed = _hold(allowed, (min(facts.min_seen, current), max(facts.max_seen, current)))
    if not allowed[0] - tol <= price <= allowed[1] + tol:
        broken.append("outside_step_or_range")
    kept = abs(price - current) <= tol
    if not kept and not on_ladder(price, policy) and any_ladder_price(allowed[0], allowed[1], policy):
        broken.append("ending")
    return broken
