"""Pooling of per-product elasticities within a category (empirical Bayes), so that a thin product
borrows strength from its siblings instead of reporting noise.

Random-effects model per category ``c``: ``estimate_j ~ N(theta_j, se_j^2)``, ``theta_j ~ N(mu_c, tau_c^2)``;
``tau_c^2`` is the DerSimonian-Laird moment estimate (with a floor), ``mu_c`` the random-effects mean. A product's
pooled elasticity is its posterior mean; categories with too few estimable products use the pool of all
products instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.columns import Columns

ELASTICITY = "elasticity"
SE = "se"
RAW_ELASTICITY = "raw_elasticity"
RAW_SE = "raw_se"
CI_LOW = "ci_low"
CI_HIGH = "ci_high"
WEEKS = "weeks"
POOLING = "pooling"  # weight of the category mean in the product's estimate (0 = own data only)
Z95 = 1.959963984540054


@dataclass(frozen=True)
class _Pool:
    mean: float
    mean_se: float
    tau2: float
    products: int


def _pool(estimate: np.ndarray, se: np.ndarray, min_tau: float) -> _Pool | None:
    ok = np.isfinite(estimate) & np.isfinite(se) & (se > 0)
    if ok.sum() == 0:
        return None
    b, w = estimate[ok], 1 / se[ok] ** 2
    fixed_mean = float(np.sum(w * b) / w.sum())
    q = float(np.sum(w * (b - fixed_mean) ** 2))
    denominator = float(w.sum() - np.sum(w**2) / w.sum())
    tau2 = max(0.0, (q - (ok.sum() - 1)) / denominator) if denominator > 0 else 0.0
    tau2 = max(tau2, min_tau**2)
    # the random-effects mean: no single precise-looking product can dictate its category's value
    weights = 1 / (se[ok] ** 2 + tau2)
    mean = float(np.sum(weights * b) / weights.sum())
    return _Pool(mean, float(np.sqrt(1 / weights.sum())), tau2, int(ok.sum()))


def shrink_by_category(
    raw: pd.DataFrame, min_products: int = 3, min_tau: float = 0.1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pool ``raw`` (columns product_id, category, raw_elasticity, raw_se, weeks) within categories.

    Returns the product table (adds elasticity, se, ci_low, ci_high, pooling) and the category table
    (index category: elasticity, se, tau, products, pooled_with). ``min_tau`` keeps a floor under the
    between-product spread so that a category never forces identical elasticities on its products.
    A product without a usable own estimate (no price variation, too few weeks) gets its category's.
    """
    everything = _pool(raw[RAW_ELASTICITY].to_numpy(float), raw[RAW_SE].to_numpy(float), min_tau)
    if everything is None:
        raise ValueError("no product has a finite elasticity estimate; is there any price variation?")
    products, categories = [], []
    for category, group in raw.groupby(Columns.category, sort=True):
        own = _pool(group[RAW_ELASTICITY].to_numpy(float), group[RAW_SE].to_numpy(float), min_tau)
        pool, pooled_with = (own, "category") if own is not None and own.products >= min_products else (everything, "all")
        tau2 = pool.tau2
        b, se = group[RAW_ELASTICITY].to_numpy(float), group[RAW_SE].to_numpy(float)
        usable = np.isfinite(b) & np.isfinite(se) & (se > 0)
        precision = np.where(usable, 1 / np.where(usable, se, 1) ** 2, 0.0)
        posterior_precision = precision + 1 / tau2
        # a product without its own estimate gets the category mean with the uncertainty of a new draw
        posterior = np.where(usable, (precision * np.nan_to_num(b) + pool.mean / tau2) / posterior_precision, pool.mean)
        posterior_se = np.where(usable, np.sqrt(1 / posterior_precision), np.sqrt(tau2 + pool.mean_se**2))
        products.append(
            group.assign(
                **{
                    ELASTICITY: posterior,
                    SE: posterior_se,
                    CI_LOW: posterior - Z95 * posterior_se,
                    CI_HIGH: posterior + Z95 * posterior_se,
                    POOLING: np.where(usable, (1 / tau2) / posterior_precision, 1.0),
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
