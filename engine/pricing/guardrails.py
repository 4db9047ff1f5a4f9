"""Guardrails of a price: the policy a merchant sets, the bounds it implies for one product, the price
ladder (.49/.99 endings), and an independent check that a quoted price respects them all.

Order of authority: the cost floor (cost plus the minimum margin) wins over everything, a price below
cost being a loss on every unit; then the ceiling, the maximum change per step and the range of prices
the data has seen (unless allowed). A rule gives way only when it cannot hold together with the rules
above it (e.g. a current price far below a new cost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

PROTECTED_ATTRIBUTES = (
    "age", "age_band", "age_group", "birth_date", "gender", "sex", "race", "ethnicity", "religion",
    "nationality", "marital_status", "disability", "sexual_orientation", "pregnancy",
)

# reason codes, shared by the optimizer and its users (services print them)
OPTIMAL = "optimal"
COST_FLOOR = "cost_floor"
CEILING = "ceiling"
MAX_CHANGE = "max_change"
OBSERVED_RANGE = "observed_range"
STOCK_SCARCE = "stock_scarce"
STOCK_OVERSTOCK = "stock_overstock"
NOT_SIGNIFICANT = "not_significant"
INELASTIC = "inelastic"
NO_COST = "no_cost"
UNKNOWN_PRODUCT = "unknown_product"
ENDING_UNAVAILABLE = "ending_unavailable"


class PricingPolicy(BaseModel):
    """What a merchant allows the optimizer to do."""

    model_config = ConfigDict(extra="forbid")

    objective: Literal["profit", "revenue"] = "profit"
    min_margin: float = Field(0.05, ge=0, lt=1, description="gross margin on price: price >= cost / (1 - min_margin)")
    max_change: float = Field(0.10, gt=0, lt=1, description="largest relative change of price per step")
    ceiling_multiple: float = Field(1.0, gt=0, description="ceiling = list price (highest regular price seen) x this")
    allow_outside_range: bool = Field(False, description="allow prices outside the range the data has seen")
    endings: tuple[float, ...] = Field((0.49, 0.99), description="cents endings of the price ladder")
    fine_endings_below: float = Field(2.0, ge=0, description="below this price the ladder steps by 0.10 (.09, .19, ...)")
    min_abs_elasticity: float = Field(1.0, ge=0, description="|elasticity| <= this: inelastic, keep the price")
    target_cover_days: float = Field(28.0, gt=0, description="stock cover a stock-aware price aims for")
    scarce_cover_days: float = Field(7.0, gt=0, description="cover below this raises the price towards the target")
    overstock_cover_days: float = Field(90.0, gt=0, description="cover above this lowers the price towards the target")
    max_segment_discount: float = Field(0.15, ge=0, lt=1, description="cap of a segment's or tier's offer")
    protected_attributes: tuple[str, ...] = PROTECTED_ATTRIBUTES

    @model_validator(mode="after")
    def _consistent(self) -> PricingPolicy:
        if not self.scarce_cover_days < self.target_cover_days < self.overstock_cover_days:
            raise ValueError("need scarce_cover_days < target_cover_days < overstock_cover_days")
        if not self.endings or any(not 0 <= e < 1 for e in self.endings):
            raise ValueError(f"endings must be cents in [0, 1), got {self.endings}")
        return self


@dataclass(frozen=True)
class Rule:
    """One guardrail as an interval of allowed prices."""

    name: str
    low: float
    high: float

    def holds(self, price: float, tolerance: float = 1e-6) -> bool:
        return self.low - tolerance <= price <= self.high + tolerance


@dataclass(frozen=True)
class Bounds:
    """The feasible interval of a product's next price, the rule that sets each end, and the rules that
    had to give way to a rule of higher priority."""

    low: float
    high: float
    low_rule: str | None
    high_rule: str | None
    relaxed: tuple[str, ...]


def rules(
    policy: PricingPolicy,
    current_price: float,
    unit_cost: float | None,
    list_price: float,
    min_seen: float,
    max_seen: float,
) -> list[Rule]:
    """The guardrails of one product's next price, highest priority first: cost floor, ceiling, maximum
    change, observed range (the current price counts as seen)."""
    found = []
    if unit_cost is not None and math.isfinite(unit_cost):
        found.append(Rule(COST_FLOOR, unit_cost / (1 - policy.min_margin), math.inf))
    found.append(Rule(CEILING, 0.0, list_price * policy.ceiling_multiple))
    # the step limit is measured to the cent: 10% off 4.99 allows 4.49
    step = (round(current_price * (1 - policy.max_change), 2), round(current_price * (1 + policy.max_change), 2))
    found.append(Rule(MAX_CHANGE, min(step[0], current_price), max(step[1], current_price)))
    if not policy.allow_outside_range:
        found.append(Rule(OBSERVED_RANGE, min(min_seen, current_price), max(max_seen, current_price)))
    return found


def price_bounds(guardrails: list[Rule]) -> Bounds:
    """Intersect the rules in priority order; a rule that cannot hold together with the rules above it
    gives way (is recorded in ``relaxed``) instead of making the interval empty."""
    low, high, low_rule, high_rule, relaxed = 0.0, math.inf, None, None, []
    for rule in guardrails:
        new_low, new_high = max(low, rule.low), min(high, rule.high)
        if new_low > new_high:
            relaxed.append(rule.name)
            continue
        if new_low > low:
            low_rule = rule.name
        if new_high < high:
            high_rule = rule.name
        low, high = new_low, new_high
    return Bounds(low, high, low_rule, high_rule, tuple(relaxed))


def ladder(low: float, high: float, policy: PricingPolicy) -> np.ndarray:
    """Prices with an allowed ending in [low, high] (rounded to cents)."""
    if high < low or not math.isfinite(high):
        return np.empty(0)
    start, stop = math.floor(low) - 1, math.ceil(high) + 1
    whole = np.arange(start, stop + 1, dtype=float)
    coarse = (whole[:, None] + np.asarray(policy.endings)[None, :]).ravel()
    fine = (whole[:, None] + np.arange(0.09, 1.0, 0.10)[None, :]).ravel()
    points = np.concatenate([coarse[coarse >= policy.fine_endings_below], fine[fine < policy.fine_endings_below]])
    points = np.round(points[points > 0], 2)
    return np.unique(points[(points >= low - 1e-9) & (points <= high + 1e-9)])


def on_ladder(price: float, policy: PricingPolicy) -> bool:
    """Whether ``price`` has an allowed ending."""
    return bool(np.any(np.isclose(ladder(price - 0.005, price + 0.005, policy), price, atol=1e-6)))


def violations(price: float, guardrails: list[Rule], policy: PricingPolicy, kept_current: bool) -> list[str]:
    """The rules a quoted price breaks, checked from scratch (tests and the benchmark use it).

    A rule may be broken only if it cannot hold together with the rules of higher priority; the price
    must have an allowed ending unless it is the unchanged current price or no price with an allowed
    ending fits the rules."""
    broken = []
    low, high = 0.0, math.inf
    for rule in guardrails:
        feasible = max(low, rule.low) <= min(high, rule.high)
        if feasible:
            low, high = max(low, rule.low), min(high, rule.high)
            if not rule.holds(price):
                broken.append(rule.name)
    if not kept_current and not on_ladder(price, policy) and len(ladder(low, high, policy)) > 0:
        broken.append("ending")
    return broken
