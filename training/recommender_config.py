"""The recommender pipeline's config (``configs/recommender.yaml``), validated with pydantic."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.errors import EngineError
from engine.recommend.registry import COLLABORATIVE, make_recommender
from training.config import load_config as read_config

METRIC_NAMES = ("ndcg", "precision", "recall", "hit_rate")  # those with per-customer values (paired SEs)


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
