"""The family of synthetic shop designs the pricing bench runs, one config object per design.

A design names a few departures from the base shop (:class:`~engine.data.synthetic.SyntheticShopConfig`):
the strength of the cost instrument (how much the unit cost drifts and how often vendors fund deals), the
spread of true elasticities inside a category, which confounders act (promotions timed to demand,
displays that come with promotions or follow demand, shelf prices a manager sets with demand in mind),
stock-outs, cross-price effects, and whether prices come as paid or as list price plus discount.

Designs and seeds are split: DEVELOPMENT designs (run on the development seeds) are the ones looked at
while choosing estimators and settings; HELD-OUT designs (run on other seeds) are only reported. A
held-out design is not a copy of a development design with a new seed: each one mixes the switches
differently, so it tests whether what was tuned carries over.

The first six held-out designs were looked at by the session that wrote them, so they no longer test
what that session tuned. SEALED designs (on their own seeds) were added on 2026-12-05 before the
estimator choice and intervals were reworked, and run once after that work: the honest held-out figure.
The SEALED_2 designs (seeds 400-402) were committed on 2026-12-05 at about 05:40 UTC, before the interval
and cross-price rework of that session (issue 11, second pass), and are run once after it. The SEALED_3
designs (seeds 600-602) are not written by hand: :func:`drawn_designs` draws them from the design knobs with
a seeded generator, so no one chose them with a method in mind; they were committed (2026-12-05 21:14 UTC)
and run once on that commit before the bias-aware intervals (issue 11, third pass), and once after them.
The SEALED_4 designs (seeds 700-702) are drawn the same way (generator seed 700), committed (2026-12-06
about 00:20 UTC) and run once on that commit before the optimizer's decision rule was reworked (issue 11,
fourth pass), and once after it.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.data.synthetic import SyntheticShopConfig

Split = Literal["development", "held_out", "sealed", "sealed_2", "sealed_3", "sealed_4"]
DEVELOPMENT: Split = "development"
HELD_OUT: Split = "held_out"
SEALED: Split = "sealed"
SEALED_2: Split = "sealed_2"
SEALED_3: Split = "sealed_3"
SEALED_4: Split = "sealed_4"
SPLITS: tuple[Split, ...] = (DEVELOPMENT, HELD_OUT, SEALED, SEALED_2, SEALED_3, SEALED_4)

# the base shop of every design: small enough that the whole family runs in minutes on 2 cores
BENCH_SHOP: dict[str, Any] = dict(
    n_customers=1500, n_products=96, n_categories=6, n_weeks=78, acquisition_weeks=8, basket_units=12
)
WEAK_INSTRUMENT: dict[str, Any] = dict(cost_drift_sd=0.004, deal_rate=0.01)
DISPLAY_WITH_PROMOTIONS: dict[str, Any] = dict(display_promotion=2.5, display_confounding=1.0)
STOCKOUTS: dict[str, Any] = dict(stock_cover_weeks=(0.4, 0.9))
STRONG_INSTRUMENT: dict[str, Any] = dict(cost_drift_sd=0.03, deal_rate=0.2)
# the knobs :func:`drawn_designs` draws from: per knob, (tag in the design's name, shop fields) per level
KNOBS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "instrument": [("weak", WEAK_INSTRUMENT), ("", {}), ("strong", STRONG_INSTRUMENT)],
    "spread": [(f"spread{round(10 * s)}", {"elasticity_spread": s}) for s in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)],
    "promotions": [("", {}), ("random_promotions", {"confounded": False})],
    "display": [("", {}), ("display", DISPLAY_WITH_PROMOTIONS), ("display_follows_demand", {"display_confounding": 1.5})],
    "manager": [("", {}), ("manager", {"manager_pricing": 0.03}), ("manager", {"manager_pricing": 0.05})],
    "stock": [("", {}), ("stockouts", STOCKOUTS)],
    "cross": [
        ("", {}), ("substitutes", {"cross_elasticity_range": (0.3, 0.8)}),
        ("complements", {"cross_elasticity_range": (-0.5, -0.1)}), ("mixed_cross", {"cross_elasticity_range": (-0.3, 0.6)}),
    ],
    "prices": [("", {}), ("paid", {"prices_paid": True})],
}


class ShopDesign(BaseModel):
    """One design of the family: its name, its split, and its departures from the base shop."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    split: Split
    description: str = ""
    shop: dict[str, Any] = Field(default_factory=dict, description="SyntheticShopConfig fields that differ from the base")

    @model_validator(mode="after")
    def _known_fields(self) -> ShopDesign:
        SyntheticShopConfig(**self.shop)  # a misspelt or out-of-range field names itself here
        return self

    def shop_config(self, seed: int, base: dict[str, Any] | None = None) -> SyntheticShopConfig:
        """The synthetic shop of this design for ``seed`` (base sizes, then the design's departures)."""
        return SyntheticShopConfig(**{**(BENCH_SHOP if base is None else base), **self.shop, "seed": seed})


def default_designs() -> list[ShopDesign]:
    """The family: six development designs, each moving one switch from the base shop (confounded
    promotions, a strong cost instrument, spread 0.2), six held-out designs that move others or
    several at once, two sets of sealed designs with combinations none of the others has, and two sets
    drawn at random over the knobs (sealed_3, sealed_4)."""
    return [
        *_development_designs(), *_held_out_designs(), *_sealed_designs(), *_sealed_2_designs(), *drawn_designs(),
        *drawn_designs(SEALED_4, seed=700),
    ]


def _development_designs() -> list[ShopDesign]:
    d = DEVELOPMENT
    return [
        ShopDesign(name="baseline", split=d, description="promotions timed to demand; strong cost instrument; spread 0.2"),
        ShopDesign(name="weak_instrument", split=d, description="unit cost barely moves, few vendor deals", shop=WEAK_INSTRUMENT),
        ShopDesign(name="wide_spread", split=d, description="spread 0.6 inside a category", shop=dict(elasticity_spread=0.6)),
        ShopDesign(
            name="display_with_promotions", split=d, description="displays and mailers come with promotions and follow demand",
            shop=DISPLAY_WITH_PROMOTIONS,
        ),
        ShopDesign(name="stockouts", split=d, description="stock covers 0.4-0.9 weeks: frequent stock-outs", shop=STOCKOUTS),
        ShopDesign(
            name="paid_prices", split=d, description="prices as paid (no list price, no discount); spread 0.1",
            shop=dict(prices_paid=True, elasticity_spread=0.1),
        ),
    ]


def _held_out_designs() -> list[ShopDesign]:
    h = HELD_OUT
    return [
        ShopDesign(
            name="unconfounded_narrow", split=h, description="promotions at random; spread 0.1",
            shop=dict(confounded=False, elasticity_spread=0.1),
        ),
        ShopDesign(
            name="manager_pricing", split=h, description="shelf prices set with the demand shock in mind (+5% per sd)",
            shop=dict(manager_pricing=0.05),
        ),
        ShopDesign(
            name="strong_cross_price", split=h, description="substitutes: cross elasticities 0.3-0.8",
            shop=dict(cross_elasticity_range=(0.3, 0.8)),
        ),
        ShopDesign(
            name="weak_wide_display", split=h, description="weak instrument, spread 0.6, displays with promotions",
            shop={**WEAK_INSTRUMENT, **DISPLAY_WITH_PROMOTIONS, "elasticity_spread": 0.6},
        ),
        ShopDesign(
            name="stockouts_paid_cross", split=h, description="stock-outs, prices as paid, cross elasticities -0.3-0.6",
            shop={**STOCKOUTS, "prices_paid": True, "cross_elasticity_range": (-0.3, 0.6)},
        ),
        ShopDesign(
            name="manager_deals_spread", split=h, description="manager pricing, more vendor deals, spread 0.4",
            shop=dict(manager_pricing=0.05, deal_rate=0.15, elasticity_spread=0.4),
        ),
    ]


def _sealed_designs() -> list[ShopDesign]:
    s = SEALED
    return [
        ShopDesign(
            name="weak_paid_stockouts", split=s, description="weak instrument, prices as paid, stock-outs, spread 0.3",
            shop={**WEAK_INSTRUMENT, **STOCKOUTS, "prices_paid": True, "elasticity_spread": 0.3},
        ),
        ShopDesign(
            name="display_manager_complements", split=s,
            description="displays with promotions, manager pricing (+4% per sd), complements (cross -0.5 to -0.1), spread 0.5",
            shop={**DISPLAY_WITH_PROMOTIONS, "manager_pricing": 0.04, "cross_elasticity_range": (-0.5, -0.1), "elasticity_spread": 0.5},
        ),
        ShopDesign(
            name="unconfounded_weak_cross", split=s,
            description="promotions at random, weak instrument, substitutes (cross 0.2-0.6), spread 0.4",
            shop={**WEAK_INSTRUMENT, "confounded": False, "cross_elasticity_range": (0.2, 0.6), "elasticity_spread": 0.4},
        ),
        ShopDesign(
            name="strong_deals_paid_display", split=s,
            description="strong instrument (cost drift 0.03, deals 0.2), prices as paid, displays follow demand, spread 0.15",
            shop=dict(cost_drift_sd=0.03, deal_rate=0.2, prices_paid=True, display_confounding=1.5, elasticity_spread=0.15),
        ),
    ]


def _sealed_2_designs() -> list[ShopDesign]:
    s = SEALED_2
    return [
        ShopDesign(
            name="stockouts_manager_deals", split=s,
            description="stock-outs, manager pricing (+5% per sd), more vendor deals (0.15), spread 0.3",
            shop={**STOCKOUTS, "manager_pricing": 0.05, "deal_rate": 0.15, "elasticity_spread": 0.3},
        ),
        ShopDesign(
            name="weak_strong_cross", split=s, description="weak instrument, substitutes (cross 0.3-0.8), spread 0.3",
            shop={**WEAK_INSTRUMENT, "cross_elasticity_range": (0.3, 0.8), "elasticity_spread": 0.3},
        ),
        ShopDesign(
            name="strong_cross_manager", split=s,
            description="strong instrument (cost drift 0.03, deals 0.2), manager pricing (+4% per sd), substitutes (cross 0.2-0.7)",
            shop=dict(cost_drift_sd=0.03, deal_rate=0.2, manager_pricing=0.04, cross_elasticity_range=(0.2, 0.7)),
        ),
        ShopDesign(
            name="paid_display_stockouts_complements", split=s,
            description="prices as paid, displays with promotions, stock-outs, complements (cross -0.4-0.0), spread 0.4",
            shop={**DISPLAY_WITH_PROMOTIONS, **STOCKOUTS, "prices_paid": True, "cross_elasticity_range": (-0.4, 0.0), "elasticity_spread": 0.4},
        ),
    ]


def drawn_designs(split: Split = SEALED_3, seed: int = 600, count: int = 5) -> list[ShopDesign]:
    """``count`` designs of ``split`` drawn by a generator seeded with ``seed``: each knob of :data:`KNOBS`
    takes one of its levels uniformly at random, independently (a draw repeating an earlier one is drawn
    again). The name lists the levels that depart from the base shop; the description gives the fields."""
    rng = np.random.default_rng(seed)
    designs: list[ShopDesign] = []
    while len(designs) < count:
        levels = [levels[int(rng.integers(len(levels)))] for levels in KNOBS.values()]
        shop = {key: value for _, fields in levels for key, value in fields.items()}
        if any(d.shop == shop for d in designs):
            continue
        name = "_".join(tag for tag, _ in levels if tag) or "base"
        description = "drawn (seed " + str(seed) + "): " + ", ".join(f"{key} {value}" for key, value in shop.items())
        designs.append(ShopDesign(name=f"{name}_{len(designs)}" if any(d.name == name for d in designs) else name, split=split,
                                  description=description, shop=shop))
    return designs
