"""Offers per behavioural segment (RFM segment, loyalty tier): a discount only where the data shows that
the segment responds to price more than the shop as a whole, capped by policy.

What is compared is the response of the same products: a Poisson (PPML) regression, with product and
category-week effects, of a segment's weekly units of a product on its price, offset by the whole
shop's units of that product-week (zeros included). A segment gets an offer only if it is more
elastic at a family-wise 5% level over the segments tested (Bonferroni). Its slope is the segment's elasticity minus the
shop's; shocks that move everyone's demand cancel out, and so does the segment's product mix (a segment
buying more of the elastic products is not itself more price-sensitive). The shop's own elasticity is
the same regression on its units without offset. With constant elasticities and the same cost, the
profit-maximising price of a segment relative
to everyone's is ``(e_s / (1 + e_s)) / (e / (1 + e))``; below 1 it becomes a discount. A segment that
is less elastic gets no surcharge: offers only go down. Segmenting by a protected attribute (age,
gender, ...) is refused.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd
from scipy.stats import norm

from engine.base import EngineModel
from engine.data.columns import Columns
from engine.errors import EngineError
from engine.pricing import panel as P
from engine.pricing.base import estimation_rows
from engine.pricing.facts import DISCOUNT
from engine.pricing.guardrails import PricingPolicy
from engine.pricing.shrinkage import ELASTICITY, SE

REASON = "reason"
DIFFERENCE = "difference"  # segment's elasticity minus the shop's, for the same products


def poisson_elasticity(
    units: np.ndarray,
    log_price: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    offset: np.ndarray | None = None,
) -> tuple[float, float]:
    """One elasticity for a panel of counts: Poisson pseudo-maximum likelihood of
    ``units ~ exp(a[first] + d[second] + e * log_price + offset)`` with the fixed effects profiled out.

    Unlike a log-log regression it keeps the weeks without a sale and is not bent by small counts
    (a small segment's log units would make it look less elastic). The standard error is the
    profile likelihood's curvature scaled by the Pearson dispersion (quasi-Poisson)."""
    from scipy.optimize import minimize_scalar

    first = np.unique(first, return_inverse=True)[1]
    second = np.unique(second, return_inverse=True)[1]
    keep = (np.bincount(first, units)[first] > 0) & (np.bincount(second, units)[second] > 0)
    if keep.sum() < 20 or np.ptp(log_price[keep]) == 0:
        return np.nan, np.nan
    y, x = units[keep], log_price[keep]
    base = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=float)[keep]
    first, second = np.unique(first[keep], return_inverse=True)[1], np.unique(second[keep], return_inverse=True)[1]
    y_first, y_second = np.bincount(first, y), np.bincount(second, y)

    def profile(e: float, sweeps: int = 60) -> tuple[float, np.ndarray]:
        a, d = np.zeros(first.max() + 1), np.zeros(second.max() + 1)
        for _ in range(sweeps):
            a = np.log(y_first) - np.log(np.bincount(first, np.exp(d[second] + e * x + base)))
            d = np.log(y_second) - np.log(np.bincount(second, np.exp(a[first] + e * x + base)))
        mu = np.exp(a[first] + d[second] + e * x + base)
        return float(np.sum(y * np.log(mu) - mu)), mu

    best = minimize_scalar(lambda e: -profile(e)[0], bounds=(-8.0, 4.0), method="bounded", options={"xatol": 1e-4})
    estimate = float(best.x)
    step = 1e-2
    curvature = (profile(estimate + step)[0] - 2 * profile(estimate)[0] + profile(estimate - step)[0]) / step**2
    _, mu = profile(estimate)
    dispersion = float(np.sum((y - mu) ** 2 / mu) / max(len(y) - first.max() - second.max() - 2, 1))
    if curvature >= 0:
        return estimate, np.nan
    return estimate, float(np.sqrt(max(dispersion, 1.0) / -curvature))


def pooled_elasticity(panel: pd.DataFrame, units: np.ndarray | None = None, relative: bool = False) -> tuple[float, float]:
    """:func:`poisson_elasticity` over a price panel with product and category-week effects. ``units``
    replaces the panel's units (a segment's units at the shop's prices, zeros included); ``relative``
    offsets them by the shop's log units, so the slope is the segment's elasticity minus the shop's,
    product by product (what the segment's share does when the price moves)."""
    time = (panel[Columns.category].astype(str) + "|" + panel[P.WEEK].astype(str)).to_numpy()
    counts = panel[P.UNITS].to_numpy(float) if units is None else np.asarray(units, dtype=float)
    offset = np.log(panel[P.UNITS].to_numpy(float)) if relative else None
    return poisson_elasticity(counts, np.log(panel[P.PRICE].to_numpy(float)), panel[Columns.item].to_numpy(), time, offset)


class SegmentOffers(EngineModel):
    """Discounts per segment, estimated from the transactions of each segment's members."""

    fitted_attribute = "offers_"

    def __init__(self, policy: PricingPolicy | None = None, min_customers: int = 30, week_starts_on: str = "monday") -> None:
        self.policy = policy
        self.min_customers = min_customers
        self.week_starts_on = week_starts_on

    def fit(
        self,
        transactions: pd.DataFrame,
        segments: pd.Series,
        attribute: str,
        products: pd.DataFrame | None = None,
        product_ids: pd.Index | None = None,
    ) -> Self:
        """``segments`` maps customer_id -> segment name; ``attribute`` names what it is (e.g.
        ``rfm_segment`` or ``tier``) and must not be a protected attribute. ``product_ids`` restricts
        the estimate to the products that are priced."""
        policy = self.policy or PricingPolicy()
        if attribute.strip().lower() in {name.lower() for name in policy.protected_attributes}:
            raise EngineError(
                f"refusing to make offers by {attribute!r}: it is a protected attribute "
                f"(policy.protected_attributes); segment by behaviour (RFM segment, loyalty tier) instead"
            )
        if product_ids is not None:
            transactions = transactions.loc[transactions[Columns.item].isin(product_ids)]
        everyone = estimation_rows(P.build_panel(transactions, products, week_starts_on=self.week_starts_on))
        overall, overall_se = pooled_elasticity(everyone)
        if not np.isfinite(overall):
            raise EngineError("cannot estimate the shop's pooled elasticity (too few products or no price variation)")
        sales = transactions.loc[transactions[Columns.quantity] > 0]
        cells = pd.MultiIndex.from_frame(everyone[[Columns.item, P.WEEK]])
        segment_units = (
            sales.assign(segment=sales[Columns.customer].map(segments).to_numpy(), week=P.week_start(sales[Columns.timestamp], self.week_starts_on))
            .groupby(["segment", Columns.item, "week"])[Columns.quantity].sum()
        )
        rows = []
        groups = segments.groupby(segments).groups
        for name, members in groups.items():
            difference, se = np.nan, np.nan
            if len(members) >= self.min_customers and name in segment_units.index.get_level_values(0):
                units = segment_units.loc[name].reindex(cells, fill_value=0.0).to_numpy()
                difference, se = pooled_elasticity(everyone, units, relative=True)
            rows.append(
                {
                    "segment": name,
                    ELASTICITY: overall + difference,
                    DIFFERENCE: difference,
                    SE: se,
                    "customers": len(members),
                }
            )
        table = pd.DataFrame(rows).set_index("segment")
        # a family-wise 5% test over the segments that could be tested (Bonferroni, two-sided)
        tested = int(table[SE].notna().sum())
        threshold = float(norm.ppf(1 - 0.025 / max(tested, 1)))
        offers = [self._offer(r[DIFFERENCE], r[SE], overall, threshold, policy) for _, r in table.iterrows()]
        table = table.join(pd.DataFrame(offers, index=table.index))
        self.overall_ = (overall, overall_se)
        self.attribute_ = attribute
        self.threshold_ = threshold
        self.offers_ = table
        return self

    @staticmethod
    def _offer(difference: float, se: float, overall: float, threshold: float, policy: PricingPolicy) -> dict[str, Any]:
        if not (np.isfinite(difference) and np.isfinite(se)):
            return {DISCOUNT: 0.0, REASON: "too_little_data"}
        if -difference / se < threshold:
            return {DISCOUNT: 0.0, REASON: "no_stronger_response"}
        estimate = overall + difference
        if estimate >= -1 or overall >= -1:
            return {DISCOUNT: 0.0, REASON: "inelastic"}
        ratio = (estimate / (1 + estimate)) / (overall / (1 + overall))
        discount = min(max(0.0, 1 - ratio), policy.max_segment_discount)
        return {DISCOUNT: discount, REASON: "capped" if discount == policy.max_segment_discount else "more_elastic"}

    def table(self) -> pd.DataFrame:
        """One row per segment: elasticity, difference (to the shop's), se (of the difference),
        customers, discount, reason."""
        self.check_is_fitted()
        return self.offers_.copy()
