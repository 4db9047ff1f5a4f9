"""Cross-price relations within a category, on synthetic shops whose categories are all substitutes,
all complements, or independent (with promotions at random or timed to demand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.synthetic import SyntheticShopConfig, generate_shop
from engine.pricing.cross_price import cross_price_effects, holm_significant
from engine.pricing.panel import shop_panel
from tests.engine.pricing.conftest import SMALL_SHOP


def _relations(cross: float, confounded: bool = False):
    # 130 weeks: with 80, a cross elasticity of 1 is about two standard errors from zero per category
    weeks = {**SMALL_SHOP, "n_weeks": 130}
    shop = generate_shop(SyntheticShopConfig(seed=5, confounded=confounded, cross_elasticity_range=(cross, cross), **weeks))
    return cross_price_effects(shop_panel(shop))


@pytest.mark.parametrize(
    ("cross", "expected", "opposite"), [(1.0, "substitutes", "complements"), (-1.0, "complements", "substitutes")]
)
def test_relation_is_found_and_never_reversed(cross, expected, opposite):
    table = _relations(cross)
    assert (table["relation"] == expected).sum() >= 3
    assert (table["relation"] != opposite).all()
    assert ((table["ci_low"] <= cross) & (cross <= table["ci_high"])).sum() >= 3


@pytest.mark.parametrize("confounded", [False, True])
def test_independent_categories_are_not_called_related(confounded):
    # confounded: promotions timed to demand cut the others' prices when the category sells well
    table = _relations(0.0, confounded)
    assert (table["relation"] == "independent").all()
    assert {"cross_elasticity", "se", "products", "weeks"} <= set(table.columns)


def test_holm_rejects_step_down_and_never_a_missing_p_value():
    p = pd.Series({"a": 0.001, "b": 0.02, "c": 0.04, "d": np.nan})
    # family of 3: 0.001 <= 0.05/3 rejected, 0.02 <= 0.05/2 rejected, 0.04 <= 0.05 rejected
    assert holm_significant(p).tolist() == [True, True, True, False]
    # 0.03 > 0.05/2 stops the step-down: the smaller p-value of "a" alone is rejected
    assert holm_significant(pd.Series({"a": 0.01, "b": 0.03, "c": 0.04})).tolist() == [True, False, False]
