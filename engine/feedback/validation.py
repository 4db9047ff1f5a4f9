"""The contract of one feedback event, for the HTTP body and for files alike.

:class:`Event` is the rule book (a pydantic model, so the service's OpenAPI document shows it and a bad
field is named with its path, ``events.3.timestamp``); :func:`validate_events` applies the very same
model to the rows of a file, with the quarantine and error conventions of transactions
(:mod:`engine.data.schema`): each bad value is reported with its 1-based row and field, and bad rows stop
the load (``"raise"``) or are set aside with the rule they broke (``"quarantine"``).

Rules:

- ``event_type`` is one of :data:`engine.feedback.events.EVENT_TYPES`;
- ``event_id`` and ``customer_id`` are non-blank strings of at most :data:`MAX_ID_LENGTH` characters;
  the other ids (item, request, bundle and model versions, variant) may be missing (stored as ``""``);
- ``timestamp`` is an ISO 8601 date-time text with a UTC offset (``2026-12-05T10:00:00Z`` or
  ``+01:00``; in a file, a column without offsets is read as UTC, like transactions), is converted to
  UTC, is not before :data:`EARLIEST` and not more than :data:`FUTURE_TOLERANCE` after now (clock
  skew). Numbers (epoch seconds or milliseconds: the unit cannot be told from the value) are refused in
  the HTTP body as in a file, as for transactions;
- ``price``, ``quantity`` and ``value`` are finite, non-negative and within :data:`MAX_PRICE`,
  :data:`MAX_QUANTITY` and :data:`MAX_VALUE`; ``price`` and ``quantity`` may be missing, ``value`` is 0
  when missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from engine.data.coerce import coerce_id
from engine.data.timestamps import coerce_timestamp
from engine.data.validation_report import BadRows, ValidationReport, finish, issue_frame, require_columns
from engine.errors import DataValidationError
from engine.feedback.events import EVENT_TYPES, EventColumns

MAX_ID_LENGTH = 128
MAX_PRICE = 1e7  # currency units per unit, as for transactions and price requests
MAX_QUANTITY = 1e6  # units on one event, as limits.max_abs_quantity of transactions
MAX_VALUE = 1e13  # MAX_PRICE x MAX_QUANTITY: still exact to the cent in float64
FUTURE_TOLERANCE = timedelta(minutes=5)
EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
MAX_BATCH_EVENTS = 1_000

E = EventColumns
ID_COLUMNS = (E.event_id, E.customer_id, E.item_id, E.request_id, E.bundle_version, E.model_version, E.variant)
NUMBER_COLUMNS = (E.price, E.quantity, E.value)
REQUIRED_COLUMNS = (E.event_id, E.event_type, E.timestamp, E.customer_id)


def _plausible_moment(moment: datetime) -> datetime:
    """In UTC; refused before EARLIEST or more than FUTURE_TOLERANCE after now."""
    moment = moment.astimezone(timezone.utc)
    if moment < EARLIEST:
        raise ValueError(f"timestamp before {EARLIEST.date()}")
    latest = datetime.now(timezone.utc) + FUTURE_TOLERANCE
    if moment > latest:
        raise ValueError(f"timestamp in the future (after now + {FUTURE_TOLERANCE.total_seconds() / 60:g} min)")
    return moment


NUMBER_TIMESTAMP = ("a number is not a timestamp here (epoch seconds or milliseconds cannot be told apart): "
                    "send ISO 8601 text with a UTC offset, e.g. 2026-12-05T10:00:00Z")


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _is_number(value: Any) -> bool:
    """A number or a number's text (a bool is neither); NaN and None are missing, not numbers."""
    if isinstance(value, str):
        return _NUMBER.fullmatch(value) is not None
    return isinstance(value, int | float | np.number) and not isinstance(value, bool) and not pd.isna(value)


def _not_a_number(value: Any) -> Any:
    """Refuse numbers and number texts, which pydantic would read as epoch seconds or milliseconds by
    their size."""
    if _is_number(value):
        raise ValueError(NUMBER_TIMESTAMP)
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(_plausible_moment)]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(value: str | None) -> str | None:
    if value is not None and _CONTROL.search(value):
        raise ValueError("contains a control character (NUL, tab, newline, ...)")
    return value


RequiredId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"\S"), AfterValidator(_printable)]
OptionalId = Annotated[str | None, Field(None, max_length=MAX_ID_LENGTH), AfterValidator(_printable)]


class Event(BaseModel):
    """One feedback event (module docstring for the rules); unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    event_id: RequiredId = Field(description="unique id chosen by the client; a repeat is ignored (idempotent)")
    event_type: Literal[EVENT_TYPES] = Field(description="what happened")  # type: ignore[valid-type]
    timestamp: Moment = Field(description="when, with a UTC offset (e.g. 2026-12-05T10:00:00Z)")
    customer_id: RequiredId
    item_id: OptionalId = Field(None, description="product of the recommendation, quote or offer")
    request_id: OptionalId = Field(None, description="request_id of the answer this event responds to")
    bundle_version: OptionalId = Field(None, description="bundle_version of that answer")
    model_version: OptionalId = Field(None, description="model_version of that answer")
    variant: OptionalId = Field(None, description="variant of that answer (experiment arm)")
    price: float | None = Field(None, ge=0, le=MAX_PRICE, description=f"price shown or paid (0..{MAX_PRICE:g})")
    quantity: float | None = Field(None, ge=0, le=MAX_QUANTITY, description=f"units bought (0..{MAX_QUANTITY:g})")
    value: float = Field(0.0, ge=0, le=MAX_VALUE, description="revenue of the event (price x quantity)")

    @model_validator(mode="after")
    def _value_within_price_times_quantity(self) -> Event:
        """A value above price x quantity is a typo or a forgery, and one such event would dominate
        revenue per customer; a lower one is a discount and is kept."""
        if self.price is not None and self.quantity is not None and self.value > self.price * self.quantity * (1 + 1e-9) + 0.01:
            raise ValueError(f"value {self.value:g} is above price x quantity ({self.price:g} x {self.quantity:g})")
        return self

    def row(self) -> dict[str, Any]:
        """The event as a row of the events table: missing ids as ``""``, the timestamp naive UTC."""
        values = self.model_dump()
        for name in ID_COLUMNS:
            values[name] = values[name] or ""
        values[E.timestamp] = self.timestamp.replace(tzinfo=None)
        return values


def _problems(error: ValidationError) -> list[tuple[str, str, Any]]:
    """(field, message, value) of each problem of one row's validation error."""
    found = []
    for problem in error.errors(include_url=False):
        field = str(problem["loc"][0]) if problem["loc"] else "row"
        missing = problem["type"] == "missing"
        found.append((field, "missing value" if missing else problem["msg"], None if missing else problem.get("input")))
    return found


def validate_events(
    raw: pd.DataFrame, on_bad_rows: BadRows = "raise", timestamp_format: str | None = None
) -> tuple[pd.DataFrame, ValidationReport]:
    """Enforce the event contract on a table read from a file; return the clean events table and a
    report. Unknown columns are refused (a misspelt ``item_id`` must not be dropped silently)."""
    require_columns("events", raw, REQUIRED_COLUMNS)
    unknown = sorted(set(raw.columns) - set(E.ALL))
    if unknown:
        raise DataValidationError(
            f"events: unknown column(s) {unknown}; the columns are {list(E.ALL)}. "
            "Map your names to these (CLI --map) or drop the others."
        )
    raw = raw.reset_index(drop=True)
    typed = pd.DataFrame(index=raw.index)
    for name in raw.columns:
        typed[name] = coerce_id(raw[name]) if name in ID_COLUMNS else raw[name]
    numbers = raw[E.timestamp].map(_is_number).astype(bool)  # refused with the HTTP body's rule, row by row
    moments, issues = coerce_timestamp(raw[E.timestamp].astype(object).where(~numbers, None), timestamp_format)
    typed[E.timestamp] = moments.dt.tz_localize(timezone.utc).astype(object).where(moments.notna(), None)
    issues = pd.concat([issues, issue_frame(raw.loc[numbers, E.timestamp], E.timestamp, NUMBER_TIMESTAMP)], ignore_index=True)
    unreadable = set(issues["row"] - 1)
    parts, rows = [issues], []
    records = typed.astype(object).where(typed.notna(), None).to_dict("records")
    for position, cells in enumerate(records):
        record = {name: value for name, value in cells.items() if value is not None}  # a blank cell is absent
        if position in unreadable:  # already reported; a missing timestamp is not a second problem
            record[E.timestamp] = EARLIEST
        try:
            rows.append(Event.model_validate(record).row())
        except ValidationError as error:  # a bad row's values are never kept: finish sets it aside
            parts += [issue_frame(pd.Series([value], index=[position], dtype=object), field, message)
                      for field, message, value in _problems(error)]
            rows.append(dict.fromkeys(E.ALL))
    table = pd.DataFrame(rows, columns=list(E.ALL), index=raw.index)
    clean, report = finish("events", raw, table, parts, on_bad_rows)
    return clean.astype({name: "float64" for name in NUMBER_COLUMNS}), report


def read_events(
    path: str | Path,
    column_map: Mapping[str, str] | None = None,
    on_bad_rows: BadRows = "raise",
    timestamp_format: str | None = None,
    encoding: str | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Read an events file (CSV, csv.gz, parquet) the way transactions are read (:mod:`engine.data.reader`),
    rename its columns by ``column_map`` (yours -> canonical) and validate it (:func:`validate_events`)."""
    from engine.data.sources import TableFile, _shop_table

    targets = set((column_map or {}).values()) - set(E.ALL)
    if targets:
        raise DataValidationError(f"column map targets {sorted(targets)} are not event columns; they are {list(E.ALL)}")
    raw = _shop_table(TableFile(file=str(path), columns=dict(column_map or {})), encoding)
    return validate_events(raw, on_bad_rows, timestamp_format)

