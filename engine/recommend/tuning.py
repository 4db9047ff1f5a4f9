"""Small hyperparameter search on a validation window: fit each candidate on the window's past,
score it on the window, keep the best. The caller carves the window from the training period
(``TimeSplit.earlier`` or a second stratified split), so the test window is never looked at.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engine.errors import EngineError
from engine.recommend.base import RecommenderModel, Task
from engine.recommend.blend import BlendRecommender
from engine.recommend.evaluation import evaluate_model


@dataclass
class Trial:
    """One candidate on the validation window: its parameters, metrics and fit time; ``model`` is the
    fitted model (kept so that a blend's weight can be tuned without refitting)."""

    kind: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fit_seconds: float
    model: RecommenderModel | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": self.params, "metrics": self.metrics, "fit_seconds": self.fit_seconds}


def run_trial(
    model: RecommenderModel,
    transactions: pd.DataFrame,
    relevant: Mapping[str, Collection[str]],
    k: int,
    task: Task,
    as_of: pd.Timestamp | None = None,
    label: str | None = None,
) -> Trial:
    """Fit ``model`` on ``transactions`` and evaluate it on ``relevant``."""
    started = time.perf_counter()
    model.fit(transactions, as_of=as_of)
    fit_seconds = time.perf_counter() - started
    metrics = evaluate_model(model, relevant, k=k, task=task)
    return Trial(label or model.kind, model.spec()["params"], metrics, fit_seconds, model)


def best_trial(trials: Sequence[Trial], metric: str) -> Trial:
    """The trial with the highest ``metric`` (the first one on ties)."""
    if not trials:
        raise EngineError("no trials to choose from: give at least one candidate")
    return max(trials, key=lambda trial: trial.metrics[metric])


def tune_blend_weight(
    blend: BlendRecommender,
    relevant: Mapping[str, Collection[str]],
    weights: Sequence[float],
    k: int,
    metric: str,
) -> tuple[float, dict[float, float]]:
    """Try each weight on a fitted blend in the ``repeat`` task; set and return the best one, and
    every weight's ``metric``."""
    if not weights:
        raise EngineError("blend_weights is empty: give at least one weight")
    scores = {}
    for weight in weights:
        blend.set_weight(weight)
        scores[float(weight)] = evaluate_model(blend, relevant, k=k, task="repeat")[metric]
    best = max(scores, key=lambda weight: scores[weight])
    blend.set_weight(best)
    return best, scores
