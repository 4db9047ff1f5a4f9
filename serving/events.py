"""``POST /v1/events``: feedback events in batches, validated, appended to the event store.

A batch is all or nothing: the body is validated as a whole before anything is stored (the rules are
:class:`engine.feedback.validation.Event`, the same as for ``crm events load``), so a batch with a bad
event is refused with a 400 whose ``detail`` lists every bad event by its path (``events.3.timestamp``)
and nothing of it is stored; the client fixes those events and sends the batch again. A valid batch is
appended in one transaction that is committed before the answer ``{inserted, duplicates}`` leaves:
an acknowledged event is on disk, and an event sent again (same ``event_id``, e.g. a retry after a lost
answer) counts as a duplicate and is not stored twice. The store failing (disk full, database down) is
a 503 with the reason; the client keeps the batch and retries.

The route is a plain ASGI endpoint (:class:`EventsEndpoint`) rather than a BentoML API: the service's
worker only reads the body and hands its bytes to the worker's ingesting process, which parses, validates
and stores it (:class:`Ingester`). Parsing a batch of 500 events in the worker (JSON, pydantic, pickling
the parsed events for the ingesting process: ~4 ms of the worker's GIL per batch on an idle core) delayed
the recommendation calls that arrived meanwhile; passing bytes costs microseconds. The ingesting process
also runs at a lower CPU priority (:data:`INGESTER_NICENESS`) in a session (scheduling group) of its
own, so on a busy machine the recommendation calls get the cores first and ingestion takes what is left. Its OpenAPI entry is :func:`openapi_path`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from engine.errors import EngineError
from engine.feedback.events import EVENT_TYPES
from engine.feedback.store import EventStore
from engine.feedback.validation import ID_COLUMNS, MAX_BATCH_EVENTS, MAX_ID_LENGTH, Event
from serving.answers import without_paths
from serving.guard import BodyLimit, RequestRefused, read_body, send_error, send_json
from serving.metrics import shared_home
from serving.routes import EVENTS
from serving.settings import current

logger = logging.getLogger("crm.serving")

EVENTS_FILE = "events.sqlite"
# CPU priority of the ingesting process relative to the worker (os.nice): a recommendation call that
# competes with a batch for a core goes first; at 5 the ingester still gets a third of a contended
# core's share, several times what 2,000 events/s need (crm bench events)
INGESTER_NICENESS = 5
PARENT_CHECK_SECONDS = 1.0


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


class EventsAccepted(BaseModel):
    """What became of an accepted batch: every event is either newly stored or a duplicate."""

    model_config = ConfigDict(extra="forbid")
    inserted: int = Field(description="events stored by this call")
    duplicates: int = Field(description="events whose event_id was already stored (or repeated in the batch)")


def largest_event(number: int = 0) -> dict[str, Any]:
    """A valid event as long as events get in compact UTF-8 JSON: every id at :data:`MAX_ID_LENGTH`
    characters of 4 bytes each (``number`` varies the event id), the longest type, a timestamp with
    microseconds and an offset, numbers with 17 significant digits and an exponent."""
    wide = "\U0001F600" * (MAX_ID_LENGTH - 2)
    ids = {name: wide + "\U0001F600\U0001F600" for name in ID_COLUMNS}
    ids[ID_COLUMNS[0]] = wide + chr(0x1F600 + number // 64) + chr(0x1F600 + number % 64)
    return {**ids, "event_type": max(EVENT_TYPES, key=len), "timestamp": "2026-12-01T10:00:00.123456+01:00",
            "price": 1.2345678901234567e-05, "quantity": 1.2345678901234567e-05, "value": 1.2345678901234567e-11}


def compact_json(body: Any) -> bytes:
    """``body`` as the smallest JSON a client sends: UTF-8 characters as they are, no spaces."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@cache
def body_limit() -> BodyLimit:
    """The body limit of ``POST /v1/events``: room for :data:`MAX_BATCH_EVENTS` of :func:`largest_event`
    in compact JSON (~3.7 MB), whatever ``CRM_MAX_BODY_BYTES`` is below that."""
    envelope = len(compact_json({"events": []}))
    limit = envelope + MAX_BATCH_EVENTS * (len(compact_json(largest_event())) + 1)
    return BodyLimit(limit, f"{EVENTS} takes up to {MAX_BATCH_EVENTS} events with every id at its {MAX_ID_LENGTH}-character "
                            "maximum in 4-byte UTF-8 characters, as compact JSON (\\u escapes and spaces count); "
                            "send fewer events per batch")


Outcome = tuple[int, dict[str, Any]]  # HTTP status and JSON body
_STORES: dict[str, EventStore] = {}  # the ingesting process's store per URL (one connection pool each)


def ingest(url: str, body: bytes) -> Outcome:
    """Parse and validate a batch (the raw JSON body) and append it in one committed transaction (runs
    in the ingesting process). A body that is not JSON, or every bad event, is named in a 400 and
    nothing is stored; a store failure is a 503 with the reason."""
    try:
        batch = EventBatch.model_validate_json(body)
    except ValidationError as error:
        return 400, _refusal(error)
    store = _STORES.setdefault(url, EventStore(url))
    try:
        inserted, duplicates = store.append_rows([event.row() for event in batch.events])
    except (SQLAlchemyError, EngineError, OSError) as error:
        logger.error("event store %s failed: %s", url, error)
        return 503, _unavailable(without_paths(str(error).splitlines()[0])[:300])
    return 200, EventsAccepted(inserted=inserted, duplicates=duplicates).model_dump()


def _refusal(error: ValidationError) -> dict[str, Any]:
    """The 400 body: each problem by its path (``events.3.timestamp``), the bad events counted."""
    problems = error.errors(include_url=False, include_context=False, include_input=False)
    listed = "; ".join(f"{'.'.join(map(str, p['loc'])) or 'body'}: {p['msg']}" for p in problems[:20])
    bad = len({p["loc"][1] for p in problems if len(p["loc"]) > 1 and p["loc"][0] == "events"})
    what = f"{bad} invalid event(s)" if bad else f'the body is not {{"events": [1..{MAX_BATCH_EVENTS} events]}}'
    return {"error": f"{what}, nothing stored: {listed}", "detail": problems}


def _unavailable(reason: str) -> dict[str, Any]:
    return {"error": f"the event store is unavailable, nothing stored; retry later ({reason})"}


def _open(url: str) -> int:
    """Open the store (and create its table) ahead of the first batch; returns the stored count."""
    return _STORES.setdefault(url, EventStore(url)).count()


def _start_ingesting(worker: int) -> None:
    """The ingesting process's initializer: yield the CPU to the service's worker (module doc), and
    stop when the worker is gone (killed outright, it cannot stop its pool: the process would live on
    as an orphan, holding the store open).

    The process leaves the worker's session: Linux schedules each session as one group when
    autogrouping is on (the default of desktop and many server kernels), so in the worker's session
    every millisecond spent storing events was taken from the worker's own share of a busy machine;
    in a session of its own it draws on a fair share of its own. (Its nice value then only counts
    where autogrouping is off; lowering the group's own priority too starved ingestion below 2,000
    events/s at a load average of 34 on 2 cores.)"""
    os.setsid()
    os.nice(INGESTER_NICENESS)
    threading.Thread(target=_exit_with, args=(worker,), daemon=True, name="worker-watch").start()


def _exit_with(worker: int) -> None:
    """Exit the process once its parent ``worker`` is gone (checked every :data:`PARENT_CHECK_SECONDS`).
    A batch being stored then has no one to answer: its client resends it (idempotent on event_id)."""
    while os.getppid() == worker:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


class Ingester:
    """Runs :func:`ingest` in one process of its own per service worker, so that parsing, validating
    and storing a batch (milliseconds of Python per batch) never holds the worker's event loop or its
    GIL, and recommendations keep their latency while events stream in (``crm bench events``). Batches
    of one worker are stored one after the other; workers share the store (SQLite WAL, or a server)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: the worker runs threads, which a forked child must not inherit mid-lock
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_ingesting, initargs=(os.getpid(),))
        return self._pool

    async def start(self) -> None:
        """Start the ingesting process and open the store, so the first batch is not slower."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor(), _open, self.url)
        except Exception as error:  # the first batch will say why, with a 503
            logger.error("event store %s could not be opened: %s", self.url, error)

    async def __call__(self, body: bytes) -> Outcome:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor(), ingest, self.url, body)
        except BrokenProcessPool:  # the ingesting process died: the batch may not be stored; start a new one
            self._pool = None
            return 503, {"error": "the ingesting process stopped while storing this batch, which may or may not be "
                                  "stored; resend the same batch (events already stored count as duplicates)"}

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@cache
def ingester() -> Ingester:
    """The worker process's ingester, on the configured store (``CRM_EVENTS_URL``, else the default)."""
    return Ingester(current().events_url or default_events_url())


class EventsEndpoint:
    """``POST /v1/events`` as an ASGI middleware in front of the service's routes (behind the size limit
    and the key check): the body goes to :func:`ingester` as bytes (module doc); every other request
    passes untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != EVENTS:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await send_error(send, 405, f"{EVENTS} takes POST", [(b"allow", b"POST")])
            return
        try:
            body = await read_body(receive, max(body_limit().bytes, current().max_body_bytes))
        except RequestRefused as refused:
            await send_error(send, refused.status, refused.message)
            return
        status, answer = await ingester()(body)
        await send_json(send, status, answer)


def openapi_path() -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI path item of ``POST /v1/events`` and the component schemas it refers to (BentoML
    documents its own APIs only)."""
    schemas: dict[str, Any] = {}

    def reference(model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    error = {"type": "object", "properties": {"error": {"type": "string"}, "detail": {"type": "array"}}}
    operation = {
        "summary": "Store a batch of feedback events (all or none; idempotent on event_id), committed before the answer",
        "operationId": "ingest_events",
        "requestBody": {"required": True, "content": {"application/json": {"schema": reference(EventBatch)}}},
        "responses": {
            "200": answer("every event stored or a duplicate", reference(EventsAccepted)),
            "400": answer("not stored: the body or the listed events are invalid", error),
            "413": answer(f"not stored: the body is over {body_limit().bytes} bytes (or CRM_MAX_BODY_BYTES if larger)", error),
            "503": answer("not stored (or unknown, as the message says): resend the batch later", error),
        },
    }
    return {"post": operation}, schemas
