"""The tail every training pipeline ends with: register the saved model, gate it against the champion
(re-scored on this run's data when a ``rescore`` is given), log the decision."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from training import tracking
from training.tracking import GateDecision


def publish(
    model_dir: str | Path,
    model_name: str,
    metric: str,
    value: float,
    *,
    higher_is_better: bool = True,
    min_improvement: float = 0.0,
    rescore: Callable[[Path], float] | None = None,
    refresh_ties: bool = False,
) -> tuple[str, GateDecision]:
    """Register ``model_dir`` as a new version of ``model_name`` in the active run, move the champion
    alias to it only if it beats the champion on ``metric``, and log the decision; returns the
    version and the decision. ``refresh_ties``: see :func:`training.tracking.promote_if_better`."""
    version = tracking.register_model(model_dir, model_name, metric, value, higher_is_better=higher_is_better)
    decision = tracking.promote_if_better(
        model_name, version, metric, value, higher_is_better=higher_is_better,
        min_improvement=min_improvement, rescore=rescore, refresh_ties=refresh_ties,
    )
    tracking.log_gate(decision)
    return version, decision

