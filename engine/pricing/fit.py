"""Fitting the pricing model from a shop, without MLflow: the weekly panel of the selected products,
every estimator fitted on the training weeks and scored on the holdout weeks, the estimator chosen by
evidence (:mod:`engine.pricing.choice`), refitted on all weeks, and the guarded optimizer built on it
(with cross-price effects and segment offers). ``training/pricing.py`` wraps it in a tracked run; the
notebook and the benchmark call :func:`fit_pricing` directly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.data.shop_tables import product_unit_costs
from engine.errors import EngineError
from engine.pricing import panel as P
from engine.pricing.base import ElasticityEstimator
from engine.pricing.bias_bound import bias_bounds, widen
from engine.pricing.choice import Choice, choose_by_evidence
from engine.pricing.cross_price import cross_price_effects
from engine.pricing.dml import DoubleMLIV
from engine.pricing.evaluate import interval_scores, score_estimator
from engine.pricing.facts import CURRENT_PRICE, product_facts
from engine.pricing.grain import PriceGrainSettings, price_dispersion
from engine.pricing.guardrails import PricingPolicy
from engine.pricing.optimizer import COST_ASSUMED, PriceOptimizer
from engine.pricing.registry import make_estimator as make_named_estimator
from engine.pricing.segment_offers import SegmentOffers
from engine.pricing.shrinkage import OWN_ESTIMATE, SIGNIFICANT

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]  # panel.WEEKDAYS
EstimatorName = Literal["naive", "fixed_effects", "dml", "dml_iv", "monotone_gbm"]
PRIMARY_METRIC = "forecast_wmape"  # on the holdout weeks, lower is better
ALL_ESTIMATORS: tuple[EstimatorName, ...] = ("naive", "fixed_effects", "dml", "dml_iv", "monotone_gbm")
CANDIDATES: tuple[EstimatorName, ...] = ("naive", "fixed_effects", "dml", "dml_iv")


class DMLSettings(BaseModel):
    """LightGBM nuisance models of DML and DML-IV."""

    model_config = ConfigDict(extra="forbid")
    n_folds: int = Field(5, ge=2)
    n_estimators: int = Field(150, ge=1)
    learning_rate: float = Field(0.1, gt=0)
    num_leaves: int = Field(15, ge=2)
    min_child_samples: int = Field(20, ge=1)
    category_week_effects: bool = True
    product_time_interactions: bool = Field(
        False, description="let the nuisance models fit each product's own path over time (absorbs the cost-driven price drift IV needs)"
    )


class GBMSettings(BaseModel):
    """The monotone LightGBM demand model (bagged for its standard errors)."""

    model_config = ConfigDict(extra="forbid")
    n_bags: int = Field(5, ge=2)
    n_estimators: int = Field(300, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    num_leaves: int = Field(31, ge=2)
    min_child_samples: int = Field(20, ge=1)


class PricingSettings(BaseModel):
    """What ``fit_pricing`` needs: the panel, the estimators and their choice, costs, policy, offers
    (``configs/pricing.yaml`` without its ``bench`` section)."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    holdout_weeks: int = Field(13, ge=1, description="last weeks held out for scoring")
    week_starts_on: Weekday = Field(
        "monday", description="the first day of the panel's weeks (match the shop's promotion week)"
    )
    price_grain: PriceGrainSettings = Field(
        default_factory=PriceGrainSettings, description="the weekly price: paid average, posted, or posted when unsafe"
    )
    min_weeks: int = Field(20, ge=3, description="a product must sell in this many training weeks")
    top_products: int | None = Field(300, ge=1, description="of those, the top ones by training revenue")
    exclude_categories: list[str] = Field(
        default_factory=lambda: ["COUPON/MISC ITEMS"], description="not shelf-priced (fuel, coupons)"
    )
    estimators: list[EstimatorName] = Field(
        default_factory=lambda: list(ALL_ESTIMATORS), min_length=1
    )
    chosen: EstimatorName | Literal["auto"] = Field(
        "auto",
        description="the estimator the optimizer uses; auto: of the candidates whose elasticities agree with the "
        "reference (DML-IV where its instrument is strong, else fixed effects with controls; engine.pricing.choice), "
        "the most precise",
    )
    choice_alpha: float = Field(
        0.05, gt=0, lt=1, description="auto choice: a candidate that disagrees with a trusted estimator at this level is rejected"
    )
    choice_tolerance: float = Field(
        0.03, ge=0, description="auto choice: passing candidates whose median standard error is within this relative "
        "slack of the smallest are tied, and the lowest holdout forecast_wmape breaks the tie",
    )
    choice_candidates: list[EstimatorName] = Field(
        default_factory=lambda: list(CANDIDATES), min_length=1,
        description="the estimators auto may choose (monotone_gbm forecasts well but its elasticities are read "
        "off a forecaster the forecast score does not validate: 0.69 median error on the bench's baseline)",
    )
    min_first_stage_f: float = Field(
        10.0, ge=0, description="DML-IV: a category whose first-stage F is below this uses the slope without instrument"
    )
    instruments: list[str] = Field(default_factory=lambda: [Columns.unit_cost])
    refit_on_all_weeks: bool = Field(True, description="refit the chosen estimator on every week for the saved model")
    assumed_cost_share: float | None = Field(
        0.7, gt=0, lt=1,
        description="data without unit costs (Complete Journey): assume cost = this x current shelf price, flagged "
        "assumed_cost in every quote; null: no assumption (the optimizer then keeps prices, reason no_cost)",
    )
    dml: DMLSettings = Field(default_factory=DMLSettings)
    gbm: GBMSettings = Field(default_factory=GBMSettings)
    policy: PricingPolicy = Field(default_factory=PricingPolicy)
    segment_offers: Literal["none", "segment", "tier"] = "segment"
    demand_curves: int = Field(6, ge=0, description="demand-curve plots logged for the top products")
    min_improvement: float = Field(0.0, ge=0, description="the gate: required improvement of forecast_wmape")


@dataclass
class PricingRun:
    """Everything one pipeline run produced."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    scores: pd.DataFrame  # one row per estimator
    estimators: dict[str, ElasticityEstimator]
    chosen: str
    why: str
    final: ElasticityEstimator
    optimizer: PriceOptimizer
    cross_price: pd.DataFrame | None = None
    segment_offers: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    first_stage_f: pd.Series | None = None  # per category, of DML-IV (None without it)
    choice: Choice | None = None  # the evidence of the auto choice (None when the config names the estimator)
    bias_bound: pd.Series | None = None  # per category, what the chosen estimator's intervals were widened by (auto choice)
    elasticities: pd.DataFrame = field(default_factory=pd.DataFrame)  # the table the optimizer uses (bias-aware intervals)

    @property
    def validation_score(self) -> float:
        return float(self.scores.loc[self.chosen, PRIMARY_METRIC])


def has_instruments(panel: pd.DataFrame, instruments: list[str]) -> bool:
    """Whether every instrument column exists with positive values (e.g. unit cost)."""
    return bool(instruments) and all(name in panel and (panel[name] > 0).any() for name in instruments)


def configured_estimator(name: str, config: PricingSettings) -> ElasticityEstimator:
    """A fresh estimator named ``name`` with the config's settings (built by the engine's registry)."""
    dml = config.dml.model_dump()
    params: dict[str, dict[str, Any]] = {
        "dml": {"seed": config.seed, **dml},
        "dml_iv": {"instruments": tuple(config.instruments), "seed": config.seed, "min_first_stage_f": config.min_first_stage_f, **dml},
        "monotone_gbm": {"seed": config.seed, **config.gbm.model_dump()},
    }
    return make_named_estimator(name, params.get(name, {}))


def choose_estimator(
    config: PricingSettings, scores: pd.DataFrame, estimators: dict[str, ElasticityEstimator], first_stage: pd.Series | None
) -> tuple[str, str, Choice | None]:
    """The estimator the optimizer will use, why (a sentence for logs and reports), and the evidence
    (None when the config names the estimator).

    ``auto`` chooses on what a real shop can measure without the truth (:func:`~engine.pricing.choice.choose_by_evidence`):
    whether each candidate's elasticities agree with those of an estimator that is consistent under weaker
    assumptions (DML-IV where the first-stage F is strong, else fixed effects with the shop's promotion and
    display controls), and of those that agree the most precise; the holdout forecast only breaks ties. The
    forecast alone preferred plain DML, which lets promotion-timed demand into its slopes."""
    available = list(scores.index)
    if config.chosen != "auto":
        chosen = config.chosen
        if chosen == "dml_iv" and "dml_iv" not in estimators:
            raise EngineError(f"chosen estimator dml_iv needs the instruments {config.instruments}, which this data lacks")
        if chosen not in available:
            raise EngineError(f"chosen estimator {chosen!r} is not among the fitted estimators {available}")
        return chosen, f"{chosen}: set in the config (chosen: {chosen})", None
    choice = choose_by_evidence(
        estimators, config.choice_candidates, scores, first_stage, config.min_first_stage_f, config.choice_alpha,
        config.choice_tolerance,
    )
    return choice.chosen, choice.why, choice


class PriceGrainWarning(UserWarning):
    """The weekly average price of this data is driven by order size (see engine.pricing.grain)."""


def prepare_panels(
    shop: ShopData, config: PricingSettings, notes: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The product-week panel of the selected products: all weeks, training weeks, holdout weeks.

    The price basis follows ``config.price_grain``: with ``auto`` the posted price replaces the weekly
    average where :func:`~engine.pricing.grain.price_dispersion` finds it unsafe, with a
    :class:`PriceGrainWarning` giving the figures. What was decided (and the partial weeks left out) is
    appended to ``notes``."""
    notes = notes if notes is not None else []
    grain = config.price_grain
    basis = grain.price_basis
    dispersion = price_dispersion(shop.transactions, config.week_starts_on, grain)
    if dispersion.unsafe:
        basis = "posted" if basis == "auto" else basis
        message = f"price grain: {dispersion.message()}; price basis: {basis}"
        warnings.warn(message, PriceGrainWarning, stacklevel=2)
        notes.append(message)
    elif dispersion.revenue_share > grain.max_revenue_share:
        notes.append(f"price grain: {dispersion.message()}")
    basis = "paid" if basis == "auto" else basis
    partial = P.partial_weeks(shop.transactions, config.week_starts_on)
    if partial:
        notes.append(f"partial weeks left out (the data covers only part of them): {[str(w.date()) for w in partial]}")
    panel = P.shop_panel(shop, week_starts_on=config.week_starts_on, price_basis=basis)
    panel = panel.loc[~panel[Columns.category].isin(config.exclude_categories)]
    split = P.holdout_split(panel, config.holdout_weeks)
    train = P.select_products(split.calibration(panel, P.WEEK), config.min_weeks, config.top_products)
    products = train[Columns.item].unique()
    panel = panel.loc[panel[Columns.item].isin(products)].reset_index(drop=True)
    holdout = split.holdout(panel, P.WEEK).reset_index(drop=True)
    return panel, train, holdout


def fit_pricing(shop: ShopData, config: PricingSettings, complete: bool = True) -> PricingRun:
    """Fit and score every estimator; build the optimizer from the chosen one. ``complete=False`` skips
    what the benchmark does not need (refit on all weeks, segment offers); the cross-price effects are
    always estimated, since the optimizer prices a category with a significant one jointly."""
    notes: list[str] = []
    panel, train, holdout = prepare_panels(shop, config, notes)
    instrumented = has_instruments(train, config.instruments)
    truth = shop.truth.elasticity if shop.truth is not None else None
    estimators: dict[str, ElasticityEstimator] = {}
    rows: dict[str, dict[str, float]] = {}
    for name in config.estimators:
        if name == "dml_iv" and not instrumented:
            notes.append(f"dml_iv skipped: the data has no instrument {config.instruments}")
            continue
        estimator = configured_estimator(name, config).fit(train)
        estimators[name] = estimator
        rows[name] = score_estimator(estimator, holdout, truth)
    scores = pd.DataFrame.from_dict(rows, orient="index")
    first_stage = None
    if "dml_iv" in estimators:
        iv = cast(DoubleMLIV, estimators["dml_iv"])
        first_stage = iv.first_stage_f_
        notes += [f"dml_iv: {note}" for note in iv.notes_]
    chosen, why, choice = choose_estimator(config, scores, estimators, first_stage)
    for name in ("fixed_effects", "dml"):  # the same products for every estimator: say it once
        if name in estimators and estimators[name].no_price_variation_:
            missing = estimators[name].no_price_variation_
            notes.append(f"{len(missing)} product(s) without price variation (e.g. {missing[:3]}) get their category's elasticity, flagged")
            break
    final = estimators[chosen]
    basis = train
    if complete and config.refit_on_all_weeks:
        final, basis = configured_estimator(chosen, config).fit(panel), panel
    table = final.elasticity_table()
    bounds = bias_bounds(choice, estimators) if choice is not None else None
    if bounds is not None:
        table = widen(table, bounds)
        notes.append(f"bias-aware intervals: {chosen}'s standard errors widened in {int((bounds > 0).sum())} of {len(bounds)} "
                     f"categories (bias bound up to {bounds.max():.3f}) by its shift from the estimators the choice trusts")
        if truth is not None:
            widened = interval_scores(widen(estimators[chosen].elasticity_table(), bounds), truth)
            scores.loc[chosen, [f"{key}_bias_aware" for key in widened]] = list(widened.values())
    cross = cross_price_effects(basis)
    offers = _segment_offers(shop, config, basis) if complete else None
    version = f"{chosen}-{shop.fingerprint()[:8]}"
    facts = with_product_costs(product_facts(basis, table["elasticity"]), shop.products)
    facts = with_assumed_costs(facts, config.assumed_cost_share)
    optimizer = PriceOptimizer(config.policy).fit(table, facts, offers, model_version=version, cross_price=cross)
    return PricingRun(
        train, holdout, scores, estimators, chosen, why, final, optimizer, cross, offers, notes, first_stage, choice, bounds, table
    )


def with_product_costs(facts: pd.DataFrame, products: pd.DataFrame | None) -> pd.DataFrame:
    """Fill unit costs the transactions do not have from the products table's ``unit_cost`` (the
    transactions' own recent cost wins where there is one); a product without either keeps NaN."""
    costs = product_unit_costs(products)
    missing = facts[Columns.unit_cost].isna()
    if costs.empty or not missing.any():
        return facts
    filled = facts[Columns.unit_cost].where(~missing, facts.index.to_series().map(costs))
    return facts.assign(**{Columns.unit_cost: filled})


def with_assumed_costs(facts: pd.DataFrame, cost_share: float | None) -> pd.DataFrame:
    """Data without unit costs (no product has one): fill them with ``cost_share`` x current price,
    marking them ``cost_assumed``. When some products have costs, the others keep none (the optimizer
    then keeps their prices, reason ``no_cost``): a guess beside known costs would pass for one."""
    missing = facts[Columns.unit_cost].isna()
    facts = facts.assign(**{COST_ASSUMED: False})
    if cost_share is not None and missing.all():
        facts.loc[missing, Columns.unit_cost] = (facts.loc[missing, CURRENT_PRICE] * cost_share).round(4)
        facts.loc[missing, COST_ASSUMED] = True
    return facts


def _segment_offers(shop: ShopData, config: PricingSettings, basis: pd.DataFrame) -> pd.DataFrame | None:
    if config.segment_offers == "none":
        return None
    from engine.customers.view import customer_view

    end = basis[P.WEEK].max() + pd.Timedelta(days=7)
    transactions = shop.transactions.loc[shop.transactions[Columns.timestamp] < end]
    view = customer_view(transactions, end)
    attribute = "segment" if config.segment_offers == "segment" else "tier"
    offers = SegmentOffers(config.policy, week_starts_on=config.week_starts_on).fit(
        transactions,
        view[attribute].dropna(),
        attribute="rfm_segment" if attribute == "segment" else "loyalty_tier",
        products=shop.products,
        product_ids=pd.Index(basis[Columns.item].unique()),
    )
    return offers.table()


def summarize_elasticities(table: pd.DataFrame) -> dict[str, float]:
    """The headline numbers of an elasticity table."""
    e = table["elasticity"]
    return {
        "products": float(len(table)),
        "median_elasticity": float(e.median()),
        "q10_elasticity": float(e.quantile(0.1)),
        "q90_elasticity": float(e.quantile(0.9)),
        "share_negative": float((e < 0).mean()),
        "share_significant": float(table[SIGNIFICANT].mean()),
        "share_without_own_estimate": float((~table[OWN_ESTIMATE]).mean()),
        "share_elastic": float((e < -1).mean()),
        "median_se": float(table["se"].median()),
    }


def choice_evidence(choice: Choice | None) -> dict[str, Any] | None:
    """The auto choice's evidence for the bench JSON: per candidate its test, per category its reference."""
    if choice is None:
        return None
    candidates = choice.candidates[["p_value", "passes", "median_se", "forecast_wmape"]]
    return {
        "chosen": choice.chosen,
        "candidates": candidates.astype({"passes": bool}).to_dict(orient="index"),
        "categories": choice.categories.to_dict(orient="index"),
    }
