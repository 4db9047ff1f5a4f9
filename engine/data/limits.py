"""Plausible ranges of a transaction line's numbers and dates (data config key ``limits:``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field


class ValueLimits(BaseModel):
    """Plausible ranges for the numbers and dates of a transaction line; a value outside is quarantined
    (or stops the run) under a rule that names the limit. Data config key ``limits:``.

    The defaults are far beyond any real e-commerce line, so they only catch unit mistakes (cents
    read as dollars, an id or a date in a number column, 1e308 from a broken export): 1 million units
    on one line, 10 million per unit (price or cost). Their product (1e13) still sums exactly to the
    cent in float64 over millions of lines. Dates before ``earliest`` (1990, before online shops) or
    more than ``days_ahead`` days after ``latest`` (default: today, UTC) are implausible.
    """

    model_config = ConfigDict(extra="forbid")
    max_abs_quantity: float = Field(1e6, gt=0, description="largest |quantity| on one line")
    max_unit_price: float = Field(1e7, gt=0, description="largest list price per unit")
    max_unit_cost: float = Field(1e7, gt=0, description="largest cost per unit")
    earliest: date = Field(date(1990, 1, 1), description="first plausible date")
    latest: date | None = Field(None, description="the data's as-of date (default: today, UTC)")
    days_ahead: int = Field(1, ge=0, description="days after `latest` still accepted (time zones)")

    def last_accepted(self) -> pd.Timestamp:
        """The latest plausible timestamp (exclusive): ``latest`` + ``days_ahead`` + 1 day, at midnight."""
        latest = self.latest or datetime.now(timezone.utc).date()
        return pd.Timestamp(latest + timedelta(days=self.days_ahead + 1))
