"""The service's own Prometheus counters, next to BentoML's request metrics on ``/metrics``, and the
BentoML home each service instance runs with so that its metrics are its own.

Counters are created on first use inside the worker (after BentoML has set up multiprocess metrics),
once per process.

``bentoml serve`` empties ``<BENTOML_HOME>/prometheus_multiproc_dir`` when it starts, and every worker
writes its samples there; two services on one home (``crm serve demo`` next to ``crm serve``) therefore
wiped the first one's metrics and then mixed both services' samples. :func:`instance_home` gives each
service a home of its own that shares the model store, so it still serves what ``crm serve import``
stores. BentoML offers no public setting for that folder (it is always under the home), hence a home.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

INSTANCES_DIR = "instances"


@dataclass(frozen=True)
class Counters:
    bundle_loads: Any  # labels: outcome = ok | failed
    cold_starts: Any  # labels: endpoint; answers for a customer, item or product without history


@cache
def counters() -> Counters:
    from prometheus_client import Counter

    return Counters(
        bundle_loads=Counter("crm_bundle_loads", "Bundle load attempts by outcome", ["outcome"]),
        cold_starts=Counter("crm_cold_start_answers", "Answers for a customer, item or product without history", ["endpoint"]),
    )


def shared_home(bentoml_home: Path | None = None) -> Path:
    """The BentoML home whose model store the services serve from: ``bentoml_home``, else
    ``$BENTOML_HOME``, else BentoML's default ``~/bentoml``."""
    return Path(bentoml_home or os.environ.get("BENTOML_HOME") or Path.home() / "bentoml").expanduser().resolve()


def instance_home(port: int, bentoml_home: Path | None = None) -> Path:
    """The BentoML home of the service that listens on ``port``: ``<home>/instances/<port>``, with its own
    Prometheus folder and its ``models`` linked to the shared model store. Only one service can listen
    on a port at a time, so a restart reuses (and BentoML empties) the same folder: they do not pile up."""
    shared = shared_home(bentoml_home)
    store = shared / "models"
    home = shared / INSTANCES_DIR / str(port)
    store.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    link = home / "models"
    if link.is_symlink() and link.resolve() != store:
        link.unlink()
    if not link.is_symlink():
        link.symlink_to(store, target_is_directory=True)
    return home
