"""One row per customer joining RFM scores, segment and loyalty tier: what every customer answer carries."""

from __future__ import annotations

import pandas as pd

from engine.customers.rfm import rfm_scores
from engine.customers.segments import SegmentRules, assign_segments
from engine.customers.tiers import TierConfig, loyalty_tiers
from engine.data.split import default_as_of

__all__ = ["customer_view", "default_as_of"]  # default_as_of lives in engine.data.split; many callers import it here


def customer_view(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp,
    rules: SegmentRules | None = None,
    tiers: TierConfig | None = None,
) -> pd.DataFrame:
    """RFM scores, segment and tier of every customer with a purchase before ``as_of``.

    Customers with only returns before ``as_of`` have a tier but no RFM scores and are left out.
    """
    scores = rfm_scores(transactions, as_of)
    view = scores.assign(segment=assign_segments(scores, rules))
    return view.join(loyalty_tiers(transactions, as_of, tiers), how="left")


