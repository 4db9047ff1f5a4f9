"""Pooling of per-product elasticities within a category (empirical Bayes), so that a thin product
borrows strength from its siblings instead of reporting noise.

Random-effects model per category ``c``: ``estimate_j ~ N(theta_j, se_j^2)``, ``theta_j ~ N(mu_c, tau^2)``.
The between-product spread ``tau`` is shared by the categories: a category has a score of products,
too few to estimate a variance from (its DerSimonian-Laird estimate swung between 0.1 and 0.45 on
synthetic categories whose true spread is 0.2), while all products together estimate it well.
``tau^2`` is the DerSimonian-Laird moment estimate around each category's own mean (with a floor);
``mu_c`` is the category's random-effects mean. A product's pooled elasticity is its posterior mean;
categories with too few estimable products use the pool of all products instead (with the spread of
all products, which includes the spread between categories).

Intervals are meant to cover the truth (95% nominal), so they carry what the plug-in posterior forgets:
the uncertainty of the category mean (the pooling weight squared times its variance, Morris 1983), and
a floor under ``tau`` wide enough (``min_tau``, default 0.2) that a spread estimated near zero cannot
make every product of a category look known to within a few hundredths. With the earlier 0.1 floor and
no mean uncertainty, 95% intervals covered 16% of true elasticities on a shop whose spread collapsed.
A product without an own estimate (no price variation, too few weeks) gets the category mean, the
uncertainty of a new draw from the category, and is never ``significant``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.errors import EngineError

ELASTICITY = "elasticity"
SE = "se"
RAW_ELASTICITY = "raw_elasticity"
RAW_SE = "raw_se"
CI_LOW = "ci_low"
CI_HIGH = "ci_high"
WEEKS = "weeks"
POOLING = "pooling"  # weight of the category mean in the product's estimate (0 = own data only)
OWN_ESTIMATE = "own_estimate"  # the product's own data gave an estimate (False: the category's, flagged)
SIGNIFICANT = "significant"  # own estimate and a 95% interval below zero
DEFAULT_MIN_TAU = 0.2
Z95 = 1.959963984540054


@dataclass(frozen=True)
class _Pool:
    mean: float
    mean_se: float
    tau2: float
    products: int


def _usable(estimate: np.ndarray, se: np.ndarray) -> np.ndarray:
    return np.isfinite(estimate) & np.isfinite(se) & (se > 0)


def between_product_variance(estimate: np.ndarray, se: np.ndarray, groups: np.ndarray, min_tau: float) -> float:
    """DerSimonian-Laird estimate of the variance of true values around their group's mean, shared by
    the groups: the excess of the inverse-variance weighted spread around each group's mean over what
    the standard errors explain, floored at ``min_tau**2``."""
    ok = _usable(estimate, se)
    frame = pd.DataFrame({"group": np.asarray(groups)[ok], "b": estimate[ok], "w": 1 / se[ok] ** 2})
    frame["wb"] = frame["w"] * frame["b"]
    by_group = frame.groupby("group")
    mean = by_group["wb"].transform("sum") / by_group["w"].transform("sum")
    q = float(np.sum(frame["w"] * (frame["b"] - mean) ** 2))
    w_sum = by_group["w"].sum()
    denominator = float((w_sum - (frame["w"] ** 2).groupby(frame["group"]).sum() / w_sum).sum())
    degrees = len(frame) - len(w_sum)
    tau2 = max(0.0, (q - degrees) / denominator) if denominator > 0 else 0.0
    return max(tau2, min_tau**2)


def _pool(estimate: np.ndarray, se: np.ndarray, tau2: float) -> _Pool | None:
    """The random-effects mean: no single precise-looking product can dictate its category's value."""
    ok = _usable(estimate, se)
    if ok.sum() == 0:
        return None
    weights = 1 / (se[ok] ** 2 + tau2)
    mean = float(np.sum(weights * estimate[ok]) / weights.sum())
    return _Pool(mean, float(np.sqrt(1 / weights.sum())), tau2, int(ok.sum()))


def shrink_by_category(
    raw: pd.DataFrame, min_products: int = 3, min_tau: float = DEFAULT_MIN_TAU
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pool ``raw`` (columns product_id, category, raw_elasticity, raw_se, weeks) within categories.

    Returns the product table (adds elasticity, se, ci_low, ci_high, pooling, own_estimate,
    significant) and the category table
    (index category: elasticity, se, tau, products, pooled_with). ``min_tau`` keeps a floor under the
    between-product spread so that a category never forces identical elasticities on its products.
    A product without a usable own estimate (no price variation, too few weeks) gets its category's.
    """
    raw_estimate, raw_se = raw[RAW_ELASTICITY].to_numpy(float), raw[RAW_SE].to_numpy(float)
    everything = _pool(raw_estimate, raw_se, between_product_variance(raw_estimate, raw_se, np.zeros(len(raw)), min_tau))
    if everything is None:
        raise EngineError("no product has a finite elasticity estimate; is there any price variation?")
    within_category = between_product_variance(raw_estimate, raw_se, raw[Columns.category].to_numpy(), min_tau)
    products, categories = [], []
    for category, group in raw.groupby(Columns.category, sort=True):
        own = _pool(group[RAW_ELASTICITY].to_numpy(float), group[RAW_SE].to_numpy(float), within_category)
        pool, pooled_with = (own, "category") if own is not None and own.products >= min_products else (everything, "all")
        tau2 = pool.tau2
        b, se = group[RAW_ELASTICITY].to_numpy(float), group[RAW_SE].to_numpy(float)
        usable = _usable(b, se)
        precision = np.where(usable, 1 / np.where(usable, se, 1) ** 2, 0.0)
        posterior_precision = precision + 1 / tau2
        # a product without its own estimate gets the category mean with the uncertainty of a new draw
        posterior = np.where(usable, (precision * np.nan_to_num(b) + pool.mean / tau2) / posterior_precision, pool.mean)
        weight = (1 / tau2) / posterior_precision  # of the category mean, whose own error passes on
        posterior_se = np.where(
            usable, np.sqrt(1 / posterior_precision + (weight * pool.mean_se) ** 2), np.sqrt(tau2 + pool.mean_se**2)
        )
        low, high = posterior - Z95 * posterior_se, posterior + Z95 * posterior_se
        products.append(
            group.assign(
                **{
                    ELASTICITY: posterior,
                    SE: posterior_se,
                    CI_LOW: low,
                    CI_HIGH: high,
                    POOLING: np.where(usable, weight, 1.0),
                    OWN_ESTIMATE: usable,
                    SIGNIFICANT: usable & (high < 0),
                }
            )
        )
        categories.append(
            {
                Columns.category: category,
                ELASTICITY: pool.mean,
                SE: pool.mean_se,
                "tau": float(np.sqrt(tau2)),
                "products": int(usable.sum()),
                "pooled_with": pooled_with,
            }
        )
    return pd.concat(products, ignore_index=True), pd.DataFrame(categories).set_index(Columns.category)
