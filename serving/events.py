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

import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse

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


class EventsAccepted(BaseModel):
    """What became of an accepted batch: every event is either newly stored or a duplicate."""

    model_config = ConfigDict(extra="forbid")
    inserted: int = Field(description="events stored by this call")
    duplicates: int = Field(description="events whose event_id was already stored (or repeated in the batch)")


def ingest(store: EventStore, batch: EventBatch) -> EventsAccepted | JSONResponse:
    """Append a validated batch in one committed transaction; a store failure is a 503 with the reason."""
    try:
        inserted, duplicates = store.append_rows([event.row() for event in batch.events])
    except (SQLAlchemyError, EngineError, OSError) as error:
        logger.error("event store %s failed: %s", store.url, error)
        reason = without_paths(str(error).splitlines()[0])[:300]
        return JSONResponse({"error": f"the event store is unavailable, nothing stored; retry later ({reason})"},
                            status_code=503)
    return EventsAccepted(inserted=inserted, duplicates=duplicates)
