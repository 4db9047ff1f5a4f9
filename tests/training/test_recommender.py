"""The recommender pipeline end to end on a small planted shop, with a temporary MLflow store."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from engine.data.dataset import ShopData
from engine.errors import EngineError
from engine.recommend.registry import load_recommender, make_recommender
from tests.engine.recommend.conftest import planted_shop
from training import tracking
from training.recommender import MODEL_NAME, RecommenderConfig, add_latency, load_config, run_experiment, train


def _config(**overrides) -> RecommenderConfig:
    settings = {
        "k": 5,
        "time": {"holdout_days": 40, "validation_days": 40, "min_item_buyers": 1},
        "candidates": {"ease": [{"regularization": 10.0}], "als": [{"factors": 8, "iterations": 5, "num_threads": 1}]},
        "buy_again_half_lives": [30.0, None],
        "blend_weights": [0.1, 0.5],
        "latency_calls": 10,
    }
    return RecommenderConfig.model_validate({**settings, **overrides})


@pytest.fixture(scope="module")
def shop() -> ShopData:
    return ShopData(planted_shop(seed=1), source="planted")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tracking.configure(f"sqlite:///{tmp_path}/mlflow.db")
    return tmp_path


def test_train_logs_registers_and_the_gate_refuses_a_worse_model(shop, store):
    first = train(shop, _config(), store / "first")
    assert first.decision.promoted and first.decision.reason == "no champion yet"
    experiment = first.experiment
    assert experiment.chosen_name == "blend"
    discovery = experiment.primary_value()
    assert discovery > 2 * experiment.result("popularity", "discovery").metrics["ndcg@5"]
    run = mlflow.get_run(first.run_id)
    assert run.data.tags["data.fingerprint"] == shop.fingerprint()
    assert "blend.discovery.ndcg_at_5" in run.data.metrics and "popularity.repeat.ndcg_at_5" in run.data.metrics
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(first.run_id, "plots")}
    assert artifacts == {"plots/test_metrics.png", "plots/validation_search.png"}
    # served: the chosen configuration refitted on every line, not the model fitted before the test window
    saved = load_recommender(first.model_dir)
    assert saved.spec() == experiment.chosen.spec()
    assert saved.as_of_ == shop.transactions["timestamp"].max().normalize() + pd.Timedelta(days=1)
    assert experiment.chosen.as_of_ == experiment.protocol.test.as_of < saved.as_of_
    assert saved.history_.sum() > experiment.chosen.history_.sum()  # the test window's purchases count
    refit = make_recommender(**experiment.chosen.spec()).fit(shop.transactions)
    customer = saved.customers_.external_ids[0]
    assert saved.recommend([customer])[0].item_ids == refit.recommend([customer])[0].item_ids
    manifest = json.loads((first.model_dir / "manifest.json").read_text())
    assert manifest["evaluated_as_of"] == str(experiment.protocol.test.as_of.date())
    assert json.loads((store / "first" / "results.json").read_text())["served_model"]["as_of"] == str(saved.as_of_.date())

    worse = _config(candidates={"item_knn": [{"neighbours": 1, "similarity": "dot", "weighting": "binary"}]})
    second = train(shop, worse, store / "second")
    assert second.experiment.primary_value() < discovery
    assert not second.decision.promoted and "does not beat" in second.decision.reason
    assert tracking.champion_version(MODEL_NAME) == first.decision.version
    written = json.loads((store / "second" / "results.json").read_text())
    assert written["gate"]["promoted"] is False
    assert "re-scored on this run's evaluation data" in second.decision.reason

    # grown data (another fingerprint): the champion is re-scored on the new test window
    grown = ShopData(planted_shop(seed=2), source="planted")
    third = train(grown, _config(), store / "third")
    assert third.decision.champion == pytest.approx(third.experiment.rescore(first.model_dir))


def test_bench_payload_follows_the_contract(shop):
    experiment = run_experiment(shop, _config(), all_models=True)
    add_latency(experiment)
    payload = experiment.payload()
    assert payload["dataset"] == "planted" and payload["protocol"] == "time"
    models = {row["model"] for row in payload["results"]}
    assert {"popularity", "segment_popularity", "buy_again", "ease", "als", "blend"} <= models
    for row in payload["results"]:
        assert row["task"] in ("discovery", "repeat")
        assert set(row["metrics"]) == {f"{m}@5" for m in ("ndcg", "precision", "recall", "map", "hit_rate", "coverage")}
        assert row["n_customers"] > 0 and row["fit_seconds"] > 0
        assert 0 < row["recommend_p50_ms"] <= row["recommend_p99_ms"] and row["batch_customers_per_second"] > 0


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="factorz"):
        _config(candidates={"als": [{"factorz": 8}]})
    with pytest.raises(ValueError, match="popularity"):
        _config(candidates={"popularity": [{}]})
    path = tmp_path / "bad.yaml"
    path.write_text("k: 10\ncandidates: {ease: [{}]}\nholdout_days: 3\n")
    with pytest.raises(EngineError, match="holdout_days"):
        load_config(path)
    assert load_config().candidates  # the shipped config is valid
