"""What a synthetic shop is made from (:class:`SyntheticShopConfig`, sizes and switches) and what it
was made with (:class:`SyntheticTruth`, the generating parameters every model is scored against)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field


class SyntheticShopConfig(BaseModel):
    """Sizes and switches of a synthetic shop; the defaults generate in a few seconds."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    n_customers: int = Field(2000, ge=10)
    n_products: int = Field(150, ge=4)
    n_categories: int = Field(8, ge=1)
    n_weeks: int = Field(104, ge=8)
    start: str = "2023-01-02"
    acquisition_weeks: int = Field(26, ge=1, description="customers arrive uniformly over these first weeks")
    # Pareto/NBD: visits a week ~ Gamma(visit_shape, scale=visit_mean/visit_shape); dropout likewise
    visit_mean: float = Field(0.4, gt=0)
    visit_shape: float = Field(1.5, gt=0)
    dropout_mean: float = Field(1 / 80, gt=0, description="mean dropout rate a week (1/mean lifetime)")
    dropout_shape: float = Field(1.0, gt=0)
    basket_units: float = Field(7.0, gt=0, description="expected units per visit at reference conditions")
    # product taste
    n_factors: int = Field(6, ge=1)
    affinity: float = Field(1.2, ge=0, description="how strongly latent taste steers product choice")
    # demand and prices
    elasticity_range: tuple[float, float] = (-3.5, -0.5)
    elasticity_spread: float = Field(0.2, ge=0, description="sd of product elasticities within a category")
    cross_elasticity_range: tuple[float, float] = Field(
        (-0.2, 0.5),
        description="per category, the response to the mean log price of the other products of the category "
        "(> 0 substitutes, < 0 complements)",
    )
    category_shock_sd: float = Field(0.12, ge=0)
    product_shock_sd: float = Field(0.15, ge=0)
    product_shock_rho: float = Field(0.6, ge=0, lt=1)
    promo_rate: float = Field(0.15, gt=0, lt=1)
    deal_rate: float = Field(0.1, ge=0, le=1, description="share of product-weeks with a vendor trade deal")
    deal_allowance: tuple[float, float] = Field((0.10, 0.25), description="share of the unit cost a deal takes off")
    deal_promotion: float = Field(2.5, ge=0, description="log-odds of a promotion added by a vendor deal")
    confounded: bool = True
    confounding: float = Field(1.5, ge=0, description="log-odds of a promotion per sd of the demand shock")
    cost_drift_sd: float = Field(0.02, ge=0, description="weekly sd of the product's cost random walk")
    price_review_weeks: int = Field(8, ge=1)
    display_rate: float = Field(0.08, ge=0, le=1)
    mailer_rate: float = Field(0.06, ge=0, le=1)
    display_promotion: float = Field(0.0, ge=0, description="log-odds of a display or mailer added in a promotion week")
    display_confounding: float = Field(0.0, ge=0, description="log-odds of a display per sd of the demand shock")
    manager_pricing: float = Field(
        0.0, ge=0, description="log change of the regular price set at a review per sd of the demand shock"
    )
    prices_paid: bool = Field(False, description="transactions carry the paid price and no discount (no list price)")
    display_lift: float = Field(0.3, description="log lift of a display")
    mailer_lift: float = Field(0.2, description="log lift of a mailer feature")
    stock_cover_weeks: tuple[float, float] = (1.3, 2.5)
    replenish_weeks: int = Field(2, ge=1)
    return_rate: float = Field(0.01, ge=0, le=0.5)
    # after-sales (step 6 of :mod:`engine.data.synthetic`)
    contact_rate: float = Field(0.08, ge=0, le=1, description="probability that a visit is followed by a support contact")
    complaint_share: float = Field(0.35, ge=0, le=1, description="share of the contacts that are complaints")
    resolve_days: float = Field(6.0, gt=0, description="mean days to resolve a contact that is not a complaint")
    complaint_resolve_days: float = Field(21.0, gt=0, description="mean days to resolve a complaint")
    unresolved_share: float = Field(0.1, ge=0, le=1, description="share of the complaints never resolved")
    complaint_hazard: float = Field(
        10.0, ge=1, description="dropout hazard multiplier while a complaint is open (1 = after-sales has no effect on churn)"
    )
    rating_rate: float = Field(0.6, ge=0, le=1, description="probability that a resolved contact is rated 1-5")
    survey_rate: float = Field(0.05, ge=0, le=1, description="probability that a visit is followed by an NPS or CSAT answer")


@dataclass
class SyntheticTruth:
    """The generating parameters of a synthetic shop.

    ``cross_elasticity`` (index category): response to the other products' prices of the category.
    ``customers`` (index customer_id): visit ``rate`` and ``dropout_rate`` a week, ``joined``,
    ``dropout`` (time of loss; NaT if alive at ``end``), ``lifetime_weeks`` (may reach past ``end``),
    ``alive`` at ``end``, ``visits`` made, and
    ``expected_visits_{13,26,52}w`` after ``end`` given the true state. ``products`` (index product_id):
    category, ``elasticity``, ``reference_price``, ``base_cost``, ``markup``, ``share``. ``weekly``
    (one row per product-week): prices, costs, promotion and display flags, the unobserved ``shock``
    (log), ``expected_units``, ``demand`` (drawn), ``units`` sold, ``stock`` at the start of the week.
    ``customer_factors`` / ``product_factors`` are rows in the order of ``customers`` / ``products``.
    """

    config: SyntheticShopConfig
    end: pd.Timestamp
    customers: pd.DataFrame
    products: pd.DataFrame
    weekly: pd.DataFrame
    cross_elasticity: pd.Series
    customer_factors: np.ndarray
    product_factors: np.ndarray
    empty_visit_share: float
    stockout_share: float

    @property
    def elasticity(self) -> pd.Series:
        """True own-price elasticity per product_id."""
        return self.products["elasticity"]
