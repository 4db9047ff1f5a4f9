"""Per-category fan-out with applyInPandas: the same function, the same answers (to 1e-9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.backend import use_backend
from engine.backend.spark.fanout import spark_product_slopes
from engine.data.columns import Columns
from engine.data.synthetic import SyntheticShopConfig, generate_shop
from engine.pricing.base import product_slopes
from engine.pricing.fixed_effects import FixedEffectsLogLog
from engine.pricing.panel import shop_panel

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def slopes_frame() -> pd.DataFrame:
    """12 products in 3 categories over 30 weeks: y = -1.5 x + noise, with an instrument."""
    rng = np.random.default_rng(11)
    rows = []
    for product in range(12):
        for week in range(30):
            z = rng.normal()
            x = 0.8 * z + rng.normal(scale=0.3)
            rows.append((f"p{product:02d}", f"c{product % 3}", pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=week), x, -1.5 * x + rng.normal(scale=0.5), z))
    return pd.DataFrame(rows, columns=[Columns.item, Columns.category, "week_start", "x", "y", "z"])


@pytest.mark.parametrize("instrument", [None, "z"])
def test_fanned_out_slopes_equal_the_whole_frame_call(spark, slopes_frame, instrument):
    expected = product_slopes(slopes_frame, "y", "x", instrument)
    actual = spark_product_slopes(spark, slopes_frame, "y", "x", instrument)
    assert actual[Columns.item].tolist() == expected[Columns.item].tolist()
    np.testing.assert_allclose(actual.drop(columns=Columns.item), expected.drop(columns=Columns.item), rtol=0, atol=1e-9)
    assert expected["raw_elasticity"].notna().all()


def test_fixed_effects_estimates_on_spark_equal_local(backend):
    shop = generate_shop(SyntheticShopConfig(seed=3, n_customers=300, n_products=12, n_categories=3, n_weeks=40, acquisition_weeks=4, basket_units=25))
    train = shop_panel(shop)
    expected = FixedEffectsLogLog().fit(train).elasticity_table()
    with use_backend(backend):
        actual = FixedEffectsLogLog().fit(train).elasticity_table()
    numbers = expected.select_dtypes("number").columns
    np.testing.assert_allclose(actual[numbers], expected[numbers], rtol=0, atol=1e-9)
    assert (actual.drop(columns=numbers) == expected.drop(columns=numbers)).all().all()
