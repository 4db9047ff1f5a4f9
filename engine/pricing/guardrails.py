"""Guardrails of a price: the policy a merchant sets, the feasible interval it implies for one product's
next price, the price ladder (.49/.99 endings) computed by formula, and a check that a quoted price
respects them all.

Order of authority (highest first):

1. the ceiling, list price x ``ceiling_multiple``: never exceeded, whatever the cost;
2. one cent: a price is at least 0.01 (unless the ceiling itself is lower);
3. the cost floor, ``cost / (1 - min_margin)``: a price below it loses money on every unit;
4. the maximum change per step, measured to the cent from the current price;
5. the range of prices the data has seen (the current price counts as seen), unless allowed.

:func:`feasible_interval` intersects them in that order. A rule that cannot hold together with the rules
above it is *held as far as they allow*, never dropped: the interval collapses to the end nearest to
that rule (a current price far below a new cost moves up to the floor, not anywhere above it), and the
rule is recorded in ``relaxed``. The interval is therefore never empty, finite, and inside
``(0, ceiling]``. When the cost floor is above the ceiling (a product that cannot be sold at the
policy's margin at any allowed price: ``cost_above_ceiling``) the interval is the single point
``ceiling``: the highest allowed price, which is also the price that loses least under any downward
sloping demand (profit ``(p - c) * units(p)`` rises with ``p`` while ``p < c``); the optimizer quotes it
with reason ``cost_above_price``.

Invariants of every quote of a known product (checked from the policy text by
``tests/engine/pricing/guardrail_checker.py``): the price is a finite number > 0; ``low <= price <=
high``; ``price <= ceiling`` always; ``price >= floor`` whenever ``floor <= ceiling``; ``|price -
current| <= max_change * current`` (to the cent) whenever that step reaches ``[floor, ceiling]``; the
price has an allowed ending unless it is the unchanged current price or no allowed ending lies in the
interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PROTECTED_ATTRIBUTES = (
    "age", "age_band", "age_group", "birth_date", "gender", "sex", "race", "ethnicity", "religion",
    "nationality", "marital_status", "disability", "sexual_orientation", "pregnancy",
)

ONE_CENT = 0.01  # the smallest price

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
UNCERTAIN = "uncertain"  # flag: the elasticity's uncertainty moved the aim off where the estimate alone puts it
NO_COST = "no_cost"
UNKNOWN_PRODUCT = "unknown_product"
ENDING_UNAVAILABLE = "ending_unavailable"
COST_ABOVE_PRICE = "cost_above_price"  # reason: the cost floor is above the ceiling
MIN_CENT = "one_cent"  # rule: a price is at least one cent


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
    min_abs_elasticity: float = Field(
        0.0, ge=0, description="|elasticity| <= this: keep the price (reason inelastic); 0: only an estimate that does not "
        "fall with the price (an inelastic one is priced by the decision rule, the move held back by its uncertainty)",
    )
    risk_aversion: float = Field(
        25.0, ge=0, description="constant relative risk aversion over a product's profit while its elasticity is uncertain "
        "(engine.pricing.decision): 0 maximises the expected profit, 1 the profit at the estimate, more holds a move back "
        "in proportion to the uncertainty it adds",
    )
    decision_z: float = Field(
        1.96, ge=0, description="cross-price effects: act on the end of the effect's interval (estimate +- this many "
        "standard errors) nearest zero, none where the interval holds zero",
    )
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

    def holds(self, price: float) -> bool:
        tolerance = price_tolerance(price)
        return self.low - tolerance <= price <= self.high + tolerance


@dataclass(frozen=True)
class Interval:
    """The feasible interval of a product's next price, the rule that sets each end, the rules that were
    held only as far as the rules above them allow (``relaxed``), and the cost floor and ceiling."""

    low: float
    high: float
    low_rule: str | None
    high_rule: str | None
    relaxed: tuple[str, ...]
    floor: float | None
    ceiling: float

    @property
    def cost_above_ceiling(self) -> bool:
        """The cost floor is above the ceiling: no allowed price covers cost and minimum margin."""
        return self.floor is not None and self.floor > self.ceiling

    def clip(self, price: float) -> float:
        """``price`` moved into the interval (NaN moves to the low end)."""
        return self.low if math.isnan(price) else min(max(price, self.low), self.high)


def rules(
    policy: PricingPolicy,
    current_price: float,
    unit_cost: float | None,
    list_price: float,
    min_seen: float,
    max_seen: float,
) -> list[Rule]:
    """The guardrails of one product's next price, highest priority first: ceiling, one cent, cost floor,
    maximum change, observed range (the current price counts as seen)."""
    # prices are whole cents: the ceiling is taken down and the cost floor up to the cent, so that a
    # product with no whole cent between them counts as cost above the ceiling
    found = [Rule(CEILING, 0.0, _cents_down(list_price * policy.ceiling_multiple)), Rule(MIN_CENT, ONE_CENT, math.inf)]
    if unit_cost is not None and math.isfinite(unit_cost):
        found.append(Rule(COST_FLOOR, _cents_up(unit_cost / (1 - policy.min_margin)), math.inf))
    # the step limit is measured to the cent: 10% off 4.99 allows 4.49
    step = (round(current_price * (1 - policy.max_change), 2), round(current_price * (1 + policy.max_change), 2))
    found.append(Rule(MAX_CHANGE, min(step[0], current_price), max(step[1], current_price)))
    if not policy.allow_outside_range:
        seen = (min(_cents_up(min_seen), current_price), max(_cents_down(max_seen), current_price))
        found.append(Rule(OBSERVED_RANGE, *seen))
    return found


def _cents_up(price: float) -> float:
    """The lowest whole-cent price at or above ``price`` (a non-finite one unchanged)."""
    cents = price * 100
    return math.ceil(cents - _cents_tolerance(cents)) / 100 if math.isfinite(cents) else price


def _cents_down(price: float) -> float:
    """The highest whole-cent price at or below ``price`` (``price`` itself below one cent or not finite)."""
    cents = price * 100
    if not math.isfinite(cents):
        return price
    return max(math.floor(cents + _cents_tolerance(cents)) / 100, min(price, ONE_CENT))


def price_bounds(guardrails: list[Rule]) -> Interval:
    """Intersect the rules in priority order (the first must be the ceiling). A rule that cannot hold
    together with the rules above it is held as far as they allow: the interval collapses to its end
    nearest to the rule, and the rule is recorded in ``relaxed``."""
    ceiling = guardrails[0]
    if ceiling.name != CEILING or not (math.isfinite(ceiling.high) and ceiling.high > 0):
        raise ValueError(f"the first rule must be a finite positive ceiling, got {ceiling}")
    low, high, low_rule, high_rule, relaxed = 0.0, ceiling.high, None, CEILING, []
    floor = next((rule.low for rule in guardrails if rule.name == COST_FLOOR), None)
    for rule in guardrails[1:]:
        if rule.low > high:  # the rule wants more than allowed: hold the highest allowed price
            low, low_rule = high, rule.name if low < high else low_rule
            relaxed.append(rule.name)
        elif rule.high < low:  # the rule wants less than allowed: hold the lowest allowed price
            high, high_rule = low, rule.name if high > low else high_rule
            relaxed.append(rule.name)
        else:
            if rule.low > low:
                low, low_rule = rule.low, rule.name
            if rule.high < high:
                high, high_rule = rule.high, rule.name
    return Interval(low, high, low_rule, high_rule, tuple(relaxed), floor, ceiling.high)


def feasible_interval(
    policy: PricingPolicy, current_price: float, unit_cost: float | None, list_price: float, min_seen: float, max_seen: float
) -> Interval:
    """The bounded interval a product's next price must lie in: :func:`price_bounds` of :func:`rules`
    (see the module docstring for the order of the rules and what happens when they conflict)."""
    return price_bounds(rules(policy, current_price, unit_cost, list_price, min_seen, max_seen))


# --- the price ladder, by formula: O(1) whatever the magnitude -------------------------------------------
# Prices are handled in cents. At or above ``fine_endings_below`` the ladder is every whole unit plus
# each ending (4.49, 4.99, ...); below it, every tenth ending in 9 (1.09, 1.19, ...).
FINE_STEP, FINE_OFFSET = 10, 9


def _cents_tolerance(cents: float) -> float:
    """Slack for float noise in ``price * 100`` (a few ulps at 1e11 cents, far below half a cent)."""
    return 1e-6 + abs(cents) * 1e-13


def price_tolerance(price: float) -> float:
    """Slack for float noise when comparing a price with a bound (0.1 cent at 1e9)."""
    return 1e-6 + abs(price) * 1e-12


def _ladder_cents(policy: PricingPolicy) -> tuple[int, list[int]]:
    return round(policy.fine_endings_below * 100), sorted({round(e * 100) for e in policy.endings})


def ladder_below(price: float, policy: PricingPolicy) -> float | None:
    """The highest ladder price <= ``price`` (None if there is none)."""
    if not math.isfinite(price):
        raise ValueError(f"ladder_below needs a finite price, got {price}")
    fine_below, endings = _ladder_cents(policy)
    cents = price * 100 + _cents_tolerance(price * 100)
    coarse = max(100 * math.floor((cents - e) / 100) + e for e in endings)
    if coarse >= fine_below and coarse > 0:
        return coarse / 100
    top = min(cents, fine_below - 1)
    fine = FINE_STEP * math.floor((top - FINE_OFFSET) / FINE_STEP) + FINE_OFFSET
    return fine / 100 if fine > 0 else None


def ladder_above(price: float, policy: PricingPolicy) -> float:
    """The lowest ladder price >= ``price``."""
    if not math.isfinite(price):
        raise ValueError(f"ladder_above needs a finite price, got {price}")
    fine_below, endings = _ladder_cents(policy)
    cents = max(price * 100 - _cents_tolerance(price * 100), 0.0)
    fine = FINE_STEP * math.ceil((cents - FINE_OFFSET) / FINE_STEP) + FINE_OFFSET
    if fine < fine_below:
        return fine / 100
    start = max(cents, fine_below, 1e-9)
    return min(100 * math.ceil((start - e) / 100) + e for e in endings) / 100


def on_ladder(price: float, policy: PricingPolicy) -> bool:
    """Whether ``price`` has an allowed ending."""
    below = ladder_below(price, policy)
    return below is not None and abs(below - price) * 100 <= _cents_tolerance(price * 100)


def ladder_candidates(interval: Interval, aim: float, policy: PricingPolicy) -> list[float]:
    """The ladder prices inside ``interval`` that can be the best for any objective that is unimodal in
    price with its peak at ``aim``: the neighbours of ``aim`` (clipped into the interval). At most two;
    none when no allowed ending lies in the interval."""
    aim = interval.clip(aim)
    tolerance = price_tolerance(interval.high)
    # any ladder price in the interval lies at or below the aim (so at or below its lower neighbour) or
    # at or above it: when neither neighbour is inside, no ladder price is
    found = {ladder_below(aim, policy), ladder_above(aim, policy)}
    return sorted(p for p in found if p is not None and interval.low - tolerance <= p <= interval.high + tolerance)


def cents_within(price: float, low: float, high: float) -> float:
    """``price`` rounded to cents without leaving [low, high] (unrounded if no cent fits)."""
    rounded = round(price, 2)
    if rounded > high:
        rounded = math.floor(high * 100 + 1e-9) / 100
    if rounded < low:
        rounded = math.ceil(low * 100 - 1e-9) / 100
    return rounded if low - 1e-9 <= rounded <= high + 1e-9 else price


def violations(price: float | None, guardrails: list[Rule], policy: PricingPolicy, kept_current: bool) -> list[str]:
    """The rules a quoted price breaks (the benchmark counts them; the tests use an independent checker).

    A rule held only as far as the rules above it allow must be met at the interval's end nearest to
    it; the price must have an allowed ending unless it is the unchanged current price or no price with
    an allowed ending lies in the interval. A missing or non-finite price breaks ``finite``."""
    if price is None or not math.isfinite(price):
        return ["finite"]
    interval = price_bounds(guardrails)
    tolerance = price_tolerance(price)
    broken = [rule.name for rule in guardrails if rule.name not in interval.relaxed and not rule.holds(price)]
    if not interval.low - tolerance <= price <= interval.high + tolerance:
        broken += [name for name in interval.relaxed if name not in broken]
    if not kept_current and not on_ladder(price, policy) and ladder_candidates(interval, price, policy):
        broken.append("ending")
    return broken
