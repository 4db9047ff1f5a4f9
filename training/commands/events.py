"""``crm events load FILE``: feedback events from a file into the event store the service writes to.

The file is read like transactions (CSV, csv.gz or parquet; ``--map``, ``--encoding``,
``--timestamp-format``; bad rows stop the load naming row, field and rule, or go to ``--quarantine``)
and checked against the same contract as ``POST /v1/events`` (:mod:`engine.feedback.validation`).
Loading is idempotent on ``event_id``: a file loaded twice, or overlapping what the service stored,
adds only the events not stored yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.data.sources import parse_column_map
from engine.feedback.store import EventStore
from engine.feedback.validation import read_events
from training.commands.data import EncodingOption, MapOption, QuarantineOption, TimestampFormatOption, write_quarantine
from training.console import console, step

app = typer.Typer(help="Feedback events (what customers did after an answer): load them into the event store.",
                  no_args_is_help=True)
UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="SQLAlchemy URL of the event store (default: $CRM_EVENTS_URL, else events.sqlite "
                               "next to the BentoML model store: the store `crm serve` writes to)."),
]
CHUNK_ROWS = 50_000  # one transaction each: a crash mid-load keeps what was committed; a rerun adds the rest


def events_url(url: str | None = None) -> str:
    """The event store's URL: ``url``, else the service's setting (``CRM_EVENTS_URL``), else its default."""
    from serving.events import default_events_url
    from serving.settings import ServingSettings

    return url or ServingSettings.from_env().events_url or default_events_url()


@app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="Events file: CSV, csv.gz or parquet with the event columns.")],
    column_map: MapOption = None,
    quarantine: QuarantineOption = None,
    timestamp_format: TimestampFormatOption = None,
    encoding: EncodingOption = None,
    url: UrlOption = None,
) -> None:
    """Validate an events file and append it to the event store (idempotent on event_id).

    Columns: event_id, event_type, timestamp, customer_id (required); item_id, request_id,
    bundle_version, model_version, variant, price, quantity, value (optional)."""
    with step(f"reading and validating {file}"):
        events, report = read_events(file, parse_column_map(column_map), "quarantine" if quarantine else "raise",
                                     timestamp_format, encoding)
    if report.rows_quarantined:
        console.print(report.summary())
        write_quarantine([report], quarantine)
    store = EventStore(events_url(url))
    inserted = duplicates = 0
    with step(f"appending {len(events):,} events to the event store"):
        for start in range(0, len(events), CHUNK_ROWS):
            added, repeated = store.append(events.iloc[start : start + CHUNK_ROWS])
            inserted, duplicates = inserted + added, duplicates + repeated
    store.close()
    console.print(f"{inserted:,} events stored, {duplicates:,} already there (same event_id), "
                  f"{report.rows_quarantined:,} quarantined; store: {store.url}")
