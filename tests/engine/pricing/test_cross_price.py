"""Cross-price relations within a category, on synthetic shops whose categories are all substitutes,
all complements, or independent (unconfounded twins: plain DML residuals suffice)."""

from __future__ import annotations

import pytest

from engine.data.synthetic import SyntheticShopConfig, generate_shop
from engine.pricing.cross_price import cross_price_effects
from engine.pricing.panel import shop_panel
from tests.engine.pricing.conftest import SMALL_SHOP


def _relations(cross: float):
    # 130 weeks: with 80, a cross elasticity of 1 is about two standard errors from zero per category
    weeks = {**SMALL_SHOP, "n_weeks": 130}
    shop = generate_shop(SyntheticShopConfig(seed=5, confounded=False, cross_elasticity_range=(cross, cross), **weeks))
    return cross_price_effects(shop_panel(shop))


@pytest.mark.parametrize(
    ("cross", "expected", "opposite"), [(1.0, "substitutes", "complements"), (-1.0, "complements", "substitutes")]
)
def test_relation_is_found_and_never_reversed(cross, expected, opposite):
    table = _relations(cross)
    assert (table["relation"] == expected).sum() >= 3
    assert (table["relation"] != opposite).all()
    assert ((table["ci_low"] <= cross) & (cross <= table["ci_high"])).sum() >= 3


def test_independent_categories_are_not_called_related():
    table = _relations(0.0)
    assert (table["relation"] == "independent").all()
    assert {"cross_elasticity", "se", "products", "weeks"} <= set(table.columns)
