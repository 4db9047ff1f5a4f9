"""The bench's design family: typed designs, a split written down, shops that differ as described."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydantic
import pytest

from engine.data.synthetic import generate_shop
from engine.pricing.designs import BENCH_SHOP, KNOBS, SEALED_3, SPLITS, ShopDesign, default_designs, drawn_designs
from engine.pricing.features import promotion_flag, window_reference_prices
from engine.pricing.panel import shop_panel

TINY = dict(n_customers=300, n_products=12, n_categories=2, n_weeks=30, acquisition_weeks=4, basket_units=20)


def test_the_family_has_every_split_and_unique_names():
    family = default_designs()
    names = [d.name for d in family]
    assert len(set(names)) == len(names)
    assert {d.split for d in family} == set(SPLITS)
    shop = family[1].shop_config(7)
    assert shop.seed == 7 and shop.n_products == BENCH_SHOP["n_products"] and shop.cost_drift_sd == family[1].shop["cost_drift_sd"]
    assert family[0].shop_config(1, base=TINY).n_products == 12


def test_drawn_designs_are_reproducible_distinct_and_made_of_the_knobs():
    drawn = drawn_designs()
    assert [d.model_dump() for d in drawn] == [d.model_dump() for d in drawn_designs()]  # the seed fixes the draw
    assert len(drawn) == 5 and {d.split for d in drawn} == {SEALED_3}
    assert len({d.name for d in drawn}) == 5 and len({str(d.shop) for d in drawn}) == 5
    for design in drawn:  # per knob, the shop holds exactly the fields of one of its levels
        for levels in KNOBS.values():
            keys = {key for _, fields in levels for key in fields}
            assert {k: v for k, v in design.shop.items() if k in keys} in [fields for _, fields in levels]
    assert [d.shop for d in drawn_designs(seed=601)] != [d.shop for d in drawn]


def test_a_misspelt_shop_field_names_itself():
    with pytest.raises(pydantic.ValidationError, match="elasticity_sprad"):
        ShopDesign(name="x", split="development", shop={"elasticity_sprad": 0.3})
    with pytest.raises(pydantic.ValidationError):
        ShopDesign(name="x", split="test")


def test_paid_prices_and_inferred_promotions():
    listed = generate_shop(ShopDesign(name="a", split="development").shop_config(2, TINY))
    paid = generate_shop(ShopDesign(name="b", split="development", shop={"prices_paid": True}).shop_config(2, TINY))
    assert (listed.transactions["discount"] > 0).any() and (paid.transactions["discount"] == 0).all()
    listed_panel, paid_panel = shop_panel(listed), shop_panel(paid)
    np.testing.assert_allclose(listed_panel["price"], paid_panel["price"])  # same paid prices, same draws
    assert not paid_panel["promo"].any()
    truth = listed_panel["promo"].to_numpy(float)
    inferred = promotion_flag(paid_panel)
    assert np.mean(inferred == truth) > 0.9  # temporary cuts are found without a list price
    np.testing.assert_array_equal(promotion_flag(listed_panel), truth)  # a listed flag is used as is


def test_displays_can_come_with_promotions():
    apart = generate_shop(ShopDesign(name="a", split="development").shop_config(3, TINY)).truth.weekly
    linked = ShopDesign(name="b", split="development", shop={"display_promotion": 2.5}).shop_config(3, TINY)
    weekly = generate_shop(linked).truth.weekly
    share = lambda w, promo: w.loc[w["promo"] == promo, "display"].mean()  # noqa: E731
    assert share(weekly, True) > 2 * share(weekly, False)
    assert share(apart, True) < 2 * share(apart, False)


def test_a_run_of_promotions_is_not_taken_for_the_shelf_price():
    # five promoted weeks out of nine at different depths; the shelf price 2.00 steps up to 2.20
    prices = pd.DataFrame({"p": [2.0, 2.0, 1.6, 1.7, 1.5, 1.8, 1.65, 2.0, 2.0, 2.2, 2.2, 2.2, 2.2, 2.2]})
    reference = window_reference_prices(prices, 4)["p"].to_numpy()
    np.testing.assert_allclose(reference[:6], 2.0)  # the median (1.7-1.8) would miss the shallower cuts
    np.testing.assert_allclose(reference[9:], 2.2)  # a week at the new shelf price is not a promotion
