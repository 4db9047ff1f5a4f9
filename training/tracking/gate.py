"""The champion gate: a new version takes the alias only if it beats the champion on the same data
(re-scored here, or as recorded on data of the same fingerprint), and the decision is recorded."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from engine.errors import EngineError, ModelFormatError
from training.tracking.registry import CHAMPION, FINGERPRINT_TAG, PRIMARY_METRIC_TAG, PRIMARY_VALUE_TAG, download_champion


@dataclass(frozen=True)
class GateDecision:
    """Whether a newly registered version became champion, and why (printed to the user)."""

    model_name: str
    version: str
    metric: str
    challenger: float
    champion: float | None
    champion_version: str | None
    promoted: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def promote_if_better(
    model_name: str,
    version: str,
    primary_metric: str,
    value: float,
    higher_is_better: bool = True,
    min_improvement: float = 0.0,
    alias: str = CHAMPION,
    rescore: Callable[[Path], float] | None = None,
    refresh_ties: bool = False,
) -> GateDecision:
    """Move ``alias`` to ``version`` only if it beats the current holder on ``primary_metric`` by more
    than ``min_improvement``; otherwise leave the champion in place and say why.

    Both must be measured on the same data. With ``rescore`` (a function that loads a model folder and
    returns its primary metric on this run's evaluation data) the champion is re-scored here, which is
    what routine retraining on grown data needs. Without it, the champion's recorded value is used only
    if it was measured on data with the same fingerprint; otherwise the gate refuses and says why. A
    champion that this engine can no longer load is replaced.

    ``refresh_ties`` (with ``rescore``): a candidate that re-scores exactly equal to the champion on this
    run's data, while the champion was trained on other data (another fingerprint), is the champion's
    own configuration refitted on that newer data; it takes the alias as a refresh. Without it such a
    retrain could never replace a stale fit, since re-scoring refits the same configuration.
    """
    client = MlflowClient()
    try:
        current = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        current = None

    def decide(promoted: bool, reason: str, best: float | None = None) -> GateDecision:
        if promoted:
            client.set_registered_model_alias(model_name, alias, version)
        champion = None if current is None else str(current.version)
        return GateDecision(model_name, version, primary_metric, value, best, champion, promoted, reason)

    if current is None:
        return decide(True, "no champion yet")
    if current.tags.get(PRIMARY_METRIC_TAG) != primary_metric:
        return decide(
            False,
            f"champion v{current.version} was scored on {current.tags.get(PRIMARY_METRIC_TAG)!r}, "
            f"not {primary_metric!r}; promote by hand if intended",
        )
    try:
        best, basis = _champion_score(client, model_name, alias, current, rescore)
    except _NoComparison as refusal:
        return decide(refusal.promoted, refusal.reason)
    gain = (value - best) if higher_is_better else (best - value)
    if gain > min_improvement:
        return decide(True, f"{primary_metric} {value:.4f} beats champion v{current.version} ({best:.4f}, {basis})", best)
    if refresh_ties and rescore is not None and gain == 0 and current.tags.get(FINGERPRINT_TAG) != _run_fingerprint(client):
        return decide(True, f"{primary_metric} {value:.4f} ties champion v{current.version} ({basis}): refitted on newer data, a refresh", best)
    return decide(
        False,
        f"refused: {primary_metric} {value:.4f} does not beat champion v{current.version} ({best:.4f}, {basis})"
        f"{f' by more than {min_improvement}' if min_improvement else ''}; champion unchanged",
        best,
    )


class _NoComparison(Exception):
    """The champion cannot be compared with the candidate; the gate decides without a score."""

    def __init__(self, promoted: bool, reason: str) -> None:
        super().__init__(reason)
        self.promoted, self.reason = promoted, reason


def _champion_score(
    client: MlflowClient, model_name: str, alias: str, current: Any, rescore: Callable[[Path], float] | None
) -> tuple[float, str]:
    """The champion's primary metric on the candidate's data and how it was obtained: re-scored with
    ``rescore``, else as recorded when measured on data with the same fingerprint. Raises
    :class:`_NoComparison` when neither is possible."""
    if rescore is not None:
        try:
            with tempfile.TemporaryDirectory(prefix=f"{model_name}-") as scratch:
                return float(rescore(download_champion(model_name, alias, scratch))), "re-scored on this run's evaluation data"
        except ModelFormatError as error:
            raise _NoComparison(True, f"champion v{current.version} cannot be loaded by this engine ({error}); replaced") from error
        except EngineError as error:
            raise _NoComparison(
                False,
                f"refused: champion v{current.version} could not be re-scored on this run's data ({error}); "
                "champion unchanged, promote by hand if intended",
            ) from error
    fingerprint = _run_fingerprint(client)
    if current.tags.get(FINGERPRINT_TAG) != fingerprint:
        raise _NoComparison(
            False,
            f"refused: champion v{current.version} was measured on other data "
            f"(fingerprint {current.tags.get(FINGERPRINT_TAG)}, this run {fingerprint}) and cannot be "
            "re-scored here; champion unchanged",
        )
    return float(current.tags[PRIMARY_VALUE_TAG]), "as recorded on the same data"


def _run_fingerprint(client: MlflowClient) -> str | None:
    """The data fingerprint of the active run (None outside a run)."""
    run = mlflow.active_run()
    return client.get_run(run.info.run_id).data.tags.get("data.fingerprint") if run else None


def log_gate(decision: GateDecision) -> None:
    """Record the gate's decision on the active run (tag and JSON artifact)."""
    mlflow.set_tags({"gate.promoted": str(decision.promoted), "gate.reason": decision.reason})
    mlflow.log_dict(decision.as_dict(), "gate.json")
