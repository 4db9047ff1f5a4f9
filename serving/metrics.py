"""The service's own Prometheus counters, next to BentoML's request metrics on ``/metrics``.

Created on first use inside the worker (after BentoML has set up multiprocess metrics), once per
process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any


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
