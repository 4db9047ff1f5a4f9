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
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.customers.segments import SegmentRules
from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.data.split import TimeSplit
from engine.errors import EngineError
from engine.io import MANIFEST
from engine.recommend.base import RecommenderModel
from engine.recommend.blend import BlendRecommender
from engine.recommend.buy_again import BuyAgainRecommender
from engine.recommend.evaluation import evaluate_model, relevant_items, stratified_split
from engine.recommend.metrics import customer_values, evaluate
from engine.recommend.registry import COLLABORATIVE, load_recommender, make_recommender
from engine.recommend.tuning import Trial, best_trial, run_trial, tune_blend_weight
from training.config import load_config as read_config

MODEL_NAME = "crm-recommender"
EXPERIMENT = "recommender"
SERVED_REFIT = "served_refit"  # manifest flag: refitted on every line after its evaluation
METRIC_NAMES = ("ndcg", "precision", "recall", "hit_rate")  # those with per-customer values (paired SEs)
OWN_ITEMS = ("buy_again", "repeat_ranker")  # score the customer's own items: over every item, not a catalogue
# the result rows every run measures beside its models: bestsellers (most purchase lines), the items
# most customers bought, the same within the customer's RFM segment, and buy-again (tuned half-life)
BASELINE_ROWS = ("popularity", "popularity_buyers", "segment_popularity", "buy_again")
SIGNIFICANT_SE = 2.0  # a gap to the best baseline is claimed only beyond this many standard errors
ProtocolName = Literal["time", "classic"]


class TimeProtocol(BaseModel):
    """``cuts`` out-of-time evaluations (bench): test windows ending at the data's end and every
    ``cut_step_days`` before it, each with its own validation window; train uses the latest only."""

    model_config = ConfigDict(extra="forbid")
    holdout_days: int = Field(56, gt=0)
    validation_days: int = Field(56, gt=0)
    min_item_buyers: int = Field(10, ge=1)
    min_item_buyer_share: float = Field(
        0.004, ge=0, lt=1,
        description="and at least this share of the shop's customers (the larger threshold applies)",
    )
    cuts: int = Field(3, ge=1)
    cut_step_days: int = Field(56, gt=0)

    def catalogue_threshold(self, n_customers: int) -> int:
        """Buyers an item needs to enter the collaborative catalogue: ``min_item_buyers``, or the share
        of ``n_customers`` when larger. A fixed count alone lets ever more of the long tail in as the shop
        grows (Complete Journey replicated 4x: 28k items instead of 14k), and every customer's score
        costs a column per item, so the search grew faster than the data; a share keeps the catalogue
        to items with as much evidence at any size."""
        return max(self.min_item_buyers, math.ceil(round(self.min_item_buyer_share * n_customers, 9)))


class ClassicProtocol(BaseModel):
    """``cuts`` (bench): the split repeated with seeds ``seed``, ``seed + 1``, ..."""

    model_config = ConfigDict(extra="forbid")
    ratio: float = Field(0.75, gt=0, lt=1)
    min_item_buyers: int = Field(1, ge=1)
    cuts: int = Field(3, ge=1)


class RecommenderConfig(BaseModel):
    """``configs/recommender.yaml``. ``candidates`` maps a collaborative kind (als, bpr, item_knn,
    ease) to the parameter sets tried on the validation window; an unknown parameter is an error."""

    model_config = ConfigDict(extra="forbid")
    default_file: ClassVar[str] = "recommender.yaml"
    seed: int = 42
    k: int = Field(10, ge=1)
    protocol: Literal["auto", "time", "classic"] = "auto"
    time: TimeProtocol = TimeProtocol()
    classic: ClassicProtocol = ClassicProtocol()
    candidates: dict[str, list[dict[str, Any]]]
    buy_again_half_lives: list[float | None] = Field(default_factory=lambda: [30.0, 90.0, None], min_length=1)
    repeat_rankers: list[dict[str, Any]] = Field(default_factory=list)
    blend_weights: list[float] = Field(default_factory=lambda: [0.0, 0.1, 0.2, 0.3, 0.4], min_length=1)
    repeat_partner: str = "als"
    primary_metric: str = "ndcg"
    min_improvement: float = Field(0.0, ge=0)
    baseline_margin_se: float = Field(0.0, ge=0)
    min_evaluated_customers: int = Field(200, ge=1)
    same_list_warning: float = Field(0.9, gt=0, le=1)
    latency_calls: int = Field(300, ge=10)

    @model_validator(mode="after")
    def _check(self) -> RecommenderConfig:
        if not self.candidates or not any(self.candidates.values()):
            raise ValueError("candidates: give at least one collaborative model to try")
        for kind, grid in self.candidates.items():
            if kind not in COLLABORATIVE:
                raise ValueError(f"candidates: {kind!r} is not a collaborative model; use {list(COLLABORATIVE)}")
            for params in grid:
                try:
                    make_recommender(kind, params)
                except EngineError as error:
                    raise ValueError(f"candidates.{kind}: {error}") from error
        for params in self.repeat_rankers:
            try:
                make_recommender("repeat_ranker", params)
            except EngineError as error:
                raise ValueError(f"repeat_rankers: {error}") from error
        if self.primary_metric not in METRIC_NAMES:
            raise ValueError(f"primary_metric must be one of {METRIC_NAMES}, got {self.primary_metric!r}")
        if self.repeat_partner not in COLLABORATIVE:
            raise ValueError(f"repeat_partner must be one of {list(COLLABORATIVE)}, got {self.repeat_partner!r}")
        if any(not 0 <= weight <= 1 for weight in self.blend_weights):
            raise ValueError("blend_weights must lie between 0 and 1")
        return self

    def metric(self) -> str:
        return f"{self.primary_metric}@{self.k}"


def load_config(path: str | Path | None = None) -> RecommenderConfig:
    """Read and validate a YAML config (default: the packaged ``recommender.yaml``); errors name the key."""
    return read_config(path, RecommenderConfig)


# --- the data each protocol evaluates on ------------------------------------------------------------


@dataclass
class Window:
    """Fit on ``fit``, evaluate on ``relevant[task]`` (customer -> relevant item ids)."""

    fit: pd.DataFrame
    as_of: pd.Timestamp | None
    relevant: dict[str, dict[str, set[str]]]


@dataclass
class Protocol:
    """The windows a run is validated and tested on, its tasks, and a description for the logs."""

    name: ProtocolName
    tasks: tuple[str, ...]
    min_item_buyers: int
    validation: Window
    test: Window
    description: dict[str, Any]


def resolve_protocol(config: RecommenderConfig, source: str) -> ProtocolName:
    if config.protocol != "auto":
        return config.protocol
    return "classic" if source.startswith("movielens") else "time"


def n_cuts(config: RecommenderConfig, source: str) -> int:
    """How many out-of-time cuts (time protocol) or seeded splits (classic) a bench runs."""
    return config.time.cuts if resolve_protocol(config, source) == "time" else config.classic.cuts


def build_protocol(shop: ShopData, config: RecommenderConfig, cut: int = 0) -> Protocol:
    """Split the shop's transactions into a validation and a test window for the chosen protocol.

    ``cut`` 0 is the latest (test window ending at the data's end); cut ``i`` ends ``i x
    cut_step_days`` earlier, with its validation window before it (classic: split seed ``seed + i``).
    """
    tx = shop.transactions
    name = resolve_protocol(config, shop.source)
    if name == "time":
        split = TimeSplit.last(tx, holdout=config.time.holdout_days)
        if cut:
            split = TimeSplit.at(split.as_of - pd.Timedelta(days=cut * config.time.cut_step_days), config.time.holdout_days)
        validation = split.earlier(config.time.validation_days)
        windows = [_time_window(tx, s) for s in (validation, split)]
        min_item_buyers = config.time.catalogue_threshold(tx[Columns.customer].nunique())
        description = {
            "protocol": "time",
            "as_of": str(split.as_of.date()),
            "holdout_days": config.time.holdout_days,
            "validation_as_of": str(validation.as_of.date()),
            "validation_days": config.time.validation_days,
            "min_item_buyers": min_item_buyers,
        }
        return Protocol("time", ("discovery", "repeat"), min_item_buyers, *windows, description)
    seed = config.seed + cut
    train, test = stratified_split(tx, config.classic.ratio, seed, by=Columns.item)
    inner, validation = stratified_split(train, config.classic.ratio, seed, by=Columns.item)
    description = {
        "protocol": "classic",
        "split": f"stratified by item, {config.classic.ratio:.0%} train, seed {seed} "
        "(Microsoft Recommenders python_stratified_split)",
        "seed": seed,
        "min_item_buyers": config.classic.min_item_buyers,
    }
    windows = [_classic_window(fit, held) for fit, held in ((inner, validation), (train, test))]
    return Protocol("classic", ("classic",), config.classic.min_item_buyers, *windows, description)


def _cut_label(description: dict[str, Any]) -> str:
    return str(description["as_of"]) if "as_of" in description else f"seed {description['seed']}"


def _time_window(tx: pd.DataFrame, split: TimeSplit) -> Window:
    fit, holdout = split.calibration(tx), split.holdout(tx)
    tasks = ("discovery", "repeat")
    relevant = {task: relevant_items(holdout, fit, task) for task in tasks}  # type: ignore[arg-type]
    return Window(fit, split.as_of, relevant)


def _classic_window(fit: pd.DataFrame, held: pd.DataFrame) -> Window:
    known = set(fit[Columns.customer].astype(str))
    relevant = {c: items for c, items in relevant_items(held, task="repeat").items() if c in known}
    return Window(fit, None, {"classic": relevant})


def _recommend_task(task: str) -> str:
    return "discovery" if task == "classic" else task


# --- the experiment ----------------------------------------------------------------------------------


@dataclass
class ModelResult:
    """One row of the results: a model on a task of the test window."""

    model: str
    task: str
    metrics: dict[str, float]
    n_customers: int
    fit_seconds: float | None
    params: dict[str, Any]
    values: np.ndarray = field(repr=False)  # each evaluated customer's primary metric (paired SEs)
    same_list_share: float = 0.0  # share of customers given the most common top-k list
    timing: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    versus: dict[str, Any] | None = None  # the best baseline of the task and the gap to it

    @property
    def standard_error(self) -> float:
        """Standard error of the primary metric's mean over customers."""
        return _standard_error(self.values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task": self.task,
            "metrics": self.metrics,
            "standard_error": self.standard_error,
            "n_customers": self.n_customers,
            "fit_seconds": self.fit_seconds,
            **self.timing,
            "params": self.params,
            "same_list_share": self.same_list_share,
            **({"versus_best_baseline": self.versus} if self.versus else {}),
            **({"note": self.note} if self.note else {}),
        }


def _standard_error(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def compare_to_baselines(results: list[ModelResult], metric: str) -> None:
    """Give every non-baseline result its task's best baseline (highest ``metric`` on the same
    customers) and the paired gap: mean per-customer difference, its standard error, the gap in
    standard errors and the ratio of the two means."""
    for task in dict.fromkeys(row.task for row in results):
        rows = [row for row in results if row.task == task]
        baselines = [row for row in rows if row.model in BASELINE_ROWS]
        if not baselines:
            continue
        best = max(baselines, key=lambda row: row.metrics[metric])
        for row in rows:
            if row.model in BASELINE_ROWS:
                continue
            difference = row.values - best.values
            se = _standard_error(difference)
            gap = float(difference.mean())
            row.versus = {
                "model": best.model,
                "value": best.metrics[metric],
                "gap": gap,
                "gap_se": se,
                "gap_in_se": gap / se if se > 0 else float("nan"),
                "ratio": row.metrics[metric] / best.metrics[metric] if best.metrics[metric] > 0 else float("nan"),
                "significant": bool(se > 0 and gap / se >= SIGNIFICANT_SE),
            }


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
            model = make_recommender(**model.spec()).fit(test.fit, as_of=test.as_of)
        relevant = self.protocol.test.relevant[self.primary_task]
        metrics = evaluate_model(model, relevant, k=self.config.k, task=_recommend_task(self.primary_task))
        return metrics[self.config.metric()]

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
        return _cut_label(self.protocol.description)

    def payload(self) -> dict[str, Any]:
        """The benchmark JSON of this cut (the issue's contract, plus the search and the choices)."""
        choices = self.choices
        return {
            "dataset": self.dataset,
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


Progress = Callable[[str], Any]


def _quiet(_: str) -> None:
    return None


@dataclass
class Choices:
    """What the validation window chose: the buy-again half-life, the best learned repeat ranker (if
    any is tried), the best candidate of each collaborative kind and the winner, the repeat partner,
    and the blend's repeat part (a buy-again half-life or a ranker) and weight."""

    half_life: float | None
    buy_again_search: list[Trial]
    ranker_search: list[Trial]
    search: list[Trial]
    best_per_kind: dict[str, Trial]
    winner: Trial
    partner: Trial
    blend_repeat: dict[str, Any]  # spec of the blend's repeat part
    blend_weight: float
    blend_search: dict[str, dict[float, float]]
    ranker: Trial | None  # the best repeat ranker on validation


def run_experiment(
    shop: ShopData, config: RecommenderConfig, all_models: bool = False, progress: Progress = _quiet
) -> Experiment:
    """Search on validation, fit on the training period, evaluate on the test window.

    ``all_models=False`` (train): the baselines, the chosen collaborative model and the blend.
    ``all_models=True`` (bench): also the best configuration of every other collaborative kind, each
    fitted on its own so that its fit time is measured.
    """
    return _run(shop, config, build_protocol(shop, config), all_models, progress)


def _run(
    shop: ShopData, config: RecommenderConfig, protocol: Protocol, all_models: bool, progress: Progress
) -> Experiment:
    choices = choose_on_validation(protocol, config, progress)
    results, models, chosen_name = evaluate_on_test(protocol, config, choices, all_models, progress)
    return Experiment(shop.source, protocol, config, choices, models[chosen_name], chosen_name, results, models)


def run_cuts(
    shop: ShopData, config: RecommenderConfig, all_models: bool = True, progress: Progress = _quiet
) -> list[Experiment]:
    """The experiment on every out-of-time cut (latest first), each choosing on its own validation
    window; the fitted models of the earlier cuts are dropped to save memory."""
    experiments = []
    for cut in range(n_cuts(config, shop.source)):
        protocol = build_protocol(shop, config, cut)
        label = _cut_label(protocol.description)
        experiment = _run(shop, config, protocol, all_models, lambda message, label=label: progress(f"cut {label}: {message}"))
        if cut:
            experiment.models = {}
        experiments.append(experiment)
    return experiments


def summarise_cuts(experiments: list[Experiment]) -> list[dict[str, Any]]:
    """Per model and task over the cuts: the mean and standard error of the primary metric across
    cuts, the mean ratio to the task's best baseline, every cut's gap in standard errors, and whether
    the model beat its best baseline significantly on every cut."""
    metric = experiments[0].config.metric()
    rows: dict[tuple[str, str], list[ModelResult]] = {}
    for experiment in experiments:
        for row in experiment.results:
            rows.setdefault((row.model, row.task), []).append(row)
    summary = []
    for (model, task), found in rows.items():
        values = np.array([row.metrics[metric] for row in found])
        entry: dict[str, Any] = {
            "model": model,
            "task": task,
            "cuts": len(found),
            metric: float(values.mean()),
            "se_across_cuts": _standard_error(values),
        }
        versus = [row.versus for row in found if row.versus]
        if versus:
            entry["versus_best_baseline"] = {
                "models": [v["model"] for v in versus],
                "mean_ratio": float(np.mean([v["ratio"] for v in versus])),
                "min_ratio": float(np.min([v["ratio"] for v in versus])),
                "gap_in_se": [v["gap_in_se"] for v in versus],
                "significant_on_every_cut": all(v["significant"] for v in versus),
            }
        summary.append(entry)
    return summary


def cuts_payload(experiments: list[Experiment]) -> dict[str, Any]:
    """The bench JSON: the latest cut's full payload, ``cuts`` with every cut's results, and the
    summary across cuts."""
    return {
        **experiments[0].payload(),
        "cuts": [
            {"cut": e.cut, "split": e.protocol.description, "results": [row.as_dict() for row in e.results],
             "chosen": {"model": e.chosen_name, "spec": e.chosen.spec()}}
            for e in experiments
        ],
        "summary": summarise_cuts(experiments),
        "significance": f"a gap counts when it is at least {SIGNIFICANT_SE} paired standard errors (per customer)",
    }


def _base_params(kind: str, protocol: Protocol, config: RecommenderConfig) -> dict[str, Any]:
    """What every model of a run shares: the catalogue threshold (none for the models of the
    customer's own items: they re-buy their long-tail items too), and the seed where it takes one."""
    params: dict[str, Any] = {"min_item_buyers": 1 if kind in OWN_ITEMS else protocol.min_item_buyers}
    if "random_state" in make_recommender(kind).get_params():
        params["random_state"] = config.seed
    return params


def choose_on_validation(protocol: Protocol, config: RecommenderConfig, progress: Progress = _quiet) -> Choices:
    """Every choice of a run, made on the validation window only."""
    metric, k, val = config.metric(), config.k, protocol.validation
    time_protocol = protocol.name == "time"
    selection_task = "discovery" if time_protocol else "classic"

    # 1. buy-again half-life (the baseline's own), on the repeat task
    buy_again_search: list[Trial] = []
    half_life = config.buy_again_half_lives[0]
    if time_protocol:
        for candidate in config.buy_again_half_lives:
            progress(f"validation: buy_again half_life_days={candidate}")
            params = {**_base_params("buy_again", protocol, config), "half_life_days": candidate}
            model = make_recommender("buy_again", params)
            buy_again_search.append(run_trial(model, val.fit, val.relevant["repeat"], k, "repeat", val.as_of))
        half_life = best_trial(buy_again_search, metric).params["half_life_days"]

    # 1b. learned repeat rankers over the buy-again candidates, on the repeat task
    ranker_search: list[Trial] = []
    for params in config.repeat_rankers if time_protocol else []:
        progress(f"validation: repeat_ranker {params}")
        model = make_recommender("repeat_ranker", {**_base_params("repeat_ranker", protocol, config), **params})
        try:
            ranker_search.append(run_trial(model, val.fit, val.relevant["repeat"], k, "repeat", val.as_of))
        except EngineError as error:  # e.g. nobody re-bought in its label window: buy-again stays
            progress(f"validation: repeat_ranker {params} skipped: {error}")

    # 2. collaborative candidates, on the selection task
    search: list[Trial] = []
    for kind, grid in config.candidates.items():
        for params in grid:
            progress(f"validation: {kind} {params}")
            model = make_recommender(kind, {**_base_params(kind, protocol, config), **params})
            relevant = val.relevant[selection_task]
            search.append(run_trial(model, val.fit, relevant, k, _recommend_task(selection_task), val.as_of, kind))
    best_per_kind = {kind: best_trial([t for t in search if t.kind == kind], metric) for kind in config.candidates}
    winner = best_trial(list(best_per_kind.values()), metric)
    partner = best_per_kind.get(config.repeat_partner, winner)

    # 3. the repeat blend (repeat part x weight), on the repeat task, from the parts fitted above
    blend_search: dict[str, dict[float, float]] = {}
    blend_repeat: dict[str, Any] = {"kind": "buy_again", "params": {"half_life_days": half_life}}
    blend_weight, best_repeat = config.blend_weights[0], -np.inf
    # only the best half-life's buy-again is blended beside the rankers: the weight search costs one
    # scoring of every validation customer per weight and repeat part
    best_again = [best_trial(buy_again_search, metric)] if buy_again_search else []
    for trial in (*best_again, *ranker_search):
        label = f"{trial.kind} {trial.params}" if trial.kind != "buy_again" else f"half_life_days={trial.params['half_life_days']}"
        progress(f"validation: blend weight, {label} + {partner.kind}")
        blend = BlendRecommender.from_fitted(
            winner.model,  # type: ignore[arg-type]
            trial.model,  # type: ignore[arg-type]
            repeat_collaborative=None if partner is winner else partner.model,
        )
        weight, curve = tune_blend_weight(blend, val.relevant["repeat"], config.blend_weights, k, metric)
        blend_search[label] = curve
        if curve[weight] > best_repeat:
            best_repeat, blend_repeat, blend_weight = curve[weight], {"kind": trial.kind, "params": trial.params}, weight
    for trial in (*buy_again_search, *ranker_search, *search):  # free the fitted validation models
        trial.model = None
    return Choices(
        half_life, buy_again_search, ranker_search, search, best_per_kind, winner, partner, blend_repeat,
        blend_weight, blend_search, best_trial(ranker_search, metric) if ranker_search else None,
    )


def evaluate_on_test(
    protocol: Protocol, config: RecommenderConfig, choices: Choices, all_models: bool, progress: Progress = _quiet
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
        return make_recommender(kind, {**_base_params(kind, protocol, config), **params})

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
    lists = model.recommend(list(relevant), k=k, task=_recommend_task(task))  # type: ignore[arg-type]
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


# --- latency ------------------------------------------------------------------------------------------


def measure_latency(
    model: RecommenderModel, customers: list[str], k: int, task: str, calls: int, seed: int, batch: int = 256
) -> dict[str, float]:
    """p50/p99 of single-customer ``recommend`` calls (in-process, ms) and the throughput of batch
    calls (customers per second, batches of ``batch``)."""
    rng = np.random.default_rng(seed)
    sample = [customers[i] for i in rng.integers(0, len(customers), calls)]
    recommend_task = _recommend_task(task)
    model.recommend(sample[:5], k=k, task=recommend_task)  # warm-up
    timings = []
    for customer in sample:
        started = time.perf_counter()
        model.recommend([customer], k=k, task=recommend_task)
        timings.append(time.perf_counter() - started)
    started = time.perf_counter()
    for start in range(0, len(customers), batch):
        model.recommend(customers[start : start + batch], k=k, task=recommend_task)
    elapsed = time.perf_counter() - started
    milliseconds = np.asarray(timings) * 1000.0
    return {
        "recommend_p50_ms": float(np.percentile(milliseconds, 50)),
        "recommend_p99_ms": float(np.percentile(milliseconds, 99)),
        "batch_customers_per_second": float(len(customers) / elapsed) if elapsed > 0 else float("inf"),
    }


def add_latency(experiment: Experiment, progress: Progress = _quiet) -> None:
    """Measure every result row's latency on the test window's evaluated customers."""
    config = experiment.config
    for row in experiment.results:
        progress(f"latency: {row.model} {row.task}")
        customers = list(experiment.protocol.test.relevant[row.task])
        row.timing = measure_latency(
            experiment.models[row.model], customers, config.k, row.task, config.latency_calls, config.seed
        )


# --- plots (for MLflow and the notebook) ------------------------------------------------------------------


def plot_results(experiment: Experiment) -> Any:
    """Bar chart of the primary metric of every model on every task of the test window."""
    import matplotlib.pyplot as plt

    metric = experiment.config.metric()
    tasks = experiment.protocol.tasks
    names = list(dict.fromkeys(row.model for row in experiment.results))
    figure, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.5), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        values = [experiment.result(name, task).metrics[metric] for name in names]
        colours = ["#999999" if name in BASELINE_ROWS else "#1f77b4" for name in names]
        axis.barh(names, values, color=colours)
        axis.set_title(f"{task}: {metric} (test window)")
        axis.invert_yaxis()
    figure.tight_layout()
    return figure


def plot_search(experiment: Experiment) -> Any:
    """Validation metric of every candidate tried, and of every blend weight."""
    import matplotlib.pyplot as plt

    metric = experiment.config.metric()
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    labels = [f"{t.kind} {i}" for i, t in enumerate(experiment.search)]
    axes[0].barh(labels, [t.metrics[metric] for t in experiment.search])
    axes[0].set_title(f"validation {metric} per candidate")
    axes[0].invert_yaxis()
    if experiment.choices.blend_search:
        for label, curve in experiment.choices.blend_search.items():
            weights = sorted(curve)
            axes[1].plot(weights, [curve[w] for w in weights], marker="o", label=f"buy-again {label}")
        axes[1].set_xlabel("blend weight of the collaborative model")
        axes[1].set_title(f"validation repeat {metric} of the blend")
        axes[1].legend(fontsize="small")
    else:
        axes[1].set_visible(False)
    figure.tight_layout()
    return figure


# --- train: MLflow, registry, champion gate ------------------------------------------------------------


@dataclass
class TrainOutcome:
    experiment: Experiment
    decision: Any  # training.tracking.GateDecision
    baselines: BaselineGate
    model_dir: Path
    run_id: str


@dataclass
class BaselineGate:
    """What the baseline gate decided: the configuration to serve (the chosen model, or with a part
    replaced by the baseline that beat it), its primary metric on the test window, why a part was
    replaced, and warnings (small samples, degenerate fits, gaps within noise)."""

    served: dict[str, Any]
    value: float
    replaced: list[str]
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"served": self.served, "value": self.value, "replaced": self.replaced, "warnings": self.warnings}


def gate_on_baselines(experiment: Experiment, progress: Progress = _quiet) -> BaselineGate:
    """A model must beat its baselines: on each task of the test window the chosen model is compared
    with the task's best baseline (paired over customers); where it does not beat it by more than
    ``baseline_margin_se`` standard errors (any margin when 0), the baseline takes its place (the
    blend's discovery part becomes the popularity baseline; its repeat mix becomes the tuned
    buy-again (weight 0) or the popularity baseline (weight 1); a classic model is replaced whole). The served configuration is scored again on the
    test window when it changed."""
    config, name = experiment.config, experiment.chosen_name
    spec = json.loads(json.dumps(experiment.chosen.spec()))
    replaced: list[str] = []
    for task in experiment.protocol.tasks:
        row = experiment.result(name, task)
        versus = row.versus or {}
        if not versus or _wins(versus, config.baseline_margin_se):
            continue
        baseline = experiment.models[versus["model"]].spec()
        reason = (
            f"{task}: {name} {row.metrics[config.metric()]:.4f} does not beat the baseline {versus['model']} "
            f"{versus['value']:.4f} (gap {versus['gap_in_se']:+.1f} SE, needed > {config.baseline_margin_se})"
        )
        if spec["kind"] != BlendRecommender.kind:
            spec = baseline
        elif task == "discovery" and baseline["kind"] not in OWN_ITEMS:
            spec["params"]["collaborative"] = baseline
        elif task == "repeat" and baseline["kind"] == "buy_again":
            spec["params"].update(buy_again=baseline, weight=0.0)
        elif task == "repeat":  # a popularity list: the repeat mix becomes that list alone
            spec["params"].update(repeat_collaborative=baseline, weight=1.0)
        else:
            reason += "; kept: the baseline cannot take that part's place"
        replaced.append(reason)
    value = experiment.primary_value()
    if spec != experiment.chosen.spec():
        progress(f"baseline gate: scoring the served configuration {spec['kind']} on the test window")
        test = experiment.protocol.test
        model = make_recommender(**spec).fit(test.fit, as_of=test.as_of)
        relevant = test.relevant[experiment.primary_task]
        value = evaluate_model(model, relevant, k=config.k, task=_recommend_task(experiment.primary_task))[config.metric()]
    return BaselineGate(spec, float(value), replaced, _warnings(experiment))


def _wins(versus: dict[str, Any], margin_se: float) -> bool:
    return versus["gap"] > 0 and (margin_se == 0 or versus["gap_in_se"] > margin_se)


def _warnings(experiment: Experiment) -> list[str]:
    """Small samples, degenerate fits (one list for nearly everyone), and wins within noise."""
    config, warnings = experiment.config, []
    for task in experiment.protocol.tasks:
        row = experiment.result(experiment.chosen_name, task)
        if row.n_customers < config.min_evaluated_customers:
            warnings.append(
                f"small sample: {task} is evaluated on {row.n_customers} customers "
                f"(< min_evaluated_customers={config.min_evaluated_customers}); gaps between models are noisy"
            )
        if row.versus and row.versus["gap"] > 0 and not row.versus["significant"]:
            warnings.append(
                f"not significant: {row.model} beats {row.versus['model']} on {task} by "
                f"{row.versus['gap_in_se']:.1f} SE only (< {SIGNIFICANT_SE})"
            )
    for row in experiment.results:
        if row.model not in BASELINE_ROWS and row.n_customers > 1 and row.same_list_share >= config.same_list_warning:
            warnings.append(
                f"degenerate fit: {row.model} gives the same top-{config.k} list to {row.same_list_share:.0%} "
                f"of customers in {row.task}"
            )
    return warnings


def refit_to_serve(spec: dict[str, Any], shop: ShopData, segment_rules: SegmentRules | None = None) -> RecommenderModel:
    """The configuration to serve fitted again on every line of the shop. The one fitted before the
    test window stays the evidence; serving it would leave out the latest weeks (8 on Complete
    Journey), customers who came in them included. ``segment_rules`` name the cold-start segments as
    the served customer table names them."""
    return make_recommender(**spec).fit(shop.transactions, segment_rules=segment_rules)


def served_manifest(experiment: Experiment) -> dict[str, Any]:
    """What the served model's manifest records of its evidence: the test window it was chosen on."""
    test_as_of = experiment.protocol.test.as_of
    return {SERVED_REFIT: True, "evaluated_as_of": None if test_as_of is None else str(test_as_of.date())}


def train(
    shop: ShopData,
    config: RecommenderConfig,
    out: Path,
    progress: Progress = _quiet,
    segment_rules: SegmentRules | None = None,
) -> TrainOutcome:
    """Run the experiment and record it in MLflow (configured by the caller with
    ``tracking.configure``): params, metrics, data fingerprint, plots; gate the chosen model on its
    baselines (:func:`gate_on_baselines`), refit what passed on every line and save it to
    ``out/model``, register it as a new version of ``crm-recommender`` and move the champion alias
    only if it beats the current champion on the primary metric."""
    from training import tracking
    from training.publish import publish

    experiment = run_experiment(shop, config, progress=progress)
    model_dir = Path(out) / "model"
    run_name = f"{experiment.chosen_name} on {shop.source}"
    with tracking.tracked_run(EXPERIMENT, config, shop, config.seed, run_name=run_name) as run:
        progress("logging to MLflow")
        tracking.log_params({"resolved_protocol": experiment.protocol.name, "chosen_model": experiment.chosen_name})
        tracking.log_dict(experiment.chosen.spec(), "chosen_model.json")
        tracking.log_dict(experiment.payload(), "results.json")
        for row in experiment.results:
            tracking.log_metrics({**row.metrics, "n_customers": row.n_customers}, prefix=f"{row.model}.{row.task}.")
        for trial in experiment.search:
            tracking.log_metrics(trial.metrics, prefix=f"validation.{trial.kind}.")
        tracking.log_figure(plot_results(experiment), "test_metrics")
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
                                    min_improvement=config.min_improvement, rescore=experiment.rescore)
    served_model = {"as_of": str(served.as_of_.date()), **served_manifest(experiment)}
    payload = {**experiment.payload(), "served_model": served_model, "baseline_gate": baselines.as_dict(), "gate": decision.as_dict()}
    tracking.write_json(Path(out) / "results.json", payload)
    return TrainOutcome(experiment, decision, baselines, model_dir, run.info.run_id)
