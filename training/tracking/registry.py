"""The MLflow model registry: register an engine model folder as a version, read and move aliases, and
download a version's files or its run's artifacts."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from engine.errors import EngineError

CHAMPION = "champion"
PRIMARY_METRIC_TAG = "primary_metric"
PRIMARY_VALUE_TAG = "primary_metric_value"
FINGERPRINT_TAG = "data.fingerprint"


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
            PRIMARY_METRIC_TAG: primary_metric,
            PRIMARY_VALUE_TAG: repr(float(value)),
            FINGERPRINT_TAG: fingerprint,
            "higher_is_better": str(higher_is_better),
        },
    )
    return str(version.version)


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
