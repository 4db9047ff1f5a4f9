"""Small synthetic shops and their panels, shared by the pricing tests (built once per session)."""

from __future__ import annotations

import pytest

from engine.data.synthetic import SyntheticShopConfig, generate_shop
from engine.pricing.panel import holdout_split, shop_panel

# 40 products in 4 categories over 80 weeks, with enough units per product-week for log-log models;
# complaints do not drive customers away here (complaint_hazard=1: the traffic these tests were set on)
SMALL_SHOP = dict(n_customers=800, n_products=40, n_categories=4, n_weeks=80, acquisition_weeks=8, basket_units=25,
                  complaint_hazard=1.0)


def _shop(confounded: bool, seed: int = 3):
    return generate_shop(SyntheticShopConfig(seed=seed, confounded=confounded, **SMALL_SHOP))


@pytest.fixture(scope="session")
def confounded_shop():
    return _shop(True)


@pytest.fixture(scope="session")
def unconfounded_shop():
    return _shop(False)


def split_panel(shop, holdout_weeks: int = 10):
    """(training panel, holdout panel) of a shop."""
    panel = shop_panel(shop)
    split = holdout_split(panel, holdout_weeks)
    return split.calibration(panel, "week_start"), split.holdout(panel, "week_start")


@pytest.fixture(scope="session")
def confounded_panels(confounded_shop):
    return split_panel(confounded_shop)


@pytest.fixture(scope="session")
def unconfounded_panels(unconfounded_shop):
    return split_panel(unconfounded_shop)
