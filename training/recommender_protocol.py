"""The windows a recommender run is validated and tested on, for either protocol (see
:mod:`training.recommender`): a time split with its validation window carved before it, or the
classic stratified MovieLens split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.data.split import TimeSplit
from engine.recommend.categories import with_product_categories
from engine.recommend.evaluation import relevant_items, stratified_split
from training.recommender_config import RecommenderConfig

ProtocolName = Literal["time", "classic"]


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
    tx = fitted_lines(shop)
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


def fitted_lines(shop: ShopData) -> pd.DataFrame:
    """The lines every recommender of a run is fitted on: the shop's transactions with its products'
    categories when it has them (:func:`with_product_categories`)."""
    return with_product_categories(shop.transactions, shop.products)


def cut_label(description: dict[str, Any]) -> str:
    """A cut's label: the test window's first day (time), the split's seed (classic)."""
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


def recommend_task(task: str) -> str:
    """The task a model is asked for: the classic protocol recommends as in discovery."""
    return "discovery" if task == "classic" else task
