"""Where the heavy verbs of the pipelines run: in this process (``local``, the default) or on Apache
Spark (``spark``, the optional extra ``crm-engine[spark]``).

A pipeline never imports a backend directly. The few functions that reduce a whole transactions table
(or fan out per product) ask :func:`active_backend` for the implementation; a caller chooses one for a
block of work with ``with use_backend(backend): ...``. Everything else (scores, rules, models on
aggregates) runs the same code whatever the backend, so both give the same answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from engine.backend.base import Backend
from engine.backend.local import LocalBackend

_ACTIVE: ContextVar[Backend] = ContextVar("crm_backend", default=LocalBackend())  # noqa: B039 - its only state is a cache of derived frames


def active_backend() -> Backend:
    """The backend the current block of work runs on (``LocalBackend`` unless one was chosen)."""
    return _ACTIVE.get()


@contextmanager
def use_backend(backend: Backend) -> Iterator[Backend]:
    """Run the verbs called inside the block on ``backend``; the previous one is restored after."""
    token = _ACTIVE.set(backend)
    try:
        yield backend
    finally:
        _ACTIVE.reset(token)
