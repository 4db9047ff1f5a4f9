"""The recommender pipeline end to end on a small planted shop, with a temporary MLflow store."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.errors import EngineError
from engine.recommend.evaluation import evaluate_model
from engine.recommend.registry import load_recommender, make_recommender
from tests.engine.recommend.conftest import planted_shop
from training import recommender as recommender_module
from training import tracking
from training.recommender import (
    MODEL_NAME,
    RecommenderConfig,
    TimeProtocol,
    _canonical,
    add_latency,
    cuts_payload,
    gate_on_baselines,
    load_config,
    read_search_record,
    run_cuts,
    run_experiment,
    train,
)
from training.recommender_gate import refit_to_serve
from training.recommender_protocol import build_protocol, fitted_lines


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


@pytest.mark.slow  # whole pipeline with MLflow
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
    # served: the configuration that passed the baseline gate refitted on every line, not the model
    # fitted before the test window
    saved = load_recommender(first.model_dir)
    assert saved.spec() == first.baselines.served
    assert saved.as_of_ == shop.transactions["timestamp"].max().normalize() + pd.Timedelta(days=1)
    assert experiment.chosen.as_of_ == experiment.protocol.test.as_of < saved.as_of_
    assert saved.history_.sum() > experiment.chosen.history_.sum()  # the test window's purchases count
    refit = make_recommender(**first.baselines.served).fit(shop.transactions)
    customer = saved.customers_.external_ids[0]
    assert saved.recommend([customer])[0].item_ids == refit.recommend([customer])[0].item_ids
    manifest = json.loads((first.model_dir / "manifest.json").read_text())
    assert manifest["evaluated_as_of"] == str(experiment.protocol.test.as_of.date())
    assert manifest["baseline_gate"] == first.baselines.replaced  # why a part was replaced, if one was
    assert json.loads((store / "first" / "results.json").read_text())["baseline_gate"]["served"] == saved.spec()
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


@pytest.mark.slow  # the whole recommender bench
def test_bench_payload_follows_the_contract(shop):
    config = _config(
        time={"holdout_days": 30, "validation_days": 30, "min_item_buyers": 1, "cuts": 3, "cut_step_days": 20},
        repeat_rankers=[{"label_days": 30, "n_estimators": 10, "min_child_samples": 5}],
    )
    experiments = run_cuts(shop, config)
    add_latency(experiments[0])
    payload = cuts_payload(experiments)
    assert payload["dataset"] == "planted" and payload["protocol"] == "time"
    end = shop.transactions["timestamp"].max().normalize() + pd.Timedelta(days=1)
    expected = [end - pd.Timedelta(days=30 + 20 * cut) for cut in range(3)]
    assert [cut["cut"] for cut in payload["cuts"]] == [str(day.date()) for day in expected]
    models = {row["model"] for row in payload["results"]}
    assert {"popularity", "popularity_buyers", "segment_popularity", "buy_again", "repeat_ranker", "ease", "als", "blend"} <= models
    for row in payload["results"]:
        assert row["task"] in ("discovery", "repeat")
        assert set(row["metrics"]) == {f"{m}@5" for m in ("ndcg", "precision", "recall", "map", "hit_rate", "coverage")}
        assert row["n_customers"] > 0 and row["standard_error"] > 0
        assert row["fit_seconds"] is None or row["fit_seconds"] > 0
        assert 0 < row["recommend_p50_ms"] <= row["recommend_p99_ms"] and row["batch_customers_per_second"] > 0
    # buy-again sees every item (the collaborative catalogue rule is not its handicap)
    assert payload["chosen"]["spec"]["params"]["buy_again"]["params"]["min_item_buyers"] == 1
    for cut in payload["cuts"]:
        rows = {(row["model"], row["task"]): row for row in cut["results"]}
        versus = rows[("blend", "discovery")]["versus_best_baseline"]
        best = max((rows[(name, "discovery")]["metrics"]["ndcg@5"], name) for name in
                   ("popularity", "popularity_buyers", "segment_popularity", "buy_again"))
        assert (versus["value"], versus["model"]) == best
        assert versus["gap_in_se"] == pytest.approx(versus["gap"] / versus["gap_se"])
        assert versus["gap"] == pytest.approx(rows[("blend", "discovery")]["metrics"]["ndcg@5"] - best[0])
        assert "versus_best_baseline" not in rows[("buy_again", "repeat")]
    summary = {(row["model"], row["task"]): row for row in payload["summary"]}
    blend = summary[("blend", "discovery")]
    assert blend["cuts"] == 3 and len(blend["versus_best_baseline"]["gap_in_se"]) == 3
    values = [next(r for r in c["results"] if (r["model"], r["task"]) == ("blend", "discovery"))["metrics"]["ndcg@5"]
              for c in payload["cuts"]]
    assert blend["ndcg@5"] == pytest.approx(sum(values) / 3)


@pytest.mark.slow  # two pipeline runs with MLflow
def test_a_reused_search_is_refitted_gated_and_refreshes_a_champion_of_its_own_configuration(shop, store, monkeypatch):
    first = train(shop, _config(), store / "first")
    record = read_search_record(store / "first" / "results.json")
    assert record["searched"]["data_end"] == str(shop.transactions["timestamp"].max().date())

    def no_search(*args, **kwargs):
        raise AssertionError("a reused search must not search the validation window")

    monkeypatch.setattr(recommender_module, "choose_on_validation", no_search)
    # other data (another fingerprint) that the recommenders read the same way: the discounts changed
    other = ShopData(shop.transactions.assign(discount=0.5), source="planted")
    assert other.fingerprint() != shop.fingerprint()
    second = train(other, _config(), store / "second", reuse=record)
    assert second.experiment.reused and second.experiment.search == []
    assert second.experiment.chosen.spec() == first.experiment.chosen.spec()
    assert second.baselines.served == first.baselines.served  # gated on its baselines again, the same way
    # the champion's configuration refitted on this test window scores the same; it was fitted on other
    # data, so the tie promotes the refit (a refresh)
    assert second.decision.champion == second.decision.challenger
    assert second.decision.promoted and "refresh" in second.decision.reason
    written = json.loads((store / "second" / "results.json").read_text())
    assert written["search"] == "reused" and written["search_record"]["searched"] == record["searched"]
    with pytest.raises(EngineError, match="--reuse-search: that search ran under another recommender config"):
        run_experiment(shop, _config(k=3), reuse=record)


def test_the_baseline_gate_serves_the_baseline_where_the_model_loses(shop):
    # a collaborative model that knows nothing (one neighbour, binary) against honest baselines
    weak = _config(candidates={"item_knn": [{"neighbours": 1, "similarity": "dot", "weighting": "binary"}]},
                   blend_weights=[1.0], min_evaluated_customers=10_000)
    experiment = run_experiment(shop, weak)
    gate = gate_on_baselines(experiment)
    lost = {task for task in ("discovery", "repeat") if experiment.result("blend", task).versus["gap"] <= 0}
    assert lost, "the weak model was expected to lose a task"
    assert len(gate.replaced) == len(lost) and all("does not beat the baseline" in r for r in gate.replaced)
    # the served configuration answers each lost task as well as that task's best baseline
    test = experiment.protocol.test
    served = make_recommender(**gate.served).fit(test.fit, as_of=test.as_of)
    for task in lost:
        score = evaluate_model(served, test.relevant[task], k=5, task=task)["ndcg@5"]
        assert score == pytest.approx(experiment.result("blend", task).versus["value"], abs=0.005)
    assert gate.value > experiment.primary_value()
    assert any(w.startswith("small sample: discovery") for w in gate.warnings)
    strong = gate_on_baselines(run_experiment(shop, _config()))
    assert strong.served["kind"] == "blend" and not any(r.startswith("discovery") for r in strong.replaced)


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


def test_the_catalogue_threshold_is_a_count_or_a_share_of_customers_whichever_is_larger():
    time_protocol = TimeProtocol(min_item_buyers=10, min_item_buyer_share=0.004)
    # Complete Journey's 2,469 households: the count; replicated k times: k times the count, so an item
    # bought by b households enters at every size exactly when b >= 10
    assert [time_protocol.catalogue_threshold(2469 * k) for k in (1, 2, 4, 10)] == [10, 20, 40, 99]
    assert time_protocol.catalogue_threshold(2500) == 10  # 0.004 x 2500 is 10, not 10.000000000000002
    assert TimeProtocol(min_item_buyers=10, min_item_buyer_share=0.0).catalogue_threshold(10**6) == 10


def test_a_candidate_the_history_cannot_support_is_skipped_not_fatal(shop):
    # a discovery ranker whose two label windows need more history than the validation window has
    # (Complete Journey before 2017-07-24 failed this way): the search goes on without it, and says so
    config = _config(candidates={"ease": [{"regularization": 10.0}],
                                 "discovery_ranker": [{"label_days": 400, "label_windows": 2}]})
    said: list[str] = []
    experiment = run_experiment(shop, config, progress=said.append)
    assert any("discovery_ranker" in line and "skipped" in line for line in said)
    assert experiment.choices.winner.kind == "ease"
    with pytest.raises(EngineError, match="no collaborative candidate could be fitted"):
        run_experiment(shop, _config(candidates={"discovery_ranker": [{"label_days": 400}]}))


def test_every_fit_of_a_run_sees_the_products_categories_and_a_shop_without_them_its_own_lines(shop):
    assert fitted_lines(shop) is shop.transactions
    items = shop.transactions[Columns.item].unique()
    products = pd.DataFrame({Columns.item: items, Columns.category: [item[0] for item in items]})
    with_products = ShopData(shop.transactions, shop.source, products=products)
    protocol = build_protocol(with_products, _config())
    for window in (protocol.validation, protocol.test):
        assert window.fit[Columns.category].notna().all()
    served = refit_to_serve({"kind": "repeat_ranker", "params": {"label_days": 28, "n_estimators": 5}}, with_products)
    assert served.recency_.nnz  # the served refit goes through the same lines


def test_a_champion_fitted_on_other_threads_is_the_same_configuration_unless_its_result_depends_on_them():
    def blend(threads: int, collaborative: str = "discovery_ranker") -> dict:
        part = {"kind": collaborative, "params": {"factors": 8, "num_threads": threads}}
        repeat = {"kind": "repeat_ranker", "params": {"label_days": 28, "num_threads": threads}}
        return {"kind": "blend", "params": {"collaborative": part, "buy_again": repeat, "weight": 0.1}}

    assert _canonical(blend(1)) == _canonical(blend(2))  # rankers, ALS, neighbours: the same scores
    assert _canonical(blend(1, "bpr")) != _canonical(blend(2, "bpr"))  # Hogwild: the result depends on them
    assert _canonical(blend(1)) != _canonical({**blend(1), "params": {**blend(1)["params"], "weight": 0.2}})
