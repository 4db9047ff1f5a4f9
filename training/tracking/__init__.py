"""MLflow tracking for every pipeline: runs with config, seed and data fingerprint, model registration,
and the champion gate. The only package that imports MLflow: :mod:`.runs`, :mod:`.registry` and :mod:`.gate`.

Default store: ``sqlite:///mlflow.db`` in the working directory (artifacts under ``./mlruns``), so a
data scientist's ``mlflow ui --backend-store-uri sqlite:///mlflow.db`` shows it. ``--tracking-uri`` or
``MLFLOW_TRACKING_URI`` points it at a team server instead.

A run that is interrupted (Ctrl-C, or SIGTERM from ``kill``, a scheduler or a container stop) ends
``FAILED`` with the reason in its ``failure`` tag: :func:`stop_on_signals` turns both signals into
exceptions that unwind every ``with`` block on the way out. A run whose process vanished without
unwinding (SIGKILL, out of memory) is marked ``FAILED`` by the next run in the same experiment on the
same machine, which finds its recorded process gone.
"""

from training.processes import Terminated, scratch_folder, stop_on_signals
from training.tracking.gate import GateDecision, log_gate, promote_if_better
from training.tracking.registry import (
    CHAMPION,
    champion_version,
    download_champion,
    download_version,
    move_alias,
    quiet_downloads,
    register_model,
    remove_alias,
    version_run_json,
    version_run_tags,
    version_tags,
)
from training.tracking.runs import (
    DEFAULT_TRACKING_URI,
    configure,
    fail_orphaned_runs,
    log_artifact,
    log_dict,
    log_figure,
    log_metrics,
    log_params,
    metric_key,
    set_tags,
    tracked_run,
    write_json,
)

__all__ = [
    "CHAMPION", "DEFAULT_TRACKING_URI", "GateDecision", "Terminated", "champion_version", "configure", "download_champion",
    "download_version", "fail_orphaned_runs", "log_artifact", "log_dict", "log_figure", "log_gate", "log_metrics", "log_params",
    "metric_key", "move_alias", "promote_if_better", "quiet_downloads", "register_model", "remove_alias", "scratch_folder",
    "set_tags", "stop_on_signals", "tracked_run", "version_run_json", "version_run_tags", "version_tags", "write_json",
]
