"""Independent fits side by side in threads.

LightGBM, implicit, BLAS and most of pandas' and numpy's heavy work release the GIL, so two fits that
share nothing but read-only inputs overlap on a second core. Each call runs in a copy of the caller's
context (it sees the caller's backend, a ContextVar), and BLAS is limited to one thread by the caller
for the whole block: OpenBLAS did not apply a limit set from a worker thread while the calling thread
held another, and implicit's own threads compete with BLAS's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from typing import TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")


def side_by_side(calls: Mapping[str, Callable[[], T]]) -> dict[str, Future[T]]:
    """Run every call, as many at once as there are cores (at most one per call), and return their
    finished futures by name: ``.result()`` gives the value or raises what the call raised."""
    workers = max(1, min(len(calls), os.cpu_count() or 1))
    with threadpool_limits(1, "blas"), ThreadPoolExecutor(max_workers=workers) as pool:
        return {name: pool.submit(copy_context().run, call) for name, call in calls.items()}
