"""Pricing on Complete Journey (real data): the promotion flags line up with the sales weeks, and the
pipeline fits with the elasticities signed as demand theory says for nearly every product."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.sources import load_shop
from engine.pricing.panel import shop_panel
from training.pricing import PricingConfig, fit_pricing

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def shop():
    return load_shop("completejourney", include_promotions=True)


def _mailer_lift(shop, panel: pd.DataFrame, shift_days: int) -> float:
    """Mean within-product difference of log units between mailer weeks and the others, with the
    promotion weeks moved by ``shift_days``."""
    moved = shop.promotions.assign(week_start=shop.promotions["week_start"] + pd.Timedelta(days=shift_days))
    joined = panel.drop(columns=["display", "mailer"]).merge(moved, on=["product_id", "week_start"], how="left")
    y = np.log(joined["units"])
    y -= y.groupby(joined["product_id"]).transform("mean")
    featured = joined["mailer"].fillna(0) > 0.5
    return float(y[featured].mean() - y[~featured].mean())


def test_promotion_weeks_line_up_with_sales_weeks(shop):
    promotions = shop.promotions
    assert (promotions["week_start"].dt.dayofweek == 0).all()
    assert promotions["week_start"].min() == pd.Timestamp("2016-12-26")
    panel = shop_panel(shop)
    panel = panel.loc[panel.groupby("product_id")["units"].transform("size") >= 40]
    assert (panel["mailer"] > 0).mean() > 0.05  # the flags reach the panel
    lifts = {shift: _mailer_lift(shop, panel, shift) for shift in (-7, 0, 7)}
    # a mailer lifts the sales of its own week, not of the week before or after
    assert lifts[0] > 0.3 and lifts[0] > 3 * max(lifts[-7], lifts[7])


def test_pipeline_on_complete_journey(shop):
    config = PricingConfig(top_products=100, estimators=["naive", "dml"], segment_offers="none", dml={"n_folds": 3})
    run = fit_pricing(shop, config)
    assert run.chosen == "dml" and "unit_cost" not in shop.transactions  # no costs: no instrument
    assert run.scores.loc["dml", "sign_accuracy"] >= 0.9
    assert run.optimizer.facts_["cost_assumed"].all()
    assert set(run.cross_price["relation"]) <= {"substitutes", "complements", "independent", "unknown"}
