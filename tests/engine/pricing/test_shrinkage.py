"""Category pooling: thin products borrow from their category, estimable ones keep their own signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import EngineError
from engine.pricing.shrinkage import shrink_by_category


def _raw(estimates, ses, categories):
    return pd.DataFrame(
        {
            "product_id": [f"p{i}" for i in range(len(estimates))],
            "category": categories,
            "raw_elasticity": estimates,
            "raw_se": ses,
            "weeks": 50,
        }
    )


def test_thin_products_move_towards_the_category_mean_more():
    rng = np.random.default_rng(0)
    truth = -2.0 + rng.normal(0, 0.3, 12)
    se = np.r_[np.full(6, 0.1), np.full(6, 2.0)]
    raw = _raw(truth + rng.normal(0, se), se, ["a"] * 12)
    table, categories = shrink_by_category(raw)
    pooling = table.set_index("product_id")["pooling"]
    assert pooling.iloc[6:].min() > pooling.iloc[:6].max()
    thin = table.iloc[6:]
    assert (abs(thin["elasticity"] - categories.loc["a", "elasticity"]) < abs(thin["raw_elasticity"] - categories.loc["a", "elasticity"])).all()
    assert (table["ci_low"] < table["elasticity"]).all() and (table["elasticity"] < table["ci_high"]).all()
    assert (table["se"] <= table["raw_se"] + 1e-12).all()


def test_unestimable_products_and_small_categories():
    raw = _raw([-2.0, -2.2, -1.8, np.nan, -0.5], [0.2, 0.2, 0.2, np.nan, 0.3], ["a", "a", "a", "a", "b"])
    table, categories = shrink_by_category(raw, min_products=3)
    row = table.set_index("product_id").loc["p3"]
    assert row["elasticity"] == pytest.approx(categories.loc["a", "elasticity"])
    assert row["pooling"] == 1.0 and np.isfinite(row["se"])
    # category b has one product: it is pooled with all products
    assert categories.loc["b", "pooled_with"] == "all" and categories.loc["a", "pooled_with"] == "category"


def test_no_estimate_at_all_is_an_error():
    with pytest.raises(EngineError, match="price variation"):
        shrink_by_category(_raw([np.nan], [np.nan], ["a"]))


def test_the_between_product_spread_is_shared_by_the_categories():
    """Eight categories of 19 products whose true elasticities spread by 0.2 around different means:
    the shared estimate is close to 0.2, the eight one-category estimates scatter widely."""
    from engine.pricing.shrinkage import between_product_variance

    rng = np.random.default_rng(3)
    category = np.repeat(np.arange(8), 19)
    truth = rng.uniform(-3, -1, 8)[category] + rng.normal(0, 0.2, category.size)
    se = rng.uniform(0.1, 0.3, category.size)
    estimate = truth + rng.normal(0, se)
    shared = np.sqrt(between_product_variance(estimate, se, category, min_tau=0.0))
    alone = [np.sqrt(between_product_variance(estimate[category == c], se[category == c], category[category == c], 0.0)) for c in range(8)]
    assert abs(shared - 0.2) < 0.04
    assert max(alone) - min(alone) > 0.1
    table, categories = shrink_by_category(_raw(estimate, se, category.astype(str)), min_tau=0.0)
    assert categories["tau"].nunique() == 1 and categories["tau"].iloc[0] == pytest.approx(shared)
    # the spread around category means, not around the grand mean (which includes the categories' spread)
    assert np.sqrt(between_product_variance(estimate, se, np.zeros(category.size), 0.0)) > 2 * shared


def test_intervals_carry_the_category_means_uncertainty_and_no_own_estimate_is_never_significant():
    raw = _raw([-2.0, -2.4, -1.6, np.nan], [0.5, 0.5, 0.5, np.nan], ["a"] * 4)
    table, categories = shrink_by_category(raw, min_tau=0.2)
    tau2, mean_se = 0.2**2, categories.loc["a", "se"]
    precision = 1 / 0.5**2 + 1 / tau2
    weight = (1 / tau2) / precision
    first = table.iloc[0]
    assert first["se"] == pytest.approx(np.sqrt(1 / precision + (weight * mean_se) ** 2))
    assert first["pooling"] == pytest.approx(weight)
    pooled = table.iloc[3]
    assert pooled["ci_high"] < 0 and not pooled["significant"] and not pooled["own_estimate"]
    assert table.iloc[:3]["significant"].all()
