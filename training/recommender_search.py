"""Every choice of a recommender run, made on the validation window only: the buy-again half-life,
the learned repeat rankers, the best candidate of each collaborative kind, and the repeat blend's
part and weight."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import EngineError
from engine.recommend.blend import BlendRecommender
from engine.recommend.registry import make_recommender
from engine.recommend.tuning import Trial, best_trial, run_trial, tune_blend_weight
from training.recommender_config import RecommenderConfig
from training.recommender_protocol import Protocol, recommend_task

OWN_ITEMS = ("buy_again", "repeat_ranker")  # score the customer's own items: over every item, not a catalogue
Progress = Callable[[str], Any]


def quiet(_: str) -> None:
    """A progress callback that says nothing."""
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


SEARCH_RECORD = "search_record"  # key of results.json: what a later run needs to reuse this run's choices


def search_record(choices: Choices, searched: dict[str, Any]) -> dict[str, Any]:
    """What a later run needs to skip the search and refit these choices (``crm train recommender
    --reuse-search``): every choice as a model spec, and ``searched`` (where the search that made them
    ran: its validation window, the data's last day, the config's hash)."""

    def spec(trial: Trial | None) -> dict[str, Any] | None:
        return None if trial is None else {"kind": trial.kind, "params": trial.params, "metrics": trial.metrics}

    return {
        "half_life": choices.half_life, "winner": spec(choices.winner), "partner": spec(choices.partner),
        "ranker": spec(choices.ranker), "blend_repeat": choices.blend_repeat, "blend_weight": choices.blend_weight,
        "searched": searched,
    }


def reused_choices(record: dict[str, Any]) -> Choices:
    """The :class:`Choices` of an earlier run's :func:`search_record`, without a search: its trials
    carry the validation metrics measured then, and no fitted model."""
    try:
        def trial(spec: dict[str, Any] | None) -> Trial | None:
            return None if spec is None else Trial(spec["kind"], spec["params"], spec["metrics"], 0.0)

        winner, partner = trial(record["winner"]), trial(record["partner"])
        if winner is None or partner is None:
            raise KeyError("winner" if winner is None else "partner")
        for part in (winner, partner, trial(record["ranker"])):
            if part is not None:
                make_recommender(part.kind, part.params)
        make_recommender(**record["blend_repeat"])
        return Choices(
            record["half_life"], [], [], [], {winner.kind: winner, partner.kind: partner}, winner,
            partner if partner.kind != winner.kind else winner, record["blend_repeat"], float(record["blend_weight"]),
            {}, trial(record["ranker"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise EngineError(f"--reuse-search: not the search record of a crm train recommender run ({error!r} missing or wrong)") from error


def base_params(kind: str, protocol: Protocol, config: RecommenderConfig) -> dict[str, Any]:
    """What every model of a run shares: the catalogue threshold (none for the models of the
    customer's own items: they re-buy their long-tail items too), and the seed where it takes one."""
    params: dict[str, Any] = {"min_item_buyers": 1 if kind in OWN_ITEMS else protocol.min_item_buyers}
    if "random_state" in make_recommender(kind).get_params():
        params["random_state"] = config.seed
    return params


def choose_on_validation(protocol: Protocol, config: RecommenderConfig, progress: Progress = quiet) -> Choices:
    """Every choice of a run, made on the validation window only."""
    metric = config.metric()
    time_protocol = protocol.name == "time"
    buy_again_search = _search_half_lives(protocol, config, progress) if time_protocol else []
    half_life = best_trial(buy_again_search, metric).params["half_life_days"] if buy_again_search else config.buy_again_half_lives[0]
    ranker_search = _search_rankers(protocol, config, progress) if time_protocol else []
    search = _search_collaborative(protocol, config, progress)
    fitted_kinds = [kind for kind in config.candidates if any(t.kind == kind for t in search)]
    best_per_kind = {kind: best_trial([t for t in search if t.kind == kind], metric) for kind in fitted_kinds}
    if not best_per_kind:
        raise EngineError("no collaborative candidate could be fitted on the validation window (see the skipped candidates "
                          "above): give the recommender config a candidate this data's history supports")
    winner = best_trial(list(best_per_kind.values()), metric)
    partner = best_per_kind.get(config.repeat_partner, winner)
    # only the best half-life's buy-again is blended beside the rankers: the weight search costs one
    # scoring of every validation customer per weight and repeat part
    best_again = [best_trial(buy_again_search, metric)] if buy_again_search else []
    blend_repeat, blend_weight, blend_search = _search_blend(
        protocol, config, winner, partner, [*best_again, *ranker_search], half_life, progress
    )
    for trial in (*buy_again_search, *ranker_search, *search):  # free the fitted validation models
        trial.model = None
    return Choices(
        half_life, buy_again_search, ranker_search, search, best_per_kind, winner, partner, blend_repeat,
        blend_weight, blend_search, best_trial(ranker_search, metric) if ranker_search else None,
    )


def _search_half_lives(protocol: Protocol, config: RecommenderConfig, progress: Progress) -> list[Trial]:
    """The buy-again baseline's own half-life, on the repeat task."""
    val, trials = protocol.validation, []
    for candidate in config.buy_again_half_lives:
        progress(f"validation: buy_again half_life_days={candidate}")
        params = {**base_params("buy_again", protocol, config), "half_life_days": candidate}
        model = make_recommender("buy_again", params)
        trials.append(run_trial(model, val.fit, val.relevant["repeat"], config.k, "repeat", val.as_of))
    return trials


def _search_rankers(protocol: Protocol, config: RecommenderConfig, progress: Progress) -> list[Trial]:
    """Learned repeat rankers over the buy-again candidates, on the repeat task."""
    val, trials = protocol.validation, []
    for params in config.repeat_rankers:
        progress(f"validation: repeat_ranker {params}")
        model = make_recommender("repeat_ranker", {**base_params("repeat_ranker", protocol, config), **params})
        try:
            trials.append(run_trial(model, val.fit, val.relevant["repeat"], config.k, "repeat", val.as_of))
        except EngineError as error:  # e.g. nobody re-bought in its label window: buy-again stays
            progress(f"validation: repeat_ranker {params} skipped: {error}")
    return trials


def _search_collaborative(protocol: Protocol, config: RecommenderConfig, progress: Progress) -> list[Trial]:
    """Every collaborative candidate, on the selection task (discovery; classic for MovieLens)."""
    val, trials = protocol.validation, []
    selection_task = "discovery" if protocol.name == "time" else "classic"
    for kind, grid in config.candidates.items():
        for params in grid:
            progress(f"validation: {kind} {params}")
            model = make_recommender(kind, {**base_params(kind, protocol, config), **params})
            relevant = val.relevant[selection_task]
            try:
                trials.append(run_trial(model, val.fit, relevant, config.k, recommend_task(selection_task), val.as_of, kind))  # type: ignore[arg-type]
            except EngineError as error:  # e.g. a ranker whose label windows need more history than the data has
                progress(f"validation: {kind} {params} skipped: {error}")
    return trials


def _search_blend(
    protocol: Protocol,
    config: RecommenderConfig,
    winner: Trial,
    partner: Trial,
    repeat_parts: list[Trial],
    half_life: float | None,
    progress: Progress,
) -> tuple[dict[str, Any], float, dict[str, dict[float, float]]]:
    """The repeat blend (repeat part x weight), on the repeat task, from the parts fitted above:
    (the chosen repeat part's spec, its weight, every part's weight curve)."""
    blend_search: dict[str, dict[float, float]] = {}
    blend_repeat: dict[str, Any] = {"kind": "buy_again", "params": {"half_life_days": half_life}}
    blend_weight, best_repeat = config.blend_weights[0], -np.inf
    for trial in repeat_parts:
        label = f"{trial.kind} {trial.params}" if trial.kind != "buy_again" else f"half_life_days={trial.params['half_life_days']}"
        progress(f"validation: blend weight, {label} + {partner.kind}")
        blend = BlendRecommender.from_fitted(
            winner.model,  # type: ignore[arg-type]
            trial.model,  # type: ignore[arg-type]
            repeat_collaborative=None if partner is winner else partner.model,
        )
        weight, curve = tune_blend_weight(blend, protocol.validation.relevant["repeat"], config.blend_weights, config.k, config.metric())
        blend_search[label] = curve
        if curve[weight] > best_repeat:
            best_repeat, blend_repeat, blend_weight = curve[weight], {"kind": trial.kind, "params": trial.params}, weight
    return blend_repeat, blend_weight, blend_search
