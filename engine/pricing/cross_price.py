"""Cross-price effects within a category: do the other products' prices pull a product's units up
(substitutes) or down (complements)?

Per category ``c``: ``log units_j = e_j log price_j + gamma_c * mean_k!=j log price_k + g(X) + noise``.
DML residuals (without category-week effects, which would absorb the category's mean price) give the
own-price-adjusted units residual of each product-week; ``gamma_c`` is its slope on the mean price
residual of the category's other products that week, instrumented by their mean instrument residual
when instruments are given. Standard errors are clustered by week. ``relation`` is "substitutes" or
"complements" when the 95% interval excludes zero, else "independent".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.pricing import panel as P
from engine.pricing.dml import D, DoubleML, Y
from engine.pricing.shrinkage import Z95

CROSS = "cross_elasticity"
RELATION = "relation"


def _others_mean(values: pd.Series, groups: pd.Series) -> pd.Series:
    sums = values.groupby(groups).transform("sum")
    sizes = values.groupby(groups).transform("size")
    return ((sums - values) / (sizes - 1)).where(sizes > 1)


def cross_price_effects(
    panel: pd.DataFrame, instruments: tuple[str, ...] = (), seed: int = 0, min_products: int = 3
) -> pd.DataFrame:
    """One cross-price elasticity per category (index category): cross_elasticity, se, ci_low,
    ci_high, relation, products, weeks."""
    # the other products' promotions are most of the variation a cross effect is seen in: not controlled
    model = DoubleML(instruments=instruments, category_week_effects=False, seed=seed, promotion_control=False).fit(panel)
    residuals = model.residuals_.copy()
    own = model.elasticity(residuals[Columns.item], residuals[Columns.category])
    residuals["adjusted"] = residuals[Y] - own * residuals[D]
    key = residuals[Columns.category].astype(str) + "|" + residuals[P.WEEK].astype(str)
    residuals["others_price"] = _others_mean(residuals[D], key)
    residuals["others_instrument"] = _others_mean(residuals["first_stage"], key) if instruments else residuals["others_price"]
    rows = []
    for category, group in residuals.dropna(subset=["others_price", "others_instrument"]).groupby(Columns.category):
        products = group[Columns.item].nunique()
        estimate, se = np.nan, np.nan
        if products >= min_products:
            z, x, y = group["others_instrument"], group["others_price"], group["adjusted"]
            zx = float((z * x).sum())
            if abs(zx) > 1e-12:
                estimate = float((z * y).sum() / zx)
                scores = (z * (y - estimate * x)).groupby(group[P.WEEK]).sum()
                se = float(np.sqrt((scores**2).sum()) / abs(zx))
        low, high = estimate - Z95 * se, estimate + Z95 * se
        relation = "substitutes" if low > 0 else "complements" if high < 0 else "independent"
        rows.append(
            {
                Columns.category: category,
                CROSS: estimate,
                "se": se,
                "ci_low": low,
                "ci_high": high,
                RELATION: relation if np.isfinite(estimate) else "unknown",
                "products": products,
                "weeks": group[P.WEEK].nunique(),
            }
        )
    return pd.DataFrame(rows).set_index(Columns.category)
