"""Category pooling: thin products borrow from their category, estimable ones keep their own signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
    with pytest.raises(ValueError, match="price variation"):
        shrink_by_category(_raw([np.nan], [np.nan], ["a"]))
