"""The pricing pipeline on a small synthetic shop with a temporary MLflow store: it logs, registers,
gates, saves a model folder the optimizer reloads, and the benchmark writes the contract's JSON."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from engine.data.synthetic import SyntheticShopConfig, generate_shop
from engine.errors import EngineError, ModelFormatError
from engine.pricing.bias_bound import critical_value
from engine.pricing.guardrails import UNKNOWN_PRODUCT
from engine.pricing.optimizer import PriceOptimizer
from training import tracking
from training.cli import app
from training.pricing import (
    MODEL_NAME,
    PRIMARY_METRIC,
    PricingConfig,
    fit_pricing,
    saved_estimator,
    train_pricing,
)
from training.pricing_bench import bench_synthetic

SMALL_SHOP = dict(n_customers=600, n_products=24, n_categories=3, n_weeks=60, acquisition_weeks=6, basket_units=25)
FAST = dict(
    holdout_weeks=8,
    min_weeks=10,
    estimators=["naive", "fixed_effects", "dml_iv"],
    dml={"n_folds": 3, "n_estimators": 60},
    demand_curves=2,
)


@pytest.fixture(scope="module")
def shop():
    return generate_shop(SyntheticShopConfig(seed=2, **SMALL_SHOP))


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tracking.configure(f"sqlite:///{tmp_path}/mlflow.db")
    return tmp_path


@pytest.mark.slow  # whole pipeline with MLflow
def test_train_logs_registers_gates_and_saves(store, shop):
    config = PricingConfig(**FAST)
    summary = train_pricing(shop, config, store / "out")
    forecast = {name: scores[PRIMARY_METRIC] for name, scores in summary["scores"].items()}
    candidates = summary["choice"]["candidates"]  # the chosen passes, or none does and it is the closest
    passing = [name for name, row in candidates.items() if row["passes"]]
    closest = max(candidates, key=lambda name: candidates[name]["p_value"])
    assert summary["chosen"] in passing or (not passing and summary["chosen"] == closest)
    assert summary["registered_version"] == "1"
    assert summary["why"].startswith(f"{summary['chosen']}: ") and set(forecast) == set(summary["choice"]["candidates"])
    assert set(summary["first_stage_f"]) == set(shop.products["category"])
    assert summary["gate"]["promoted"] and tracking.champion_version(MODEL_NAME) == "1"
    assert set(summary["scores"]) == {"naive", "fixed_effects", "dml_iv"}
    assert all(0 <= scores["cf_wmape"] < 1 for scores in summary["scores"].values())  # truth-based, synthetic
    for name in ("scores", "elasticities", "quotes", "cross_price", "segment_offers", "summary"):
        assert (store / "out" / f"{name}.{'json' if name == 'summary' else 'csv'}").is_file()

    run = mlflow.search_runs(experiment_names=["pricing"], output_format="list")[0]
    assert run.data.metrics[PRIMARY_METRIC] == pytest.approx(summary["validation"][PRIMARY_METRIC])
    assert "naive.cf_wmape" in run.data.metrics and run.data.tags["chosen_estimator"] == summary["chosen"]
    assert run.data.params["chosen_why"] == summary["why"] and any(k.startswith("first_stage_f.") for k in run.data.metrics)
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "plots")}
    assert any(path.startswith("plots/demand_curve_") for path in artifacts)
    assert "plots/elasticities_vs_truth.png" in artifacts

    champion = PriceOptimizer.load(tracking.download_champion(MODEL_NAME, destination=store / "champion"))
    product = shop.products["product_id"].iloc[0]
    quote = champion.quote(product)
    assert quote.price is not None and quote.model_version.startswith(f"{summary['chosen']}-")
    assert champion.quote("no-such-product").reason == UNKNOWN_PRODUCT

    again = train_pricing(shop, config, store / "again")  # same data, same score: not better
    assert not again["gate"]["promoted"] and tracking.champion_version(MODEL_NAME) == "1"


@pytest.mark.slow  # whole pipeline with MLflow
def test_gate_rescores_the_champion_on_grown_data(store, shop):
    """A champion trained on other data (another fingerprint) is refitted and scored on this run's weeks,
    so the gate compares both estimators on the same holdout, not against the champion's recorded value."""
    light = {**FAST, "estimators": ["naive", "fixed_effects"], "segment_offers": "none", "demand_curves": 0}
    first = train_pricing(shop, PricingConfig(**light, chosen="fixed_effects"), store / "first")
    assert first["gate"]["promoted"] and first["chosen"] == "fixed_effects"

    other = generate_shop(SyntheticShopConfig(seed=5, **SMALL_SHOP))
    assert other.fingerprint() != shop.fingerprint()
    second = train_pricing(other, PricingConfig(**light, chosen="naive"), store / "second")
    gate = second["gate"]
    run = mlflow.search_runs(experiment_names=["pricing"], order_by=["start_time DESC"], output_format="list")[0]
    # the champion (fixed_effects) re-scored here equals fixed_effects fitted and scored in this very run
    rescored = run.data.metrics[f"fixed_effects.{PRIMARY_METRIC}"]
    assert "re-scored on this run's evaluation data" in gate["reason"] and gate["champion_version"] == "1"
    assert gate["champion"] == pytest.approx(rescored, rel=1e-9)
    assert gate["champion"] != pytest.approx(first["validation"][PRIMARY_METRIC], rel=1e-6)
    assert gate["promoted"] == (second["validation"][PRIMARY_METRIC] < rescored)
    written = json.loads((store / "second" / "summary.json").read_text())["gate"]
    assert written["reason"] == gate["reason"] and f"{rescored:.4f}" in written["reason"]


@pytest.mark.slow  # whole pipeline with MLflow, three times
def test_the_champions_own_configuration_refitted_on_newer_data_replaces_it(store, shop):
    """Re-scoring refits the champion's configuration on this run's weeks, so a retrain of that same
    configuration on grown data always ties: it takes the alias as a refresh (else the served fit stays
    stale for ever), while on the very same data a tie is still refused."""
    light = {**FAST, "estimators": ["naive", "fixed_effects"], "segment_offers": "none", "demand_curves": 0, "chosen": "fixed_effects"}
    assert train_pricing(shop, PricingConfig(**light), store / "first")["gate"]["promoted"]
    grown = generate_shop(SyntheticShopConfig(seed=6, **SMALL_SHOP))

    refresh = train_pricing(grown, PricingConfig(**light), store / "grown")["gate"]
    assert refresh["promoted"] and "ties champion v1" in refresh["reason"] and "a refresh" in refresh["reason"]
    same = train_pricing(grown, PricingConfig(**light), store / "same")["gate"]
    assert not same["promoted"] and "does not beat champion v2" in same["reason"]
    assert tracking.champion_version(MODEL_NAME) == "2"


def test_saved_estimator_refuses_what_this_engine_cannot_rebuild(store, shop):
    run = fit_pricing(shop, PricingConfig(**{**FAST, "estimators": ["naive"], "segment_offers": "none"}))
    folder = run.optimizer.save(store / "model", extra={"estimator": "naive", "estimator_params": run.final.get_params()})
    assert saved_estimator(folder).get_params() == run.final.get_params()
    run.optimizer.save(store / "unknown", extra={"estimator": "prophet", "estimator_params": {}})
    with pytest.raises(ModelFormatError, match="prophet"):
        saved_estimator(store / "unknown")
    run.optimizer.save(store / "typo", extra={"estimator": "naive", "estimator_params": {"poolin": True}})
    with pytest.raises(ModelFormatError, match="poolin"):
        saved_estimator(store / "typo")


@pytest.mark.slow  # the whole pricing pipeline with MLflow
def test_data_without_costs_gets_assumed_costs_and_plain_dml(shop):
    no_cost = shop.__class__(
        **{**shop.__dict__, "transactions": shop.transactions.drop(columns=["unit_cost"]), "products": shop.products.drop(columns=["unit_cost"])}
    )
    with_dml = {**FAST, "estimators": ["naive", "dml", "dml_iv"], "segment_offers": "none"}
    run = fit_pricing(no_cost, PricingConfig(**with_dml))
    assert "reference: dml in" in run.why and "dml_iv skipped" in run.notes[0]  # no instrument, no fixed effects fitted
    assert run.choice is not None and run.choice.candidates.loc[run.chosen, "passes"]
    assert run.optimizer.facts_["cost_assumed"].all()
    assert all("assumed_cost" in q.flags for q in (run.optimizer.quote(p) for p in run.optimizer.facts_.index))
    strict = fit_pricing(no_cost, PricingConfig(**{**with_dml, "assumed_cost_share": None}))
    assert set(strict.optimizer.quote_all()["reason"]) == {"no_cost"}


TINY_FAMILY = [
    {"name": "tiny", "split": "development", "description": "the small shop"},
    {"name": "tiny_held_out", "split": "held_out", "shop": {"confounded": False, "elasticity_spread": 0.1}},
]


@pytest.mark.slow  # the whole pricing bench
def test_bench_writes_the_contract(tmp_path):
    bench = {"development_seeds": [4], "held_out_seeds": [5], "shop": SMALL_SHOP, "designs": TINY_FAMILY}
    result = bench_synthetic(PricingConfig(**{**FAST, "bench": bench}))
    assert result["seeds"] == [4, 5] and result["split"]["held_out_designs"] == ["tiny_held_out"]
    names = [e["name"] for e in result["estimators"]]
    assert names == ["naive", "fixed_effects", "dml_iv"]
    for entry in result["estimators"]:
        assert {"cf_wmape_confounded", "cf_wmape_unconfounded", "forecast_wmape", "elasticity_mae", "coverage_95"} <= set(entry)
    assert {"profit_ratio_to_oracle", "profit_ratio_to_current", "guardrail_violations"} <= set(result["optimizer"])
    assert result["optimizer"]["guardrail_violations"] == 0
    for design, split, seed in zip(result["designs"], ("development", "held_out"), (4, 5)):
        assert design["split"] == split and design["seeds"] == [seed] and design["chosen"] in names
        assert design["why"].startswith(design["chosen"]) and design["best_available"] in names
        assert 0 <= design["coverage_95"] <= 1 and design["median_abs_error"] > 0 and design["violations"] == 0
        assert design["median_abs_error_se"] is None  # one seed: no standard error
        chosen = design["estimators"][design["chosen"]]["elasticity_median_ae"]
        assert design["median_abs_error"] == pytest.approx(chosen)
    assert set(result["targets"]) == {"targets", "development", "held_out"}
    with pytest.raises(EngineError, match="unknown design"):
        bench_synthetic(PricingConfig(**{**FAST, "bench": bench}), designs=["nope"])
    with pytest.raises(EngineError, match="unknown split"):
        bench_synthetic(PricingConfig(**{**FAST, "bench": bench}), splits=["test"])
    with pytest.raises(EngineError, match="no design"):
        bench_synthetic(PricingConfig(**{**FAST, "bench": bench}), splits=["sealed"])


def test_the_optimizer_decides_with_the_bias_aware_intervals(shop):
    run = fit_pricing(shop, PricingConfig(**{**FAST, "segment_offers": "none"}), complete=False)
    own = run.estimators[run.chosen].elasticity_table()
    assert run.bias_bound is not None and set(run.bias_bound.index) == set(own["category"])
    bound = own["category"].map(run.bias_bound)
    np.testing.assert_allclose(run.elasticities["se"], critical_value(bound / own["se"]) * own["se"] / 1.959963984540054)
    quoted = run.optimizer.elasticities_
    np.testing.assert_allclose(quoted["se"], run.elasticities.loc[quoted.index, "se"])
    row = run.scores.loc[run.chosen]
    assert row["coverage_95_bias_aware"] >= row["coverage_95"] and row["interval_width_bias_aware"] >= row["interval_width"]
    assert any(note.startswith("bias-aware intervals:") for note in run.notes)


def test_the_config_file_lists_the_drawn_sealed_3_designs():
    from engine.pricing.designs import SEALED_3, drawn_designs
    from training.config import load_config

    listed = [d for d in load_config("configs/pricing.yaml", PricingConfig).bench.designs if d.split == SEALED_3]
    as_shops = lambda designs: [(d.name, d.shop_config(600).model_dump()) for d in designs]  # noqa: E731
    assert as_shops(listed) == as_shops(drawn_designs())


def test_the_config_file_lists_the_drawn_sealed_4_designs():
    from engine.pricing.designs import SEALED_4, drawn_designs
    from training.config import load_config

    listed = [d for d in load_config("configs/pricing.yaml", PricingConfig).bench.designs if d.split == SEALED_4]
    as_shops = lambda designs: [(d.name, d.shop_config(700).model_dump()) for d in designs]  # noqa: E731
    assert as_shops(listed) == as_shops(drawn_designs(SEALED_4, seed=700)) and len(listed) == 5


def test_partly_missing_costs_stay_missing_and_are_never_dropped(shop):
    products = shop.transactions["product_id"].unique()
    costs = shop.transactions["unit_cost"].where(shop.transactions["product_id"] != products[0])
    # the products file's cost would fill the gap: that product has none there either
    listed = shop.products.assign(unit_cost=shop.products["unit_cost"].where(shop.products["product_id"] != products[0]))
    partial = shop.__class__(**{**shop.__dict__, "transactions": shop.transactions.assign(unit_cost=costs), "products": listed})
    run = fit_pricing(partial, PricingConfig(**{**FAST, "segment_offers": "none"}), complete=False)
    assert products[0] in run.estimators["dml_iv"].elasticity_table().index  # every product of the shop is selected
    assert run.optimizer.quote(products[0]).reason == "no_cost"
    assert not run.optimizer.facts_["cost_assumed"].any()


@pytest.mark.slow  # the whole pricing bench through the CLI
def test_cli_bench_with_a_config_file(tmp_path):
    config = tmp_path / "pricing.yaml"
    bench = {"development_seeds": [1], "held_out_seeds": [1], "shop": SMALL_SHOP, "designs": TINY_FAMILY[:1]}
    config.write_text(yaml.safe_dump({**FAST, "estimators": ["naive", "dml_iv"], "bench": bench}))
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(app, ["bench", "pricing", "--data", "synthetic", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert [e["name"] for e in written["estimators"]] == ["naive", "dml_iv"] and written["seeds"] == [1]
    config.write_text("estimators: [naive]\nholdout_weeks: 8\nholdout_week: 3\n")
    typo = CliRunner().invoke(app, ["bench", "pricing", "--config", str(config), "--out", str(out)])
    assert typo.exit_code == 2 and "holdout_week" in typo.stderr


def test_a_chosen_estimator_set_in_the_config_is_kept_and_checked(shop):
    run = fit_pricing(shop, PricingConfig(**{**FAST, "chosen": "naive", "segment_offers": "none"}), complete=False)
    assert run.chosen == "naive" and "set in the config" in run.why and run.choice is None
    from training.pricing import choose_estimator

    scores = run.scores.drop(index="dml_iv")
    estimators = {name: est for name, est in run.estimators.items() if name != "dml_iv"}
    with pytest.raises(EngineError, match="needs the instruments"):
        choose_estimator(PricingConfig(chosen="dml_iv"), scores, estimators, None)
