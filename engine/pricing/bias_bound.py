"""Bias-aware intervals: the chosen estimator's 95% interval widened by the bias the data can reveal.

The estimator choice (:mod:`engine.pricing.choice`) keeps a candidate when no test *rejects* its agreement
with the trusted estimators, and not rejecting is not agreeing: a shift of a tenth shared by a category's
products passes the tests when the reference is noisy, yet it moves the truth out of intervals whose half
width is about 0.2. On the held-out designs the chosen estimator's intervals covered 0.78-0.90 because of
such shifts, not because its standard errors were mis-scaled.

Per category ``c`` and each *partner*, an estimator the choice trusts there (the category's reference and
every candidate that passed, other than the chosen one), the shift is the mean difference of the two
estimators' own (unpooled) estimates over the products both estimate: ``d = mean_j (chosen_j - partner_j)``,
with its sampling variance from the scatter of those differences, ``v = var_j(chosen_j - partner_j) / n``
(which holds whatever the correlation of the two estimators and however well their own standard errors
are scaled). The squared bias bound of the category is the largest noise-corrected squared shift over its
partners, ``b^2 = max(0, d^2 - v)`` (the unbiased estimate of a squared mean shift, floored at zero).
A category with fewer than ``MIN_PRODUCTS`` products compared, or no partner, is left as it was.

Every product of the category then gets the bias-aware interval of Armstrong and Kolesar (2020):
``estimate +- cv(b / se) * se``, where ``cv(t)`` is the 95% quantile of ``|N(t, 1)|`` (the square root of a
noncentral chi-square quantile with one degree of freedom): the shortest interval of its form that covers
95% whenever the bias is at most ``b`` (here ``b`` is itself estimated, so the 95% holds only as far as the
shift the partners reveal is the bias). It is 1.96 se without bias and about ``b + 1.645 se`` with a large
one, narrower than +- 1.96 sqrt(se^2 + b^2), which covered the same on the development designs (seeds 0-5)
with intervals 3% wider on average. The table's ``se`` becomes the half width over 1.96, so that every
reader of the table (quotes, significance) sees the widened interval.

The widened standard error is also what the optimizer decides with (its certainty-equivalent profit,
:mod:`engine.pricing.decision`, holds a move back in proportion to the variance it adds), so an estimate
the data shows may be shifted moves prices less readily.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from engine.data.columns import Columns
from engine.pricing.base import ElasticityEstimator
from engine.pricing.choice import Choice
from engine.pricing.shrinkage import CI_HIGH, CI_LOW, ELASTICITY, OWN_ESTIMATE, RAW_ELASTICITY, SE, SIGNIFICANT, Z95

BIAS_BOUND = "bias_bound"  # column of the widened table: the category's bias bound b
UNWIDENED_SE = "unwidened_se"  # column of the widened table: the estimator's own (pooled) standard error
MIN_PRODUCTS = 3


def partners(choice: Choice) -> dict[str, list[str]]:
    """Per category, the estimators the choice trusts there other than the chosen one: the category's
    reference and the candidates that passed every test."""
    passed = [str(name) for name in choice.candidates.index[choice.candidates["passes"].astype(bool)]]
    return {
        str(category): sorted({str(reference), *passed} - {choice.chosen})
        for category, reference in choice.categories["reference"].items()
    }


def category_shift(chosen: pd.DataFrame, partner: pd.DataFrame) -> pd.DataFrame:
    """Per category (index), the mean difference ``shift`` of the own estimates of the products both
    tables estimate (columns raw_elasticity, category; index product_id), its sampling variance
    ``shift_var`` and the number of products compared."""
    both = chosen.index.intersection(partner.index)
    difference = (chosen.loc[both, RAW_ELASTICITY] - partner.loc[both, RAW_ELASTICITY]).dropna()
    by_category = difference.groupby(chosen.loc[difference.index, Columns.category])
    return pd.DataFrame({
        "shift": by_category.mean(), "shift_var": by_category.var(ddof=1) / by_category.size(), "products": by_category.size(),
    })


def bias_bounds(choice: Choice, estimators: dict[str, ElasticityEstimator]) -> pd.Series:
    """Per category of the choice, the bias bound ``b`` of the chosen estimator (0 where the data shows
    no shift beyond its noise, or there is nothing to compare with)."""
    chosen = estimators[choice.chosen].elasticity_table()
    squared = pd.Series(0.0, index=choice.categories.index, name=BIAS_BOUND)
    for category, names in partners(choice).items():
        for name in (n for n in names if n in estimators):
            shift = category_shift(chosen.loc[chosen[Columns.category] == category], estimators[name].elasticity_table())
            shift = shift.loc[shift["products"] >= MIN_PRODUCTS]
            if not shift.empty:
                revealed = float(shift["shift"].iloc[0] ** 2 - shift["shift_var"].iloc[0])
                squared[category] = max(squared[category], revealed)
    return np.sqrt(squared)


def critical_value(bias_to_se: np.ndarray) -> np.ndarray:
    """The 95% quantile of ``|N(t, 1)|`` for each ``t`` (1.96 at 0)."""
    return np.sqrt(stats.ncx2.ppf(0.95, 1, np.asarray(bias_to_se, dtype=float) ** 2))


def widen(table: pd.DataFrame, bounds: pd.Series) -> pd.DataFrame:
    """``table`` (an estimator's elasticity table) with each product's 95% interval made bias-aware for its
    category's bias bound (``estimate +- cv(b / se) * se``), ``se`` set to the half width over 1.96 and
    ``significant`` recomputed; the bound and the estimator's own standard error are kept as columns."""
    bound = table[Columns.category].map(bounds).fillna(0.0).astype(float)
    se = critical_value(bound / table[SE]) * table[SE] / Z95
    low, high = table[ELASTICITY] - Z95 * se, table[ELASTICITY] + Z95 * se
    return table.assign(**{
        UNWIDENED_SE: table[SE], BIAS_BOUND: bound, SE: se, CI_LOW: low, CI_HIGH: high,
        SIGNIFICANT: table[OWN_ESTIMATE].astype(bool) & (high < 0),
    })
