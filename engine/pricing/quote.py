"""The optimizer's answer for one product (:class:`PriceQuote`, its one definition; the service's
``PriceAnswer`` is its wire form) and the small rules that fill it in."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import EngineError
from engine.pricing import guardrails as G


@dataclass(frozen=True)
class PriceQuote:
    """The optimizer's answer for one product (and segment). Amounts are per week."""

    product_id: str
    price: float | None
    current_price: float | None
    reason: str
    model_version: str
    flags: tuple[str, ...] = ()
    elasticity: float | None = None
    elasticity_interval: tuple[float, float] | None = None
    unit_cost: float | None = None
    expected_units: float | None = None
    expected_revenue: float | None = None
    expected_margin: float | None = None
    current_units: float | None = None
    current_revenue: float | None = None
    current_margin: float | None = None
    segment: str | None = None
    segment_price: float | None = None
    segment_discount: float = 0.0
    stock: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def finite_or_none(value: float) -> float | None:
    """An expected amount, or None when it is too large to be a number."""
    return value if math.isfinite(value) else None


def check_quote_inputs(current_price: float | None, stock: float | None) -> None:
    """A quote's optional inputs are real numbers (not text or booleans), finite; a price is at least one cent."""
    for name, value in (("current_price", current_price), ("stock", stock)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise EngineError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if current_price is not None and not (math.isfinite(current_price) and current_price >= G.ONE_CENT):
        raise EngineError(f"current_price must be a finite price of at least {G.ONE_CENT}, got {current_price!r}")
    if stock is not None and not math.isfinite(stock):
        raise EngineError(f"stock must be a finite number, got {stock!r}")


def binding_reason(interval: G.Interval, aim: float, target: float, tolerance: float, driver: str) -> str:
    """Why the quoted price is where it is: the guardrail that moved the aim off the target, else the
    driver of the target."""
    if interval.cost_above_ceiling:
        return G.COST_ABOVE_PRICE
    if aim > target + tolerance:
        return interval.low_rule or driver
    if aim < target - tolerance:
        return interval.high_rule or driver
    return driver


def weekly_margin(unit_cost: float | None, price: float, units: float) -> float | None:
    """Weekly margin at ``price`` selling ``units`` (None without a cost)."""
    return None if unit_cost is None else finite_or_none((price - unit_cost) * units)
