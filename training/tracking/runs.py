"""MLflow runs: the tracking store, a run that records what makes it reproducible (and how it failed),
and what a pipeline logs on the active run (metrics, figures, parameters, artifacts)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from pydantic import BaseModel

from engine.data.dataset import ShopData
from engine.errors import EngineError
from engine.io import library_versions
from training.processes import Terminated, process_gone, stop_on_signals

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
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
    experiment_id = _experiment_id(experiment)
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


def _experiment_id(experiment: str) -> str:
    """The id of ``experiment`` in the configured store, created if new; a store MLflow refuses (a
    file store it no longer writes, a database it cannot open) is the user's setting, named as such."""
    try:
        return str(mlflow.set_experiment(experiment).experiment_id)
    except mlflow.exceptions.MlflowException as error:
        raise EngineError(f"the MLflow tracking store {mlflow.get_tracking_uri()!r} (MLFLOW_TRACKING_URI) cannot be used: "
                          f"{error}") from error


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


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write a benchmark or report payload as indented JSON, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=float))
    return path
