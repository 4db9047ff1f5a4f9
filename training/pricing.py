"""Pricing pipeline: weekly panel -> every estimator scored on the holdout weeks -> the chosen
elasticities (refitted on all weeks) -> cross-price effects, segment offers and the guarded optimizer
-> MLflow (metrics, tables, demand curves, registered model ``crm-pricing``, champion gate).

:func:`engine.pricing.fit.fit_pricing` does the work without MLflow (the notebook and the benchmark call
it; its names are re-exported here); ``train_pricing`` wraps it in a tracked run. ``PricingConfig`` is
the engine's ``PricingSettings`` plus the bench's design family, which :mod:`training.pricing_bench` runs.

The estimator is chosen by evidence a real shop has (:mod:`engine.pricing.choice`): agreement with a
reference that is consistent under weaker assumptions (DML-IV where the first-stage F is strong, else
fixed effects with the shop's promotion and display controls), then precision; the holdout forecast
only breaks ties. The bench, which knows the truth, reports how far that choice lands from the best
available estimator in each design.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.errors import EngineError, ModelFormatError
from engine.io import read_manifest
from engine.pricing import panel as P
from engine.pricing.base import ElasticityEstimator
from engine.pricing.designs import (
    BENCH_SHOP,
    DEVELOPMENT,
    HELD_OUT,
    SEALED,
    SEALED_2,
    SEALED_3,
    SEALED_4,
    ShopDesign,
    default_designs,
)
from engine.pricing.evaluate import score_estimator
from engine.pricing.fit import (  # noqa: F401  (re-exported: the pipeline's public names)
    PRIMARY_METRIC,
    DMLSettings,
    EstimatorName,
    GBMSettings,
    PriceGrainWarning,
    PricingRun,
    PricingSettings,
    choice_evidence,
    choose_estimator,
    fit_pricing,
    prepare_panels,
    summarize_elasticities,
    with_assumed_costs,
    with_product_costs,
)
from engine.pricing.optimizer import COST_ASSUMED, FORMAT_VERSION, KIND
from engine.pricing.registry import ESTIMATORS
from engine.pricing.registry import make_estimator as make_named_estimator

MODEL_NAME = "crm-pricing"
EXPERIMENT = "pricing"


class BenchSettings(BaseModel):
    """``crm bench pricing``: the design family and its seeds, split into development and held-out."""

    model_config = ConfigDict(extra="forbid")
    development_seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    held_out_seeds: list[int] = Field(default_factory=lambda: [100, 101, 102], min_length=1)
    sealed_seeds: list[int] = Field(default_factory=lambda: [300, 301, 302], min_length=1)
    sealed_2_seeds: list[int] = Field(default_factory=lambda: [400, 401, 402], min_length=1)
    sealed_3_seeds: list[int] = Field(default_factory=lambda: [600, 601, 602], min_length=1)
    sealed_4_seeds: list[int] = Field(default_factory=lambda: [700, 701, 702], min_length=1)
    shop: dict[str, Any] = Field(
        default_factory=lambda: dict(BENCH_SHOP), description="the base shop of every design (SyntheticShopConfig fields)"
    )
    designs: list[ShopDesign] = Field(default_factory=default_designs, min_length=1)
    estimators: list[EstimatorName] | None = Field(None, description="the estimators the bench fits (null: the config's)")

    def seeds(self, split: str) -> list[int]:
        """The seeds a design of ``split`` runs on."""
        by_split: dict[str, list[int]] = {
            DEVELOPMENT: self.development_seeds, HELD_OUT: self.held_out_seeds, SEALED: self.sealed_seeds, SEALED_2: self.sealed_2_seeds,
            SEALED_3: self.sealed_3_seeds, SEALED_4: self.sealed_4_seeds,
        }
        return by_split[split]


class PricingConfig(PricingSettings):
    """``configs/pricing.yaml``: the fit's settings and the bench's design family."""

    default_file: ClassVar[str] = "pricing.yaml"
    bench: BenchSettings = Field(default_factory=BenchSettings)


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
        table = run.elasticities
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
            min_improvement=config.min_improvement, rescore=lambda champion: rescore_saved(champion, run), refresh_ties=True,
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
