"""MLflow tracking for every pipeline: runs with config, seed and data fingerprint, model registration,
and the champion gate. The only module (with the pipelines) that imports MLflow.

Default store: ``sqlite:///mlflow.db`` in the working directory (artifacts under ``./mlruns``), so a
data scientist's ``mlflow ui --backend-store-uri sqlite:///mlflow.db`` shows it. ``--tracking-uri`` or
``MLFLOW_TRACKING_URI`` points it at a team server instead.

A run that is interrupted (Ctrl-C, or SIGTERM from ``kill``, a scheduler or a container stop) ends
``FAILED`` with the reason in its ``failure`` tag: :func:`stop_on_signals` turns both signals into
exceptions that unwind every ``with`` block on the way out. A run whose process vanished without
unwinding (SIGKILL, out of memory) is marked ``FAILED`` by the next run in the same experiment on the
same machine, which finds its recorded process gone.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pydantic import BaseModel

from engine.data.dataset import ShopData
from engine.errors import EngineError, ModelFormatError
from engine.io import library_versions
from training.processes import Terminated, process_gone, scratch_folder, stop_on_signals  # noqa: F401 - commands use tracking.scratch_folder

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
CHAMPION = "champion"
_PRIMARY_METRIC_TAG = "primary_metric"
_PRIMARY_VALUE_TAG = "primary_metric_value"
_FINGERPRINT_TAG = "data.fingerprint"
_HOST_TAG, _PID_TAG, _FAILURE_TAG = "run.host", "run.pid", "failure"


def configure(tracking_uri: str | None = None) -> str:
    """Point MLflow at ``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else the local SQLite store."""
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    mlflow.set_tracking_uri(uri)
    return uri


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(f"{prefix}.{key}" if prefix else str(key), item))
        return flat
    return {prefix: value}


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@contextmanager
def tracked_run(
    experiment: str,
    config: BaseModel,
    shop: ShopData,
    seed: int | None,
    run_name: str | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run that records what makes it reproducible: the config (as params and as a JSON
    artifact), the seed, the data source, fingerprint and summary, library versions and git commit.

    Any failure, including Ctrl-C and SIGTERM, ends the run FAILED with the reason in its ``failure``
    tag; runs of this experiment left RUNNING by a process of this machine that no longer exists are
    marked FAILED first."""
    experiment_id = mlflow.set_experiment(experiment).experiment_id
    fail_orphaned_runs(experiment_id)
    with stop_on_signals(), mlflow.start_run(run_name=run_name) as run, _failure_recorded():
        config_dict = config.model_dump(mode="json")
        params = {k: str(v)[:500] for k, v in _flatten("", config_dict).items()}
        items = list(params.items())
        for start in range(0, len(items), 100):
            mlflow.log_params(dict(items[start : start + 100]))
        mlflow.log_dict(config_dict, "config.json")
        summary = shop.summary()
        mlflow.log_dict(summary, "data_summary.json")
        mlflow.set_tags(
            {
                "seed": str(seed),
                "data.source": shop.source,
                "data.fingerprint": summary["fingerprint"],
                "git_commit": _git_commit(),
                _HOST_TAG: socket.gethostname(),
                _PID_TAG: str(os.getpid()),
                **{f"version.{name}": v for name, v in library_versions().items()},
            }
        )
        yield run


@contextmanager
def _failure_recorded() -> Iterator[None]:
    """Tag the active run with why it failed (the exception, or the signal that stopped it)."""
    try:
        yield
    except BaseException as error:
        reason = str(error) if isinstance(error, Terminated) else f"{type(error).__name__}: {error}"
        try:
            mlflow.set_tag(_FAILURE_TAG, reason[:500] or type(error).__name__)
        except Exception:  # noqa: BLE001 - the original failure is what the user must see
            pass
        raise


def fail_orphaned_runs(experiment_id: str) -> list[str]:
    """Mark FAILED the RUNNING runs of ``experiment_id`` started on this machine by a process that no
    longer exists (killed with SIGKILL, out of memory, machine reset); returns their run ids. Runs of
    other machines, and of live processes, are left alone."""
    client, host, ended = MlflowClient(), socket.gethostname(), []
    for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000):
        tags = run.data.tags
        pid = tags.get(_PID_TAG, "")
        if tags.get(_HOST_TAG) == host and pid.isdigit() and int(pid) != os.getpid() and process_gone(int(pid)):
            client.set_tag(run.info.run_id, _FAILURE_TAG, f"process {pid} on {host} ended without finishing the run")
            client.set_terminated(run.info.run_id, status="FAILED")
            ended.append(run.info.run_id)
    return ended


def metric_key(name: str) -> str:
    """An MLflow-safe metric name: ``ndcg@10`` -> ``ndcg_at_10`` (MLflow forbids ``@``)."""
    return name.replace("@", "_at_")


def log_metrics(metrics: dict[str, float], prefix: str = "") -> None:
    """Log numeric metrics on the active run under MLflow-safe names, skipping non-finite values."""
    import math

    clean = {
        metric_key(f"{prefix}{name}"): float(value)
        for name, value in metrics.items()
        if isinstance(value, (int, float)) and math.isfinite(value)
    }
    mlflow.log_metrics(clean)


def log_figure(figure: Any, name: str) -> None:
    """Log a matplotlib figure as a PNG artifact under ``plots/`` and close it."""
    import matplotlib.pyplot as plt

    mlflow.log_figure(figure, f"plots/{name}.png")
    plt.close(figure)


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


def register_model(
    model_dir: str | Path,
    model_name: str,
    primary_metric: str,
    value: float,
    higher_is_better: bool = True,
) -> str:
    """Log an engine model folder as artifacts of the active run and register it as a new version of
    ``model_name``; the primary metric and the data it was measured on are stored on the version."""
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("register_model needs an active MLflow run (use tracked_run)")
    mlflow.log_artifacts(str(model_dir), "model")
    client = MlflowClient()
    try:
        client.create_registered_model(model_name)
    except MlflowException as error:
        if "RESOURCE_ALREADY_EXISTS" not in str(error.error_code):
            raise
    fingerprint = client.get_run(run.info.run_id).data.tags.get("data.fingerprint", "unknown")
    version = client.create_model_version(
        model_name,
        source=mlflow.get_artifact_uri("model"),
        run_id=run.info.run_id,
        tags={
            _PRIMARY_METRIC_TAG: primary_metric,
            _PRIMARY_VALUE_TAG: repr(float(value)),
            _FINGERPRINT_TAG: fingerprint,
            "higher_is_better": str(higher_is_better),
        },
    )
    return str(version.version)


def promote_if_better(
    model_name: str,
    version: str,
    primary_metric: str,
    value: float,
    higher_is_better: bool = True,
    min_improvement: float = 0.0,
    alias: str = CHAMPION,
    rescore: Callable[[Path], float] | None = None,
) -> GateDecision:
    """Move ``alias`` to ``version`` only if it beats the current holder on ``primary_metric`` by more
    than ``min_improvement``; otherwise leave the champion in place and say why.

    Both must be measured on the same data. With ``rescore`` (a function that loads a model folder and
    returns its primary metric on this run's evaluation data) the champion is re-scored here, which is
    what routine retraining on grown data needs. Without it, the champion's recorded value is used only
    if it was measured on data with the same fingerprint; otherwise the gate refuses and says why. A
    champion that this engine can no longer load is replaced.
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
    if current.tags.get(_PRIMARY_METRIC_TAG) != primary_metric:
        return decide(
            False,
            f"champion v{current.version} was scored on {current.tags.get(_PRIMARY_METRIC_TAG)!r}, "
            f"not {primary_metric!r}; promote by hand if intended",
        )
    try:
        best, basis = _champion_score(client, model_name, alias, current, rescore)
    except _NoComparison as refusal:
        return decide(refusal.promoted, refusal.reason)
    gain = (value - best) if higher_is_better else (best - value)
    if gain > min_improvement:
        return decide(True, f"{primary_metric} {value:.4f} beats champion v{current.version} ({best:.4f}, {basis})", best)
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
    run = mlflow.active_run()
    fingerprint = client.get_run(run.info.run_id).data.tags.get("data.fingerprint") if run else None
    if current.tags.get(_FINGERPRINT_TAG) != fingerprint:
        raise _NoComparison(
            False,
            f"refused: champion v{current.version} was measured on other data "
            f"(fingerprint {current.tags.get(_FINGERPRINT_TAG)}, this run {fingerprint}) and cannot be "
            "re-scored here; champion unchanged",
        )
    return float(current.tags[_PRIMARY_VALUE_TAG]), "as recorded on the same data"


def log_gate(decision: GateDecision) -> None:
    """Record the gate's decision on the active run (tag and JSON artifact)."""
    mlflow.set_tags({"gate.promoted": str(decision.promoted), "gate.reason": decision.reason})
    mlflow.log_dict(decision.as_dict(), "gate.json")


def download_champion(model_name: str, alias: str = CHAMPION, destination: str | Path | None = None) -> Path:
    """Download the files of the version holding ``alias`` (an engine model folder) and return its path."""
    target = str(destination) if destination else tempfile.mkdtemp(prefix=f"{model_name}-")
    return Path(mlflow.artifacts.download_artifacts(f"models:/{model_name}@{alias}", dst_path=target))


def champion_version(model_name: str, alias: str = CHAMPION) -> str | None:
    """The version number holding ``alias``, or None if there is none."""
    try:
        return str(MlflowClient().get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def move_alias(model_name: str, alias: str, version: str, tags: dict[str, str] | None = None) -> None:
    """Point ``alias`` at ``version`` (the registry is the only place serving reads it from) and record
    ``tags`` on that version (who moved it and why)."""
    client = MlflowClient()
    client.set_registered_model_alias(model_name, alias, version)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(model_name, version, key, value)


def remove_alias(model_name: str, alias: str, tags: dict[str, str] | None = None) -> None:
    """Delete ``alias`` (nothing is served under it afterwards), recording ``tags`` on the version
    that held it."""
    client = MlflowClient()
    version = client.get_model_version_by_alias(model_name, alias).version
    for key, value in (tags or {}).items():
        client.set_model_version_tag(model_name, version, key, value)
    client.delete_registered_model_alias(model_name, alias)


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write a benchmark or report payload as indented JSON, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=float))
    return path


@contextmanager
def quiet_downloads() -> Iterator[None]:
    """MLflow's per-file download progress bars off while the block runs (one line per step instead)."""
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    name = MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name
    previous = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name)
        else:
            os.environ[name] = previous


def version_run_tags(model_name: str, version: str) -> dict[str, str]:
    """The tags of the run that produced a registered model version (data source, fingerprint, ...)."""
    client = MlflowClient()
    return dict(client.get_run(client.get_model_version(model_name, version).run_id).data.tags)


def version_tags(model_name: str, version: str) -> dict[str, str]:
    """The tags of a registered model version itself (primary metric, decisions recorded on it)."""
    return dict(MlflowClient().get_model_version(model_name, version).tags)


def download_version(model_name: str, version: str, destination: str | Path) -> Path:
    """Download the files of one registered version; an unknown version is an EngineError naming it."""
    from mlflow.exceptions import MlflowException

    try:
        return Path(mlflow.artifacts.download_artifacts(f"models:/{model_name}/{version}", dst_path=str(destination)))
    except MlflowException as error:
        raise EngineError(f"{model_name} has no version {version!r} in the registry "
                          f"({str(error).splitlines()[0][:200]})") from None


def version_run_json(model_name: str, version: str, artifact: str, destination: str | Path) -> dict[str, Any] | None:
    """A JSON artifact of the run that produced a registered version (None when the run has none)."""
    run_id = MlflowClient().get_model_version(model_name, version).run_id
    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact, dst_path=str(destination))
    except MlflowException:
        return None
    return dict(json.loads(Path(path).read_text()))


def set_tags(tags: dict[str, Any]) -> None:
    """Tags on the active run."""
    mlflow.set_tags(tags)


def log_params(params: dict[str, Any]) -> None:
    """Parameters of the active run."""
    mlflow.log_params(params)


def log_dict(payload: dict[str, Any], name: str) -> None:
    """A JSON artifact of the active run."""
    mlflow.log_dict(payload, name)


def log_artifact(path: str | Path, folder: str | None = None) -> None:
    """A file artifact of the active run (under ``folder``)."""
    mlflow.log_artifact(str(path), folder)
