"""Pricing pipeline: weekly panel -> every estimator scored on the holdout weeks -> the chosen
elasticities (refitted on all weeks) -> cross-price effects, segment offers and the guarded optimizer
-> MLflow (metrics, tables, demand curves, registered model ``crm-pricing``, champion gate).

``fit_pricing`` does the work without MLflow (the notebook and the benchmark call it); ``train_pricing``
wraps it in a tracked run; ``bench_pricing`` scores the estimators on the synthetic twins over several
seeds (or on Complete Journey) and simulates the optimizer against the oracle.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
from engine.pricing.cross_price import cross_price_effects
from engine.pricing.dml import DoubleML, DoubleMLIV
from engine.pricing.evaluate import score_estimator
from engine.pricing.fixed_effects import FixedEffectsLogLog
from engine.pricing.grain import PriceGrainSettings, price_dispersion
from engine.pricing.guardrails import PricingPolicy
from engine.pricing.monotone_gbm import MonotoneGBM
from engine.pricing.naive import NaiveLogLog
from engine.pricing.optimizer import COST_ASSUMED, CURRENT_PRICE, FORMAT_VERSION, KIND, PriceOptimizer, product_facts
from engine.pricing.segment_offers import SegmentOffers

EstimatorName = Literal["naive", "fixed_effects", "dml", "dml_iv", "monotone_gbm"]
MODEL_NAME = "crm-pricing"
EXPERIMENT = "pricing"
PRIMARY_METRIC = "forecast_wmape"  # on the holdout weeks, lower is better
ESTIMATORS: dict[str, type[ElasticityEstimator]] = {
    cls.name: cls for cls in (NaiveLogLog, FixedEffectsLogLog, DoubleML, DoubleMLIV, MonotoneGBM)
}


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
    """``crm bench pricing``: seeds of the synthetic twins."""

    model_config = ConfigDict(extra="forbid")
    seeds: list[int] = Field(default_factory=lambda: list(range(12)), min_length=1)
    shop: dict[str, Any] = Field(
        default_factory=dict, description="overrides of the synthetic shop's sizes (SyntheticShopConfig fields)"
    )


class PricingConfig(BaseModel):
    """``configs/pricing.yaml``."""

    model_config = ConfigDict(extra="forbid")
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
        description="the estimator the optimizer uses; auto: dml_iv if the data has the instruments, else dml "
        "(else the first fitted of fixed_effects, naive, monotone_gbm)",
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
    final: ElasticityEstimator
    optimizer: PriceOptimizer
    cross_price: pd.DataFrame | None = None
    segment_offers: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def validation_score(self) -> float:
        return float(self.scores.loc[self.chosen, PRIMARY_METRIC])


def has_instruments(panel: pd.DataFrame, instruments: list[str]) -> bool:
    """Whether every instrument column exists with positive values (e.g. unit cost)."""
    return bool(instruments) and all(name in panel and (panel[name] > 0).any() for name in instruments)


def make_estimator(name: str, config: PricingConfig) -> ElasticityEstimator:
    """A fresh estimator named ``name`` with the config's settings."""
    dml = config.dml.model_dump()
    if name == "naive":
        return NaiveLogLog()
    if name == "fixed_effects":
        return FixedEffectsLogLog()
    if name == "dml":
        return DoubleML(seed=config.seed, **dml)
    if name == "dml_iv":
        return DoubleMLIV(instruments=tuple(config.instruments), seed=config.seed, **dml)
    if name == "monotone_gbm":
        return MonotoneGBM(seed=config.seed, **config.gbm.model_dump())
    raise EngineError(f"unknown estimator {name!r}")


def resolve_chosen(config: PricingConfig, available: list[str], instrumented: bool) -> str:
    """The estimator the optimizer will use."""
    if config.chosen == "auto":
        preference = ["dml_iv"] if instrumented else []
        preference += ["dml", "fixed_effects", "naive", "monotone_gbm"]
        return next(name for name in preference if name in available)
    chosen = config.chosen
    if chosen == "dml_iv" and not instrumented:
        raise EngineError(f"chosen estimator dml_iv needs the instruments {config.instruments}, which this data lacks")
    if chosen not in available:
        raise EngineError(f"chosen estimator {chosen!r} is not among the fitted estimators {available}")
    return chosen


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
    chosen = resolve_chosen(config, list(estimators), instrumented)
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
    return PricingRun(train, holdout, scores, estimators, chosen, final, optimizer, cross, offers, notes)


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
    params = {key: tuple(value) if isinstance(value, list) else value for key, value in params.items()}  # JSON
    try:
        return ESTIMATORS[name](**params)
    except TypeError as error:
        raise ModelFormatError(f"{model_dir}: estimator {name!r} does not take params {params}: {error}") from error


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
    """Fill missing unit costs with ``cost_share`` x current price, marking them ``cost_assumed``."""
    missing = facts[Columns.unit_cost].isna()
    facts = facts.assign(**{COST_ASSUMED: False})
    if cost_share is not None and missing.any():
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
        "share_significant": float((table["ci_high"] < 0).mean()),
        "share_elastic": float((e < -1).mean()),
        "median_se": float(table["se"].median()),
    }


# --- MLflow ---------------------------------------------------------------------------------------


def train_pricing(shop: ShopData, config: PricingConfig, out: Path) -> dict[str, Any]:
    """Fit, log to MLflow, save and register the pricing model, and gate it on the validation score
    against the champion's estimator refitted and scored on this run's weeks (``rescore_saved``)."""
    import mlflow

    from engine.pricing.plots import demand_curve, elasticity_histogram, elasticity_scatter
    from training import tracking

    with tracking.tracked_run(EXPERIMENT, config, shop, config.seed):
        run = fit_pricing(shop, config)
        for name, row in run.scores.iterrows():
            tracking.log_metrics(row.to_dict(), prefix=f"{name}.")
        tracking.log_metrics({PRIMARY_METRIC: run.validation_score})
        table = run.final.elasticity_table()
        tracking.log_metrics(summarize_elasticities(table), prefix="elasticities.")
        mlflow.set_tags({"chosen_estimator": run.chosen, "notes": "; ".join(run.notes)[:500]})
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
            mlflow.log_artifact(str(out / f"{name}.csv"), "tables")
        fitted_tables = {name: est.elasticity_table() for name, est in run.estimators.items()}
        if shop.truth is not None:
            tracking.log_figure(elasticity_scatter(fitted_tables, shop.truth.elasticity), "elasticities_vs_truth")
        tracking.log_figure(elasticity_histogram(fitted_tables), "elasticity_histogram")
        revenue = run.train.groupby(Columns.item)[P.REVENUE].sum().nlargest(config.demand_curves)
        for product_id in revenue.index:
            tracking.log_figure(demand_curve(run.optimizer, product_id), f"demand_curve_{product_id}")
        model_dir = run.optimizer.save(
            out / "model", shop.fingerprint(), extra={"estimator": run.chosen, "estimator_params": run.final.params()}
        )
        version = tracking.register_model(model_dir, MODEL_NAME, PRIMARY_METRIC, run.validation_score, higher_is_better=False)
        decision = tracking.promote_if_better(
            MODEL_NAME, version, PRIMARY_METRIC, run.validation_score, higher_is_better=False,
            min_improvement=config.min_improvement, rescore=lambda champion: rescore_saved(champion, run),
        )
        tracking.log_gate(decision)
    summary = {
        "chosen": run.chosen,
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
    "confounded_cf_wmape_within_1_2x_unconfounded": 1.2,
    "confounded_cf_wmape_at_most_half_naive": 0.5,
    "median_abs_elasticity_error_below": 0.15,
    "profit_ratio_to_oracle_at_least": 0.95,
    "sign_accuracy_at_least": 0.95,
}


def bench_synthetic(config: PricingConfig, progress=None) -> dict[str, Any]:
    """Every estimator on the confounded and unconfounded twins of each seed; the optimizer of the
    chosen estimator simulated forward on the confounded shop against the oracle and current prices."""
    from engine.data.synthetic import SyntheticShopConfig, generate_shop
    from engine.pricing.simulate import compare_policies

    rows, optimizer_rows = [], []
    for seed in config.bench.seeds:
        seeded = config.model_copy(update={"seed": seed})
        for confounded in (True, False):
            if progress:
                progress(f"seed {seed}, {'confounded' if confounded else 'unconfounded'} twin")
            shop = generate_shop(SyntheticShopConfig(**{**config.bench.shop, "seed": seed, "confounded": confounded}))
            run = fit_pricing(shop, seeded, complete=False)
            for name, score in run.scores.iterrows():
                rows.append({"seed": seed, "confounded": confounded, "estimator": name, **score.to_dict()})
            if confounded:
                weeks = sorted(run.holdout[P.WEEK].unique())
                optimizer_rows.append({"seed": seed, "chosen": run.chosen, **compare_policies(run.optimizer, shop.truth, weeks)})
    scores = pd.DataFrame(rows)
    mean = scores.groupby(["estimator", "confounded"]).mean(numeric_only=True).drop(columns="seed")
    estimators = []
    for name in dict.fromkeys(scores["estimator"]):
        confounded, unconfounded = mean.loc[(name, True)], mean.loc[(name, False)]
        estimators.append(
            {
                "name": name,
                "cf_wmape_confounded": confounded["cf_wmape"],
                "cf_wmape_unconfounded": unconfounded["cf_wmape"],
                "forecast_wmape": confounded["forecast_wmape"],
                "forecast_wmape_unconfounded": unconfounded["forecast_wmape"],
                "elasticity_mae": confounded["elasticity_mae"],
                "elasticity_mae_unconfounded": unconfounded["elasticity_mae"],
                "elasticity_median_ae": confounded["elasticity_median_ae"],
                "elasticity_median_ae_unconfounded": unconfounded["elasticity_median_ae"],
                "elasticity_bias": confounded["elasticity_bias"],
                "elasticity_bias_unconfounded": unconfounded["elasticity_bias"],
                "sign_accuracy": confounded["sign_accuracy"],
            }
        )
    optimizer = pd.DataFrame(optimizer_rows).drop(columns=["seed", "chosen"]).mean().to_dict()
    by_name = {e["name"]: e for e in estimators}
    best = min(estimators, key=lambda e: e["cf_wmape_confounded"])
    checks = {
        "best_estimator": best["name"],
        "confounded_over_unconfounded": best["cf_wmape_confounded"] / best["cf_wmape_unconfounded"],
        "median_abs_elasticity_error": best["elasticity_median_ae"],
        "profit_ratio_to_oracle": optimizer["profit_ratio_to_oracle"],
        "guardrail_violations": optimizer["guardrail_violations"],
    }
    checks["met_within_1_2x_unconfounded"] = checks["confounded_over_unconfounded"] <= TARGETS["confounded_cf_wmape_within_1_2x_unconfounded"]
    if "naive" in by_name:
        checks["best_over_naive"] = best["cf_wmape_confounded"] / by_name["naive"]["cf_wmape_confounded"]
        checks["met_at_most_half_naive"] = checks["best_over_naive"] <= TARGETS["confounded_cf_wmape_at_most_half_naive"]
    checks["met_median_abs_error"] = checks["median_abs_elasticity_error"] < TARGETS["median_abs_elasticity_error_below"]
    checks["met_profit_ratio"] = optimizer["profit_ratio_to_oracle"] >= TARGETS["profit_ratio_to_oracle_at_least"]
    checks["met_no_violations"] = optimizer["guardrail_violations"] == 0
    return {
        "data": "synthetic",
        "seeds": config.bench.seeds,
        "holdout_weeks": config.holdout_weeks,
        "estimators": estimators,
        "chosen": optimizer_rows[0]["chosen"],
        "optimizer": optimizer,
        "optimizer_per_seed": optimizer_rows,
        "targets": checks,
        "per_seed": scores.to_dict(orient="records"),
    }


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
