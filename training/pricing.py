"""Pricing pipeline: weekly panel -> every estimator scored on the holdout weeks -> the chosen
elasticities (refitted on all weeks) -> cross-price effects, segment offers and the guarded optimizer
-> MLflow (metrics, tables, demand curves, registered model ``crm-pricing``, champion gate).

``fit_pricing`` does the work without MLflow (the notebook and the benchmark call it); ``train_pricing``
wraps it in a tracked run; ``bench_synthetic`` scores the estimators on a family of synthetic shop
designs (:mod:`engine.pricing.designs`, development and held-out) and simulates the optimizer against
the oracle; ``bench_real`` scores them on a real shop (e.g. Complete Journey).

The estimator is chosen by evidence a real shop has (:func:`choose_estimator`): the holdout forecast
error of every candidate, DML-IV only with a strong instrument (first-stage F >= 10 per category, else
the category falls back to the slope without instrument, with a note). The bench, which knows the
truth, reports how far that choice lands from the best available estimator in each design.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.data.shop_tables import product_unit_costs
from engine.errors import EngineError, ModelFormatError
from engine.io import read_manifest
from engine.pricing import panel as P
from engine.pricing.base import ElasticityEstimator
from engine.pricing.choice import Choice, choose_by_evidence
from engine.pricing.cross_price import cross_price_effects
from engine.pricing.designs import BENCH_SHOP, DEVELOPMENT, HELD_OUT, SEALED, SPLITS, ShopDesign, default_designs
from engine.pricing.evaluate import score_estimator
from engine.pricing.grain import PriceGrainSettings, price_dispersion
from engine.pricing.guardrails import PricingPolicy
from engine.pricing.optimizer import COST_ASSUMED, CURRENT_PRICE, FORMAT_VERSION, KIND, PriceOptimizer, product_facts
from engine.pricing.registry import ESTIMATORS
from engine.pricing.registry import make_estimator as make_named_estimator
from engine.pricing.segment_offers import SegmentOffers
from engine.pricing.shrinkage import OWN_ESTIMATE, SIGNIFICANT

EstimatorName = Literal["naive", "fixed_effects", "dml", "dml_iv", "monotone_gbm"]
MODEL_NAME = "crm-pricing"
EXPERIMENT = "pricing"
PRIMARY_METRIC = "forecast_wmape"  # on the holdout weeks, lower is better


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


class BenchSettings(BaseModel):
    """``crm bench pricing``: the design family and its seeds, split into development and held-out."""

    model_config = ConfigDict(extra="forbid")
    development_seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    held_out_seeds: list[int] = Field(default_factory=lambda: [100, 101, 102], min_length=1)
    sealed_seeds: list[int] = Field(default_factory=lambda: [300, 301, 302], min_length=1)
    shop: dict[str, Any] = Field(
        default_factory=lambda: dict(BENCH_SHOP), description="the base shop of every design (SyntheticShopConfig fields)"
    )
    designs: list[ShopDesign] = Field(default_factory=default_designs, min_length=1)
    estimators: list[EstimatorName] | None = Field(None, description="the estimators the bench fits (null: the config's)")

    def seeds(self, split: str) -> list[int]:
        """The seeds a design of ``split`` runs on."""
        return {DEVELOPMENT: self.development_seeds, HELD_OUT: self.held_out_seeds, SEALED: self.sealed_seeds}[split]


class PricingConfig(BaseModel):
    """``configs/pricing.yaml``."""

    model_config = ConfigDict(extra="forbid")
    default_file: ClassVar[str] = "pricing.yaml"
    seed: int = 0
    holdout_weeks: int = Field(13, ge=1, description="last weeks held out for scoring")
    week_starts_on: Literal[P.WEEKDAYS] = Field(
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
        default_factory=lambda: ["naive", "fixed_effects", "dml", "dml_iv", "monotone_gbm"], min_length=1
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
        default_factory=lambda: ["naive", "fixed_effects", "dml", "dml_iv"], min_length=1,
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
    bench: BenchSettings = Field(default_factory=BenchSettings)


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

    @property
    def validation_score(self) -> float:
        return float(self.scores.loc[self.chosen, PRIMARY_METRIC])


def has_instruments(panel: pd.DataFrame, instruments: list[str]) -> bool:
    """Whether every instrument column exists with positive values (e.g. unit cost)."""
    return bool(instruments) and all(name in panel and (panel[name] > 0).any() for name in instruments)


def make_estimator(name: str, config: PricingConfig) -> ElasticityEstimator:
    """A fresh estimator named ``name`` with the config's settings (built by the engine's registry)."""
    dml = config.dml.model_dump()
    params: dict[str, dict[str, Any]] = {
        "dml": {"seed": config.seed, **dml},
        "dml_iv": {"instruments": tuple(config.instruments), "seed": config.seed, "min_first_stage_f": config.min_first_stage_f, **dml},
        "monotone_gbm": {"seed": config.seed, **config.gbm.model_dump()},
    }
    return make_named_estimator(name, params.get(name, {}))


def choose_estimator(
    config: PricingConfig, scores: pd.DataFrame, estimators: dict[str, ElasticityEstimator], first_stage: pd.Series | None
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
    shop: ShopData, config: PricingConfig, notes: list[str] | None = None
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


def fit_pricing(shop: ShopData, config: PricingConfig, complete: bool = True) -> PricingRun:
    """Fit and score every estimator; build the optimizer from the chosen one. ``complete=False`` skips
    what the benchmark does not need (refit on all weeks, cross-price effects, segment offers)."""
    notes: list[str] = []
    panel, train, holdout = prepare_panels(shop, config, notes)
    instrumented = has_instruments(train, config.instruments)
    truth = shop.truth.elasticity if shop.truth is not None else None
    estimators, rows = {}, {}
    for name in config.estimators:
        if name == "dml_iv" and not instrumented:
            notes.append(f"dml_iv skipped: the data has no instrument {config.instruments}")
            continue
        estimator = make_estimator(name, config).fit(train)
        estimators[name] = estimator
        rows[name] = score_estimator(estimator, holdout, truth)
    scores = pd.DataFrame.from_dict(rows, orient="index")
    first_stage = None
    if "dml_iv" in estimators:
        first_stage = estimators["dml_iv"].first_stage_f_
        notes += [f"dml_iv: {note}" for note in estimators["dml_iv"].notes_]
    chosen, why, choice = choose_estimator(config, scores, estimators, first_stage)
    for name in ("fixed_effects", "dml"):  # the same products for every estimator: say it once
        if name in estimators and estimators[name].no_price_variation_:
            missing = estimators[name].no_price_variation_
            notes.append(f"{len(missing)} product(s) without price variation (e.g. {missing[:3]}) get their category's elasticity, flagged")
            break
    final = estimators[chosen]
    basis = train
    if complete and config.refit_on_all_weeks:
        final, basis = make_estimator(chosen, config).fit(panel), panel
    table = final.elasticity_table()
    cross = offers = None
    if complete:
        cross = cross_price_effects(basis, tuple(config.instruments) if instrumented else (), config.seed)
        offers = _segment_offers(shop, config, basis)
    version = f"{chosen}-{shop.fingerprint()[:8]}"
    facts = with_product_costs(product_facts(basis, table["elasticity"]), shop.products)
    facts = with_assumed_costs(facts, config.assumed_cost_share)
    optimizer = PriceOptimizer(config.policy).fit(table, facts, offers, model_version=version)
    return PricingRun(train, holdout, scores, estimators, chosen, why, final, optimizer, cross, offers, notes, first_stage, choice)


def saved_estimator(model_dir: Path) -> ElasticityEstimator:
    """A fresh estimator like the one a saved pricing model was built from (the manifest records its name
    and constructor params, not its fitted nuisances). A folder this engine cannot read, or an estimator
    or params it does not know, raises ModelFormatError."""
    manifest = read_manifest(model_dir, KIND, FORMAT_VERSION)
    name, params = manifest.get("estimator"), manifest.get("estimator_params")
    if name not in ESTIMATORS or not isinstance(params, dict):
        raise ModelFormatError(
            f"{model_dir} names estimator {name!r} with params {params!r}; this engine knows {sorted(ESTIMATORS)}"
        )
    try:
        return make_named_estimator(name, params)
    except EngineError as error:
        raise ModelFormatError(f"{model_dir}: {error}") from error


def rescore_saved(model_dir: Path, run: PricingRun) -> float:
    """The primary metric of a saved model's estimator refitted on ``run``'s training weeks and scored on
    its holdout weeks, as the challenger was: the champion gate's comparison on the same data."""
    estimator = saved_estimator(model_dir).fit(run.train)
    return float(score_estimator(estimator, run.holdout)[PRIMARY_METRIC])


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


def _segment_offers(shop: ShopData, config: PricingConfig, basis: pd.DataFrame) -> pd.DataFrame | None:
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


# --- MLflow ---------------------------------------------------------------------------------------


def train_pricing(shop: ShopData, config: PricingConfig, out: Path) -> dict[str, Any]:
    """Fit, log to MLflow, save and register the pricing model, and gate it on the validation score
    against the champion's estimator refitted and scored on this run's weeks (``rescore_saved``)."""
    from engine.pricing.plots import demand_curve, elasticity_histogram, elasticity_scatter
    from training import tracking
    from training.publish import publish

    with tracking.tracked_run(EXPERIMENT, config, shop, config.seed):
        run = fit_pricing(shop, config)
        for name, row in run.scores.iterrows():
            tracking.log_metrics(row.to_dict(), prefix=f"{name}.")
        tracking.log_metrics({PRIMARY_METRIC: run.validation_score})
        table = run.final.elasticity_table()
        tracking.log_metrics(summarize_elasticities(table), prefix="elasticities.")
        tracking.set_tags({"chosen_estimator": run.chosen, "chosen_why": run.why[:500], "notes": "; ".join(run.notes)[:500]})
        tracking.log_params({"chosen_estimator": run.chosen, "chosen_why": run.why[:500]})
        if run.first_stage_f is not None:
            tracking.log_metrics({str(c): float(f) for c, f in run.first_stage_f.items()}, prefix="first_stage_f.")
        out.mkdir(parents=True, exist_ok=True)
        tables = {"scores": run.scores, "elasticities": table, "categories": run.final.categories_}
        if run.cross_price is not None:
            tables["cross_price"] = run.cross_price
        if run.segment_offers is not None:
            tables["segment_offers"] = run.segment_offers
        quotes = run.optimizer.quote_all()
        tables["quotes"] = quotes
        for name, frame in tables.items():
            frame.to_csv(out / f"{name}.csv")
            tracking.log_artifact(out / f"{name}.csv", "tables")
        fitted_tables = {name: est.elasticity_table() for name, est in run.estimators.items()}
        if shop.truth is not None:
            tracking.log_figure(elasticity_scatter(fitted_tables, shop.truth.elasticity), "elasticities_vs_truth")
        tracking.log_figure(elasticity_histogram(fitted_tables), "elasticity_histogram")
        revenue = run.train.groupby(Columns.item)[P.REVENUE].sum().nlargest(config.demand_curves)
        for product_id in revenue.index:
            tracking.log_figure(demand_curve(run.optimizer, product_id), f"demand_curve_{product_id}")
        model_dir = run.optimizer.save(
            out / "model", shop.fingerprint(), extra={"estimator": run.chosen, "estimator_params": run.final.get_params()}
        )
        version, decision = publish(
            model_dir, MODEL_NAME, PRIMARY_METRIC, run.validation_score, higher_is_better=False,
            min_improvement=config.min_improvement, rescore=lambda champion: rescore_saved(champion, run),
        )
    summary = {
        "chosen": run.chosen,
        "why": run.why,
        "choice": choice_evidence(run.choice),
        "first_stage_f": {} if run.first_stage_f is None else run.first_stage_f.round(2).to_dict(),
        "validation": {PRIMARY_METRIC: run.validation_score},
        "scores": run.scores.round(4).to_dict(orient="index"),
        "elasticities": summarize_elasticities(table),
        "quote_reasons": quotes["reason"].value_counts().to_dict(),
        "registered_version": version,
        "gate": decision.as_dict(),
        "costs_assumed": int(run.optimizer.facts_[COST_ASSUMED].sum()),
        "notes": run.notes,
    }
    tracking.write_json(out / "summary.json", summary)
    return summary


# --- benchmark ------------------------------------------------------------------------------------

TARGETS = {
    "median_abs_elasticity_error_at_most": 0.25,  # in every design, for the chosen estimator
    "error_vs_best_available_at_most": 1.1,  # chosen / best of naive, fixed_effects, dml, dml_iv
    "coverage_95_at_least": 0.90,
    "profit_ratio_to_oracle_at_least": 0.97,
    "sign_accuracy_at_least": 0.95,
}
COMPARED = ("naive", "fixed_effects", "dml", "dml_iv")  # "the best available" of the targets
ORACLE = (
    "the best price the same guardrails allow under the true elasticity and cost (engine.pricing.oracle.oracle_price, "
    "per product and week); profit_ratio_to_informed_optimizer: against the optimizer fed the true elasticities"
)


def _mean_se(values: pd.Series) -> tuple[float, float | None]:
    """Mean over seeds and its standard error (None with one seed)."""
    values = values.astype(float)
    se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else None
    return float(values.mean()), se


def _design_summary(design: ShopDesign, scores: pd.DataFrame, optimizer: pd.DataFrame) -> dict[str, Any]:
    """One design's entry of the bench JSON: the chosen estimator's figures over its seeds (mean and
    standard error), the best available estimator by true error, and the target checks."""
    chosen_rows = scores.loc[scores["chosen"]]
    error, error_se = _mean_se(chosen_rows["elasticity_median_ae"])
    coverage, coverage_se = _mean_se(chosen_rows["coverage_95"])
    profit, profit_se = _mean_se(optimizer["profit_ratio_to_oracle"])
    by_estimator = scores.groupby("estimator", sort=False)[["elasticity_median_ae", "coverage_95", "forecast_wmape", "cf_wmape"]].mean()
    compared = by_estimator.loc[[name for name in COMPARED if name in by_estimator.index], "elasticity_median_ae"]
    best = str(compared.idxmin()) if len(compared) else None
    choices = chosen_rows["estimator"].value_counts()
    violations = float(optimizer["guardrail_violations"].sum())
    entry = {
        "design": design.name,
        "split": design.split,
        "description": design.description,
        "shop": design.shop,
        "seeds": sorted(scores["seed"].unique().tolist()),
        "chosen": str(choices.index[0]),
        "choices": choices.to_dict(),
        "why": str(optimizer["why"].iloc[0]),
        "choice_per_seed": {int(seed): evidence for seed, evidence in zip(optimizer["seed"], optimizer["evidence"])},
        "median_abs_error": error,
        "median_abs_error_se": error_se,
        "coverage_95": coverage,
        "coverage_95_se": coverage_se,
        "best_available": best,
        "best_available_error": float(compared.min()) if best else None,
        "error_vs_best": error / float(compared.min()) if best else None,
        "profit_vs_constrained_oracle": profit,
        "profit_vs_constrained_oracle_se": profit_se,
        "violations": violations,
        "first_stage_f_min": float(optimizer["first_stage_f_min"].min()),
        "notes": sorted({note for notes in optimizer["notes"] for note in notes}),
        "estimators": by_estimator.to_dict(orient="index"),
    }
    entry["met"] = {
        "median_abs_error": error <= TARGETS["median_abs_elasticity_error_at_most"],
        "error_vs_best": entry["error_vs_best"] is not None and entry["error_vs_best"] <= TARGETS["error_vs_best_available_at_most"],
        "coverage_95": coverage >= TARGETS["coverage_95_at_least"],
        "profit": profit >= TARGETS["profit_ratio_to_oracle_at_least"],
        "no_violations": violations == 0,
    }
    return entry


def bench_synthetic(
    config: PricingConfig, progress=None, designs: list[str] | None = None, splits: list[str] | None = None
) -> dict[str, Any]:
    """Every estimator on every design of the family (``config.bench``; ``designs`` names a subset),
    each design on the seeds of its split; the chosen estimator's optimizer simulated forward against
    the oracle and current prices. Per design: the chosen estimator, why, its elasticity error and
    interval coverage, the best available estimator, profit against the oracle, guardrail violations.
    ``splits`` keeps the designs of those splits only (a development loop runs ``["development"]``)."""
    from engine.data.synthetic import generate_shop
    from engine.pricing.simulate import compare_policies

    family = config.bench.designs
    if designs:
        unknown = sorted(set(designs) - {d.name for d in family})
        if unknown:
            raise EngineError(f"unknown design(s) {unknown}; the family has {[d.name for d in family]}")
        family = [d for d in family if d.name in designs]
    if splits:
        unknown = sorted(set(splits) - set(SPLITS))
        if unknown:
            raise EngineError(f"unknown split(s) {unknown}; the splits are {list(SPLITS)}")
        family = [d for d in family if d.split in splits]
    if not family:
        raise EngineError("no design of the family is left to run after the --designs / --split selection")
    rows, optimizer_rows, entries = [], [], []
    for design in family:
        design_rows, design_optimizer = [], []
        for seed in config.bench.seeds(design.split):
            if progress:
                progress(f"{design.split} design {design.name}, seed {seed}")
            shop = generate_shop(design.shop_config(seed, config.bench.shop))
            fitted = config.bench.estimators or config.estimators
            run = fit_pricing(shop, config.model_copy(update={"seed": seed, "estimators": fitted}), complete=False)
            for name, score in run.scores.iterrows():
                design_rows.append(
                    {"design": design.name, "split": design.split, "confounded": shop.truth.config.confounded,
                     "seed": seed, "estimator": name, "chosen": name == run.chosen, **score.to_dict()}
                )
            weeks = sorted(run.holdout[P.WEEK].unique())
            first_stage = run.first_stage_f.min() if run.first_stage_f is not None and len(run.first_stage_f) else np.nan
            design_optimizer.append(
                {"design": design.name, "split": design.split, "seed": seed, "chosen": run.chosen, "why": run.why,
                 "first_stage_f_min": first_stage, "notes": run.notes, "evidence": choice_evidence(run.choice),
                 **compare_policies(run.optimizer, shop.truth, weeks)}
            )
        entries.append(_design_summary(design, pd.DataFrame(design_rows), pd.DataFrame(design_optimizer)))
        rows += design_rows
        optimizer_rows += design_optimizer
    scores = pd.DataFrame(rows)
    runs = pd.DataFrame(optimizer_rows)
    numeric = runs.drop(columns=["design", "split", "seed", "chosen", "why", "notes", "evidence"])
    return {
        "data": "synthetic",
        "seeds": sorted(scores["seed"].unique().tolist()),
        "split": {
            "development_designs": [d.name for d in family if d.split == DEVELOPMENT],
            "held_out_designs": [d.name for d in family if d.split == HELD_OUT],
            "sealed_designs": [d.name for d in family if d.split == SEALED],
            "development_seeds": config.bench.development_seeds,
            "held_out_seeds": config.bench.held_out_seeds,
            "sealed_seeds": config.bench.sealed_seeds,
        },
        "base_shop": config.bench.shop,
        "holdout_weeks": config.holdout_weeks,
        "oracle": ORACLE,
        "estimators": _legacy_estimators(scores),
        "chosen": str(runs["chosen"].mode().iloc[0]),
        "optimizer": numeric.mean().to_dict(),
        "designs": entries,
        "targets": _family_targets(entries),
        "optimizer_per_run": runs.drop(columns=["notes", "evidence"]).to_dict(orient="records"),
        "per_run": scores.to_dict(orient="records"),
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


def _legacy_estimators(scores: pd.DataFrame) -> list[dict[str, Any]]:
    """Per estimator, the means over the confounded designs and over the unconfounded ones (the
    earlier twin comparison, kept for the JSON contract; NaN where the family has no such design)."""
    keys = ("cf_wmape", "forecast_wmape", "elasticity_mae", "elasticity_median_ae", "elasticity_bias", "coverage_95")
    mean = scores.groupby(["estimator", "confounded"]).mean(numeric_only=True)
    out = []
    for name in dict.fromkeys(scores["estimator"]):
        confounded = mean.loc[(name, True)] if (name, True) in mean.index else pd.Series(dtype=float)
        unconfounded = mean.loc[(name, False)] if (name, False) in mean.index else pd.Series(dtype=float)
        entry = {"name": name, "sign_accuracy": confounded.get("sign_accuracy", np.nan)}
        for key in keys:
            entry[key if key != "cf_wmape" else "cf_wmape_confounded"] = confounded.get(key, np.nan)
            entry[f"{key}_unconfounded"] = unconfounded.get(key, np.nan)
        out.append(entry)
    return out


def _family_targets(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether each target holds in every design, development and held-out designs apart, with the
    worst figure of each."""
    checks: dict[str, Any] = {"targets": TARGETS}
    for split in SPLITS:
        part = [e for e in entries if e["split"] == split]
        if not part:
            continue
        checks[split] = {
            "designs": len(part),
            "worst_median_abs_error": max(e["median_abs_error"] for e in part),
            "worst_error_vs_best": max((e["error_vs_best"] for e in part if e["error_vs_best"] is not None), default=None),
            "worst_coverage_95": min(e["coverage_95"] for e in part),
            "worst_profit_vs_constrained_oracle": min(e["profit_vs_constrained_oracle"] for e in part),
            "violations": sum(e["violations"] for e in part),
            **{f"met_{key}_in_every_design": all(e["met"][key] for e in part) for key in part[0]["met"]},
        }
    return checks


def bench_real(shop: ShopData, config: PricingConfig) -> dict[str, Any]:
    """Real data: sign accuracy and forecast error of every estimator, the chosen estimator's
    elasticity table summary, cross-price relations and segment offers."""
    run = fit_pricing(shop, config)
    table = run.final.elasticity_table()
    sign = float(run.scores.loc[run.chosen, "sign_accuracy"])
    return {
        "data": shop.source,
        "seeds": [config.seed],
        "holdout_weeks": config.holdout_weeks,
        "estimators": [
            {"name": name, "sign_accuracy": row["sign_accuracy"], "forecast_wmape": row["forecast_wmape"], "rows": row["rows"]}
            for name, row in run.scores.iterrows()
        ],
        "chosen": run.chosen,
        "why": run.why,
        "choice": choice_evidence(run.choice),
        "first_stage_f": {} if run.first_stage_f is None else run.first_stage_f.to_dict(),
        "elasticities": summarize_elasticities(table),
        "elasticities_by_estimator": {n: summarize_elasticities(e.elasticity_table()) for n, e in run.estimators.items()},
        "cross_price": run.cross_price["relation"].value_counts().to_dict() if run.cross_price is not None else {},
        "segment_offers": run.segment_offers[["elasticity", "difference", "se", "discount", "reason"]].to_dict(orient="index")
        if run.segment_offers is not None
        else {},
        "quote_reasons": run.optimizer.quote_all()["reason"].value_counts().to_dict(),
        "targets": {"sign_accuracy_chosen": sign, "met_sign_accuracy": sign >= TARGETS["sign_accuracy_at_least"]},
        "notes": run.notes,
    }


def finite(payload: Any) -> Any:
    """Replace NaN/inf in a JSON payload by None (JSON has no NaN)."""
    if isinstance(payload, dict):
        return {str(k): finite(v) for k, v in payload.items()}
    if isinstance(payload, (list, tuple)):
        return [finite(v) for v in payload]
    if isinstance(payload, (float, np.floating)):
        return float(payload) if np.isfinite(payload) else None
    if isinstance(payload, (np.integer,)):
        return int(payload)
    if isinstance(payload, (np.bool_,)):
        return bool(payload)
    return payload
