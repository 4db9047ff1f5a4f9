"""Loyalty tiers by spend (or points) over a rolling qualification window, with a grace rule.

A customer qualifies for the highest tier whose threshold their window value reaches. With a grace
period of G days, the tier held on a day is the best tier qualified for on any day in the last G days,
so nobody drops a tier the day an old purchase leaves the window. Returns reduce spend.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.data.columns import Columns

WINDOW_VALUE = "window_value"
QUALIFYING_VALUE = "qualifying_value"
QUALIFIED_TIER = "qualified_tier"
TIER = "tier"
TIER_RANK = "tier_rank"
NEXT_TIER = "next_tier"
TO_NEXT_TIER = "to_next_tier"


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    threshold: float = Field(ge=0, description="window value (spend or points) needed to qualify")


class TierConfig(BaseModel):
    """Tier ladder and qualification rules. Thresholds ascend; the first tier starts at 0."""

    model_config = ConfigDict(extra="forbid")
    basis: Literal["spend", "points"] = "spend"
    points_per_currency: float = Field(1.0, ge=0, description="points per unit of net spend (basis=points)")
    points_per_order: float = Field(0.0, ge=0, description="bonus points per order with a purchase (basis=points)")
    window_days: int = Field(365, gt=0)
    grace_days: int = Field(90, ge=0)
    tiers: list[Tier] = Field(
        default_factory=lambda: [
            Tier(name="Bronze", threshold=0),
            Tier(name="Silver", threshold=500),
            Tier(name="Gold", threshold=1500),
            Tier(name="Platinum", threshold=4000),
        ]
    )

    @model_validator(mode="after")
    def _ascending_from_zero(self) -> TierConfig:
        thresholds = [tier.threshold for tier in self.tiers]
        if not thresholds or thresholds[0] != 0:
            raise ValueError("tiers: the first tier must have threshold 0 (everyone holds some tier)")
        if any(b <= a for a, b in zip(thresholds, thresholds[1:])):
            raise ValueError(f"tiers: thresholds must strictly ascend, got {thresholds}")
        if len({tier.name for tier in self.tiers}) != len(self.tiers):
            raise ValueError("tiers: names must be unique")
        return self

    def rank_of(self, values: np.ndarray) -> np.ndarray:
        """Tier rank (0 = lowest) reached by each value; monotone non-decreasing in the value."""
        thresholds = np.array([tier.threshold for tier in self.tiers])
        return np.clip(np.searchsorted(thresholds, values, side="right") - 1, 0, None)


def _daily_values(transactions: pd.DataFrame, config: TierConfig, as_of: pd.Timestamp) -> pd.DataFrame:
    from engine.backend import active_backend

    c = Columns
    bonus = config.basis == "points" and bool(config.points_per_order)
    daily = active_backend().customer_days(transactions, as_of, with_orders=bonus)
    value = daily["value"]
    if config.basis == "points":
        value = value * config.points_per_currency
    if bonus:
        value = value + daily["orders"] * config.points_per_order
    return pd.DataFrame({c.customer: daily[c.customer], "day": daily["day"], "value": value})


def loyalty_tiers(
    transactions: pd.DataFrame, as_of: str | pd.Timestamp, config: TierConfig | None = None
) -> pd.DataFrame:
    """Tier of every customer with a line before ``as_of``.

    Columns: window_value (spend or points in the ``window_days`` before ``as_of``), qualifying_value
    (its best value over the last ``grace_days``), qualified_tier (by today's window alone), tier (with
    the grace rule), tier_rank (0 = lowest), next_tier and to_next_tier (what is missing to move up).
    """
    c = Columns
    config = config or TierConfig()
    as_of = pd.Timestamp(as_of).normalize()
    daily = _daily_values(transactions, config, as_of)
    customers, customer_code = np.unique(daily[c.customer].to_numpy(dtype=str), return_inverse=True)
    # integer days before as_of: a line on day d counts in the window evaluated at day s iff s-W <= d < s
    origin = as_of - pd.Timedelta(days=config.window_days + config.grace_days + 1)
    day = ((daily["day"] - origin) / pd.Timedelta(days=1)).to_numpy().astype(np.int64)
    day = np.maximum(day, -1)  # older lines can never re-enter any evaluated window
    end = int((as_of - origin) / pd.Timedelta(days=1))
    span = end + config.window_days + 3
    key = customer_code.astype(np.int64) * span + (day + 1)
    order = np.lexsort((day, customer_code))
    key, value, code_sorted = key[order], daily["value"].to_numpy()[order], customer_code[order]
    running = np.cumsum(value)
    group_start = np.r_[0, np.flatnonzero(np.diff(code_sorted)) + 1]
    offsets = np.repeat(running[group_start] - value[group_start], np.diff(np.r_[group_start, len(value)]))
    cumulative = running - offsets

    def total_through(codes: np.ndarray, last_day: np.ndarray) -> np.ndarray:
        """Sum of each customer's values on days <= last_day."""
        position = np.searchsorted(key, codes * span + (last_day + 1), side="right") - 1
        valid = (position >= 0) & (code_sorted[np.maximum(position, 0)] == codes)
        return np.where(valid, cumulative[np.maximum(position, 0)], 0.0)

    def window_value(codes: np.ndarray, at: np.ndarray) -> np.ndarray:
        return total_through(codes, at - 1) - total_through(codes, at - 1 - config.window_days)

    n = len(customers)
    all_codes = np.arange(n)
    today = np.full(n, end)
    # the window value changes only on the day after a line enters or leaves: evaluate there
    starts = end - config.grace_days
    candidate_days = np.r_[day + 1, day + 1 + config.window_days]
    candidate_codes = np.r_[customer_code, customer_code]
    inside = (candidate_days > starts) & (candidate_days <= end)
    codes = np.r_[all_codes, all_codes, candidate_codes[inside]]
    days = np.r_[today, np.full(n, starts), candidate_days[inside]]
    values = window_value(codes, days)
    qualifying = np.full(n, -np.inf)
    np.maximum.at(qualifying, codes, values)
    current = window_value(all_codes, today)
    return _tier_frame(config, pd.Index(customers, name=c.customer), current, qualifying)


def _tier_frame(config: TierConfig, customers: pd.Index, current: np.ndarray, qualifying: np.ndarray) -> pd.DataFrame:
    """The tier columns of :func:`loyalty_tiers` from each customer's window value today and their best
    over the grace period."""
    names = np.array([tier.name for tier in config.tiers], dtype=object)
    thresholds = np.array([tier.threshold for tier in config.tiers] + [np.nan])
    rank = config.rank_of(qualifying)
    top = len(config.tiers) - 1
    frame = pd.DataFrame(
        {
            WINDOW_VALUE: current,
            QUALIFYING_VALUE: qualifying,
            QUALIFIED_TIER: names[config.rank_of(current)],
            TIER: names[rank],
            TIER_RANK: rank,
            NEXT_TIER: np.where(rank < top, names[np.minimum(rank + 1, top)], None),
            TO_NEXT_TIER: np.where(rank < top, thresholds[np.minimum(rank + 1, top + 1)] - current, np.nan),
        },
        index=customers,
    )
    frame[TO_NEXT_TIER] = frame[TO_NEXT_TIER].clip(lower=0)
    return frame
