"""Recommender pipeline: config -> data -> split -> validation search -> fit -> evaluate against the
baselines -> (train) log to MLflow, register ``crm-recommender``, champion gate; (bench) timings, JSON.

Two protocols:

- ``time`` (shops): the last ``holdout_days`` are the test window; a validation window of
  ``validation_days`` carved from the end of the training period (``TimeSplit.earlier``) chooses the
  hyperparameters, the buy-again half-life and the blend weight. Tasks ``discovery`` and ``repeat``.
- ``classic`` (MovieLens-100k): Microsoft Recommenders' stratified 75/25 split (by item, seeded); a
  second such split of the training part is the validation set. Task ``classic``: all test items are
  relevant, seen items are filtered; customers unknown to training are not evaluated (as there).

The chosen model is the best collaborative model on validation (in a blend with buy-again for the
time protocol, which serves both tasks: in ``discovery`` the blend ranks exactly as its
collaborative part).

The pieces live in their own modules: the config (``recommender_config``), the windows
(``recommender_protocol``), the validation search (``recommender_search``), the baseline gate and the
refit to serve (``recommender_gate``), latency, plots and the bench JSON (``recommender_report``); the
result rows and their comparison with the baselines are pure (``engine.recommend.comparison``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from engine.customers.segments import SegmentRules
from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.errors import EngineError
from engine.io import MANIFEST
from engine.recommend.base import RecommenderModel
from engine.recommend.blend import BlendRecommender
from engine.recommend.bpr import BPRRecommender
from engine.recommend.buy_again import BuyAgainRecommender
from engine.recommend.comparison import ModelResult, compare_to_baselines
from engine.recommend.evaluation import evaluate_model
from engine.recommend.metrics import customer_values, evaluate
from engine.recommend.registry import load_recommender, make_recommender
from engine.recommend.tuning import Trial
from training.recommender_config import RecommenderConfig, TimeProtocol, load_config
from training.recommender_gate import SERVED_REFIT, BaselineGate, gate_on_baselines, refit_to_serve, served_manifest
from training.recommender_protocol import Protocol, build_protocol, cut_label, n_cuts, recommend_task
from training.recommender_report import add_latency, cuts_payload, plot_results, plot_search
from training.recommender_search import (
    SEARCH_RECORD,
    Choices,
    Progress,
    base_params,
    choose_on_validation,
    quiet,
    reused_choices,
    search_record,
)

__all__ = [
    "MODEL_NAME", "Experiment", "RecommenderConfig", "TimeProtocol", "TrainOutcome", "add_latency",
    "cuts_payload", "gate_on_baselines", "load_config", "run_cuts", "run_experiment", "train",
]

MODEL_NAME = "crm-recommender"
EXPERIMENT = "recommender"


@dataclass
class Experiment:
    dataset: str
    protocol: Protocol
    config: RecommenderConfig
    choices: Choices
    chosen: RecommenderModel
    chosen_name: str
    results: list[ModelResult]
    models: dict[str, RecommenderModel]
    searched: dict[str, Any] = field(default_factory=dict)  # where the choices were searched (search_record)
    reused: bool = False  # the choices were an earlier run's (--reuse-search), not searched here

    @property
    def primary_task(self) -> str:
        return "classic" if self.protocol.name == "classic" else "discovery"

    def primary_value(self) -> float:
        return self.result(self.chosen_name, self.primary_task).metrics[self.config.metric()]

    def primary_name(self) -> str:
        """The gate's metric name, e.g. ``discovery.ndcg@10``."""
        return f"{self.primary_task}.{self.config.metric()}"

    def rescore(self, model_dir: Path) -> float:
        """The primary metric of a saved model (the champion) on this run's test window, so that the
        gate compares both models on the same data. A champion refitted on all its data to be served has
        seen that window: its configuration is refitted on this run's training period first."""
        model = load_recommender(model_dir)
        if json.loads((Path(model_dir) / MANIFEST).read_text()).get(SERVED_REFIT):
            test = self.protocol.test
            fitted = self._fitted_on_test(model.spec())
            model = fitted or make_recommender(**model.spec()).fit(test.fit, as_of=test.as_of)
        relevant = self.protocol.test.relevant[self.primary_task]
        metrics = evaluate_model(model, relevant, k=self.config.k, task=recommend_task(self.primary_task))
        return metrics[self.config.metric()]

    def _fitted_on_test(self, spec: dict[str, Any]) -> RecommenderModel | None:
        """A model of this run fitted on the test window's training period with exactly ``spec``, if any:
        refitting the same configuration on the same lines (seeded) gives the same model, so the
        champion's re-score reuses it (a retrain that kept the champion's configuration saves a fit)."""
        wanted = _canonical(spec)
        return next((model for model in self.models.values() if _canonical(model.spec()) == wanted), None)

    def result(self, model: str, task: str) -> ModelResult:
        for row in self.results:
            if row.model == model and row.task == task:
                return row
        raise KeyError(f"no result for {model} on {task}")

    @property
    def search(self) -> list[Trial]:
        return self.choices.search

    @property
    def cut(self) -> str:
        """The cut's label: the test window's first day (time), the split's seed (classic)."""
        return cut_label(self.protocol.description)

    def payload(self) -> dict[str, Any]:
        """The benchmark JSON of this cut (the issue's contract, plus the search and the choices)."""
        choices = self.choices
        return {
            "dataset": self.dataset,
            "search": "reused" if self.reused else "full",
            SEARCH_RECORD: search_record(choices, self.searched),
            "protocol": self.protocol.name,
            "split": self.protocol.description,
            "k": self.config.k,
            "results": [row.as_dict() for row in self.results],
            "chosen": {"model": self.chosen_name, "spec": self.chosen.spec()},
            "validation": {
                "search": [trial.as_dict() for trial in choices.search],
                "buy_again_half_life": [trial.as_dict() for trial in choices.buy_again_search],
                "repeat_ranker": [trial.as_dict() for trial in choices.ranker_search],
                "repeat_blend": {
                    label: {str(w): v for w, v in curve.items()} for label, curve in choices.blend_search.items()
                },
            },
        }


def run_experiment(
    shop: ShopData, config: RecommenderConfig, all_models: bool = False, progress: Progress = quiet,
    reuse: dict[str, Any] | None = None,
) -> Experiment:
    """Search on validation, fit on the training period, evaluate on the test window.

    ``all_models=False`` (train): the baselines, the chosen collaborative model and the blend.
    ``all_models=True`` (bench): also the best configuration of every other collaborative kind, each
    fitted on its own so that its fit time is measured.
    ``reuse``: an earlier run's search record (its ``results.json`` ``search_record``): its choices are
    refitted and evaluated on this data's test window without searching again.
    """
    protocol = build_protocol(shop, config)
    if reuse is None:
        return _run(shop, config, protocol, all_models, progress)
    searched_under = reuse.get("searched", {}).get("config")
    if searched_under != config_digest(config):
        raise EngineError(f"--reuse-search: that search ran under another recommender config ({searched_under}, "
                          f"this run's is {config_digest(config)}): search again")
    choices = reused_choices(reuse)
    progress(f"validation search skipped: reusing the choices searched on data to {reuse['searched'].get('data_end')}")
    results, models, chosen_name = evaluate_on_test(protocol, config, choices, all_models, progress)
    return Experiment(shop.source, protocol, config, choices, models[chosen_name], chosen_name, results, models,
                      searched=reuse["searched"], reused=True)


def read_search_record(path: Path) -> dict[str, Any]:
    """The search record of an earlier run's ``results.json`` (for ``--reuse-search``)."""
    try:
        record = json.loads(Path(path).read_text())[SEARCH_RECORD]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise EngineError(f"--reuse-search: {path} is not the results.json of a crm train recommender run ({error})") from error
    if not isinstance(record, dict):
        raise EngineError(f"--reuse-search: {path} has no search record")
    return record


def config_digest(config: RecommenderConfig) -> str:
    """A short hash of a config's settings: a search is reused only under the config that made it."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


def _canonical(spec: dict[str, Any]) -> str:
    return json.dumps(_thread_free(spec), sort_keys=True, default=str)


def _thread_free(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` without the thread counts that change no fitted value: every kind's but BPR's (whose
    Hogwild updates depend on them), so that a champion fitted on other threads is still reused."""
    params = {
        name: _thread_free(value) if isinstance(value, dict) and "kind" in value else value
        for name, value in spec.get("params", {}).items()
        if name != "num_threads" or spec.get("kind") == BPRRecommender.kind
    }
    return {**spec, "params": params}


def _run(
    shop: ShopData, config: RecommenderConfig, protocol: Protocol, all_models: bool, progress: Progress
) -> Experiment:
    choices = choose_on_validation(protocol, config, progress)
    results, models, chosen_name = evaluate_on_test(protocol, config, choices, all_models, progress)
    searched = {"validation_as_of": protocol.description.get("validation_as_of"), "config": config_digest(config),
                "data_end": str(shop.transactions[Columns.timestamp].max().date()) if protocol.name == "time" else None}
    return Experiment(shop.source, protocol, config, choices, models[chosen_name], chosen_name, results, models, searched)


def run_cuts(
    shop: ShopData, config: RecommenderConfig, all_models: bool = True, progress: Progress = quiet
) -> list[Experiment]:
    """The experiment on every out-of-time cut (latest first), each choosing on its own validation
    window; the fitted models of the earlier cuts are dropped to save memory."""
    experiments = []
    for cut in range(n_cuts(config, shop.source)):
        protocol = build_protocol(shop, config, cut)
        label = cut_label(protocol.description)
        experiment = _run(shop, config, protocol, all_models, lambda message, label=label: progress(f"cut {label}: {message}"))
        if cut:
            experiment.models = {}
        experiments.append(experiment)
    return experiments


def evaluate_on_test(
    protocol: Protocol, config: RecommenderConfig, choices: Choices, all_models: bool, progress: Progress = quiet
) -> tuple[list[ModelResult], dict[str, RecommenderModel], str]:
    """Fit the baselines and the chosen models on the training period, score them on the test window;
    returns the results, the fitted models by name, and the name of the model to serve."""
    test = protocol.test
    catalog = test.fit[Columns.item].nunique()
    results: list[ModelResult] = []
    models: dict[str, RecommenderModel] = {}

    def score(name: str, model: RecommenderModel, fit_seconds: float | None) -> None:
        models[name] = model
        for task in protocol.tasks:
            results.append(_evaluate(name, model, test.relevant[task], task, config, catalog, fit_seconds))

    def fit_and_score(name: str, model: RecommenderModel) -> None:
        progress(f"test: {name}")
        started = time.perf_counter()
        model.fit(test.fit, as_of=test.as_of)
        score(name, model, time.perf_counter() - started)

    def build(kind: str, **params: Any) -> RecommenderModel:
        return make_recommender(kind, {**base_params(kind, protocol, config), **params})

    winner = choices.winner
    fit_and_score("popularity", build("popularity", by="purchases"))
    fit_and_score("popularity_buyers", build("popularity", by="buyers"))
    fit_and_score("segment_popularity", build("segment_popularity", by="buyers"))
    fit_and_score("buy_again", build("buy_again", half_life_days=choices.half_life))
    if all_models:
        for kind, best in choices.best_per_kind.items():
            fit_and_score(kind, make_recommender(kind, best.params))
    if protocol.name == "classic":
        if not all_models:
            fit_and_score(winner.kind, make_recommender(winner.kind, winner.params))
        _finish(results, config)
        return results, models, winner.kind
    partner = choices.partner
    blend = BlendRecommender(
        make_recommender(winner.kind, winner.params),
        make_recommender(**choices.blend_repeat),  # type: ignore[arg-type]
        choices.blend_weight,
        None if partner is winner else make_recommender(partner.kind, partner.params),
    )
    fit_and_score("blend", blend)
    ranker = choices.ranker
    if ranker is not None and choices.blend_repeat == {"kind": ranker.kind, "params": ranker.params}:
        score("repeat_ranker", blend.buy_again_, None)  # the blend's repeat part on its own
    elif ranker is not None:
        fit_and_score("repeat_ranker", make_recommender(ranker.kind, ranker.params))
    if not all_models:  # the blend's collaborative part on its own (fitted inside the blend)
        score(winner.kind, blend.collaborative, None)
    _finish(results, config)
    return results, models, "blend"


def _finish(results: list[ModelResult], config: RecommenderConfig) -> None:
    """Every model's gap to its task's best baseline."""
    compare_to_baselines(results, config.metric())


def _evaluate(
    name: str,
    model: RecommenderModel,
    relevant: dict[str, set[str]],
    task: str,
    config: RecommenderConfig,
    catalog: int,
    fit_seconds: float | None,
) -> ModelResult:
    k = config.k
    lists = model.recommend(list(relevant), k=k, task=recommend_task(task))  # type: ignore[arg-type]
    recommended = {r.subject: r.item_ids for r in lists}
    metrics = evaluate(recommended, relevant, k=k, catalog_size=catalog)
    n_customers = int(metrics.pop("n_customers"))
    values = customer_values(recommended, relevant, k, config.primary_metric)
    same = pd.Series([r.item_ids for r in lists]).value_counts()
    note = None
    if isinstance(model, BuyAgainRecommender) and task != "repeat":
        note = "buy-again cannot recommend an item the customer has not bought: this list is its popularity tie-break"
    return ModelResult(
        name, task, metrics, n_customers, fit_seconds, model.spec()["params"], values,
        float(same.iloc[0] / len(lists)) if len(lists) else 0.0, note=note,
    )


@dataclass
class TrainOutcome:
    experiment: Experiment
    decision: Any  # training.tracking.GateDecision
    baselines: BaselineGate
    model_dir: Path
    run_id: str


def train(
    shop: ShopData,
    config: RecommenderConfig,
    out: Path,
    progress: Progress = quiet,
    segment_rules: SegmentRules | None = None,
    reuse: dict[str, Any] | None = None,
) -> TrainOutcome:
    """Run the experiment and record it in MLflow (configured by the caller with
    ``tracking.configure``): params, metrics, data fingerprint, plots; gate the chosen model on its
    baselines (:func:`gate_on_baselines`), refit what passed on every line and save it to
    ``out/model``, register it as a new version of ``crm-recommender`` and move the champion alias
    only if it beats the current champion on the primary metric (or, refitted with the champion's own
    configuration on other data, ties it: a refresh). ``reuse``: see :func:`run_experiment`."""
    from training import tracking
    from training.publish import publish

    experiment = run_experiment(shop, config, progress=progress, reuse=reuse)
    model_dir = Path(out) / "model"
    run_name = f"{experiment.chosen_name} on {shop.source}"
    with tracking.tracked_run(EXPERIMENT, config, shop, config.seed, run_name=run_name) as run:
        progress("logging to MLflow")
        tracking.log_params({"resolved_protocol": experiment.protocol.name, "chosen_model": experiment.chosen_name,
                             "validation_search": "reused" if experiment.reused else "full"})
        tracking.log_dict(experiment.chosen.spec(), "chosen_model.json")
        tracking.log_dict(experiment.payload(), "results.json")
        for row in experiment.results:
            tracking.log_metrics({**row.metrics, "n_customers": row.n_customers}, prefix=f"{row.model}.{row.task}.")
        for trial in experiment.search:
            tracking.log_metrics(trial.metrics, prefix=f"validation.{trial.kind}.")
        tracking.log_figure(plot_results(experiment), "test_metrics")
        if not experiment.reused:
            tracking.log_figure(plot_search(experiment), "validation_search")
        baselines = gate_on_baselines(experiment, progress)
        tracking.log_dict(baselines.as_dict(), "baseline_gate.json")
        tracking.set_tags({"baseline_gate": "; ".join(baselines.replaced) or f"{experiment.chosen_name} beats its baselines"})
        for warning in baselines.warnings:
            progress(f"warning: {warning}")
        progress(f"refitting {baselines.served['kind']} on every line to serve it")
        served = refit_to_serve(baselines.served, shop, segment_rules)
        extra = {**served_manifest(experiment), "baseline_gate": baselines.replaced}
        served.save(model_dir, data_fingerprint=shop.fingerprint(), extra=extra)
        name, value = experiment.primary_name(), baselines.value
        version, decision = publish(model_dir, MODEL_NAME, name, value,
                                    min_improvement=config.min_improvement, rescore=experiment.rescore, refresh_ties=True)
    served_model = {"as_of": str(served.as_of_.date()), **served_manifest(experiment)}
    payload = {**experiment.payload(), "served_model": served_model, "baseline_gate": baselines.as_dict(), "gate": decision.as_dict()}
    tracking.write_json(Path(out) / "results.json", payload)
    return TrainOutcome(experiment, decision, baselines, model_dir, run.info.run_id)
