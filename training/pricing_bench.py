"""``crm bench pricing``: every estimator on the family of synthetic shop designs
(:mod:`engine.pricing.designs`; development, held-out and sealed designs, each on the seeds of its split),
the chosen estimator's optimizer simulated against the guardrail-constrained oracle, and the sign
accuracy on a real shop (e.g. Complete Journey). Writes the JSON contract the README quotes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from engine.data.dataset import ShopData
from engine.errors import EngineError
from engine.pricing import panel as P
from engine.pricing.designs import SPLITS, ShopDesign
from engine.pricing.fit import choice_evidence, fit_pricing, summarize_elasticities
from training.pricing import PricingConfig

TARGETS = {
    "median_abs_elasticity_error_at_most": 0.25,  # in every design, for the chosen estimator
    "error_vs_best_available_at_most": 1.1,  # chosen / best of naive, fixed_effects, dml, dml_iv
    "coverage_95_at_least": 0.90,
    "profit_ratio_to_oracle_at_least": 0.97,
    "sign_accuracy_at_least": 0.95,
}
COMPARED = ("naive", "fixed_effects", "dml", "dml_iv")  # "the best available" of the targets
ORACLE = (
    "the best prices the same guardrails allow under each week's true demand, own- and cross-price effects and true "
    "costs included, set jointly per category (engine.pricing.oracle.joint_oracle_prices); "
    "profit_ratio_to_informed_optimizer: against the optimizer fed the true elasticities"
)


def _mean_se(values: pd.Series) -> tuple[float, float | None]:
    """Mean over seeds and its standard error (None with one seed)."""
    values = values.astype(float)
    se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else None
    return float(values.mean()), se


def _design_summary(design: ShopDesign, scores: pd.DataFrame, optimizer: pd.DataFrame) -> dict[str, Any]:
    """One design's entry of the bench JSON: the chosen estimator's figures over its seeds (mean and
    standard error; coverage and width of the bias-aware intervals the optimizer uses, and of the
    estimator's own as ``*_unwidened``), the best available estimator by true error, and the target checks."""
    chosen_rows = scores.loc[scores["chosen"]]
    error, error_se = _mean_se(chosen_rows["elasticity_median_ae"])
    aware = "coverage_95_bias_aware" in chosen_rows and chosen_rows["coverage_95_bias_aware"].notna().all()
    coverage, coverage_se = _mean_se(chosen_rows["coverage_95_bias_aware" if aware else "coverage_95"])
    width = chosen_rows["interval_width_bias_aware" if aware else "interval_width"]
    profit, profit_se = _mean_se(optimizer["profit_ratio_to_oracle"])
    by_estimator = scores.groupby("estimator", sort=False)[
        ["elasticity_median_ae", "coverage_95", "interval_width", "forecast_wmape", "cf_wmape"]
    ].mean()
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
        "interval_width": float(width.mean()),
        "coverage_95_unwidened": float(chosen_rows["coverage_95"].mean()),
        "interval_width_unwidened": float(chosen_rows["interval_width"].mean()),
        "best_available": best,
        "best_available_error": float(compared.min()) if best else None,
        "error_vs_best": error / float(compared.min()) if best else None,
        "profit_vs_constrained_oracle": profit,
        "profit_vs_constrained_oracle_se": profit_se,
        "violations": violations,
        **{name: float(optimizer[name].mean()) for name in ("cross_median_abs_error", "cross_bias", "cross_related_share")},
        "cross_wrong_sign": float(optimizer["cross_wrong_sign"].sum()),
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


def select_designs(family: list[ShopDesign], designs: list[str] | None, splits: list[str] | None) -> list[ShopDesign]:
    """The designs of ``family`` named in ``designs`` and of the ``splits`` (each None: all); an unknown
    name or split, or an empty selection, is an error naming it."""
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
    return family


def _run_design(config: PricingConfig, design: ShopDesign, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One design on one seed: every estimator's scores (one row each) and the chosen estimator's
    optimizer simulated against the oracle."""
    from engine.data.synthetic import generate_shop
    from engine.pricing.simulate import compare_policies

    shop = generate_shop(design.shop_config(seed, config.bench.shop))
    fitted = config.bench.estimators or config.estimators
    run = fit_pricing(shop, config.model_copy(update={"seed": seed, "estimators": fitted}), complete=False)
    scored = [
        {"design": design.name, "split": design.split, "confounded": shop.truth.config.confounded,
         "seed": seed, "estimator": name, "chosen": name == run.chosen, **score.to_dict()}
        for name, score in run.scores.iterrows()
    ]
    weeks = sorted(run.holdout[P.WEEK].unique())
    first_stage = run.first_stage_f.min() if run.first_stage_f is not None and len(run.first_stage_f) else np.nan
    simulated = {
        "design": design.name, "split": design.split, "seed": seed, "chosen": run.chosen, "why": run.why,
        "first_stage_f_min": first_stage, "notes": run.notes, "evidence": choice_evidence(run.choice),
        **compare_policies(run.optimizer, shop.truth, weeks),
        **cross_price_scores(run.cross_price, shop.truth.cross_elasticity),
    }
    return scored, simulated


def cross_price_scores(table: pd.DataFrame | None, truth: pd.Series) -> dict[str, float]:
    """The cross-price estimates of one run against the true per-category cross elasticities: median
    absolute error, mean error (bias), the share of categories called related (what the optimizer acts
    on) and the number called related with the sign opposite to the truth."""
    if table is None or table.empty:
        return {"cross_median_abs_error": np.nan, "cross_bias": np.nan, "cross_related_share": np.nan, "cross_wrong_sign": np.nan}
    error = (table["cross_elasticity"] - truth.reindex(table.index)).dropna()
    related = table["relation"].isin(("substitutes", "complements"))
    wrong = related & (np.sign(table["cross_elasticity"]) == -np.sign(truth.reindex(table.index)))
    return {
        "cross_median_abs_error": float(error.abs().median()), "cross_bias": float(error.mean()),
        "cross_related_share": float(related.mean()), "cross_wrong_sign": float(wrong.sum()),
    }


def bench_synthetic(
    config: PricingConfig, progress: Callable[[str], None] | None = None, designs: list[str] | None = None,
    splits: list[str] | None = None,
) -> dict[str, Any]:
    """Every estimator on every design of the family (``config.bench``; ``designs`` names a subset),
    each design on the seeds of its split; the chosen estimator's optimizer simulated forward against
    the oracle and current prices. Per design: the chosen estimator, why, its elasticity error and
    interval coverage, the best available estimator, profit against the oracle, guardrail violations.
    ``splits`` keeps the designs of those splits only (a development loop runs ``["development"]``)."""
    family = select_designs(config.bench.designs, designs, splits)
    rows, optimizer_rows, entries = [], [], []
    for design in family:
        design_rows, design_optimizer = [], []
        for seed in config.bench.seeds(design.split):
            if progress:
                progress(f"{design.split} design {design.name}, seed {seed}")
            scored, simulated = _run_design(config, design, seed)
            design_rows += scored
            design_optimizer.append(simulated)
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
            **{f"{split}_designs": [d.name for d in family if d.split == split] for split in SPLITS},
            **{f"{split}_seeds": config.bench.seeds(split) for split in SPLITS},
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
    table = run.elasticities
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
