"""``POST /v1/events``: feedback events in batches, validated, appended to the event store.

A batch is all or nothing: the body is validated as a whole before anything is stored (the rules are
:class:`engine.feedback.validation.Event`, the same as for ``crm events load``), so a batch with a bad
event is refused with a 400 whose ``detail`` lists every bad event by its path (``events.3.timestamp``)
and nothing of it is stored; the client fixes those events and sends the batch again. A valid batch is
appended in one transaction that is committed before the answer ``{inserted, duplicates}`` leaves:
an acknowledged event is on disk, and an event sent again (same ``event_id``, e.g. a retry after a lost
answer) counts as a duplicate and is not stored twice. The store failing (disk full, database down) is
a 503 with the reason; the client keeps the batch and retries.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from engine.errors import EngineError
from engine.feedback.store import EventStore
from engine.feedback.validation import MAX_BATCH_EVENTS, Event
from serving.answers import without_paths
from serving.metrics import shared_home

logger = logging.getLogger("crm.serving")

EVENTS_FILE = "events.sqlite"


def default_events_url(bentoml_home: Path | None = None) -> str:
    """``sqlite:///<home>/events.sqlite`` next to the BentoML model store the bundles come from: the
    same file for ``crm serve`` (whose own home links that store) and ``crm events load``."""
    home = shared_home(bentoml_home)
    store = home / "models"
    if store.is_symlink():  # a service instance's home (serving.metrics.instance_home): go to the shared one
        home = store.resolve().parent
    return f"sqlite:///{home / EVENTS_FILE}"


class EventBatch(BaseModel):
    """A batch of feedback events (all stored, or none)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH_EVENTS,
                                description=f"1..{MAX_BATCH_EVENTS} events; repeated event_ids are stored once")


class EventBatchBody(BaseModel):
    """The body of ``POST /v1/events`` as the endpoint receives it: each event is checked as an
    :class:`Event` (the schema shown) in the ingesting process, not in the worker's event loop."""

    model_config = ConfigDict(extra="forbid")
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH_EVENTS,
                                         json_schema_extra={"items": Event.model_json_schema()},
                                         description=f"1..{MAX_BATCH_EVENTS} events; repeated event_ids are stored once")


class EventsAccepted(BaseModel):
    """What became of an accepted batch: every event is either newly stored or a duplicate."""

    model_config = ConfigDict(extra="forbid")
    inserted: int = Field(description="events stored by this call")
    duplicates: int = Field(description="events whose event_id was already stored (or repeated in the batch)")


Outcome = tuple[int, dict[str, Any]]  # HTTP status and JSON body
_STORES: dict[str, EventStore] = {}  # the ingesting process's store per URL (one connection pool each)


def ingest(url: str, events: list[dict[str, Any]]) -> Outcome:
    """Validate a batch and append it in one committed transaction (runs in the ingesting process).
    Every bad event is named in a 400 and nothing is stored; a store failure is a 503 with the reason."""
    try:
        batch = EventBatch.model_validate({"events": events})
    except ValidationError as error:
        problems = error.errors(include_url=False, include_context=False, include_input=False)
        listed = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems[:20])
        bad = len({p["loc"][1] for p in problems if len(p["loc"]) > 1})
        return 400, {"error": f"{bad} invalid event(s), nothing stored: {listed}", "detail": problems}
    store = _STORES.setdefault(url, EventStore(url))
    try:
        inserted, duplicates = store.append_rows([event.row() for event in batch.events])
    except (SQLAlchemyError, EngineError, OSError) as error:
        logger.error("event store %s failed: %s", url, error)
        return 503, _unavailable(without_paths(str(error).splitlines()[0])[:300])
    return 200, EventsAccepted(inserted=inserted, duplicates=duplicates).model_dump()


def _unavailable(reason: str) -> dict[str, Any]:
    return {"error": f"the event store is unavailable, nothing stored; retry later ({reason})"}


def _open(url: str) -> int:
    """Open the store (and create its table) ahead of the first batch; returns the stored count."""
    return _STORES.setdefault(url, EventStore(url)).count()


class Ingester:
    """Runs :func:`ingest` in one process of its own per service worker, so that validating and
    storing a batch (milliseconds of Python per batch) never holds the worker's event loop or its GIL,
    and recommendations keep their latency while events stream in (``crm bench events``). Batches of
    one worker are stored one after the other; workers share the store (SQLite WAL, or a server)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: the worker runs threads, which a forked child must not inherit mid-lock
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    async def start(self) -> None:
        """Start the ingesting process and open the store, so the first batch is not slower."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor(), _open, self.url)
        except Exception as error:  # the first batch will say why, with a 503
            logger.error("event store %s could not be opened: %s", self.url, error)

    async def __call__(self, events: list[dict[str, Any]]) -> Outcome:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor(), ingest, self.url, events)
        except BrokenProcessPool:  # the ingesting process died: the batch may not be stored; start a new one
            self._pool = None
            return 503, {"error": "the ingesting process stopped while storing this batch, which may or may not be "
                                  "stored; resend the same batch (events already stored count as duplicates)"}

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
