"""The event contract: one pydantic model for the HTTP body and for files, with errors naming index/row and field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from pydantic import ValidationError

from engine.errors import DataValidationError
from engine.feedback.events import EventColumns as E
from engine.feedback.validation import MAX_ID_LENGTH, NUMBER_TIMESTAMP, Event, read_events, validate_events

GOOD = {"event_id": "e1", "event_type": "rec_clicked", "timestamp": "2026-11-01T10:00:00+02:00", "customer_id": "c1"}


def problems(body: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        Event.model_validate(body)
    return {str(p["loc"][0]): p["msg"] for p in caught.value.errors()}


def test_a_good_event_is_converted_to_utc_with_empty_optional_ids() -> None:
    row = Event.model_validate({**GOOD, "price": 2.5, "quantity": 2, "value": 5}).row()
    assert row[E.timestamp] == datetime(2026, 11, 1, 8, 0) and row[E.item_id] == "" and row[E.value] == 5.0


@pytest.mark.parametrize(("change", "field"), [
    ({"event_type": "rec_clikced"}, "event_type"),
    ({"event_id": ""}, "event_id"),
    ({"event_id": "   "}, "event_id"),
    ({"customer_id": "c" * (MAX_ID_LENGTH + 1)}, "customer_id"),
    ({"customer_id": 17}, "customer_id"),
    ({"item_id": "p" * (MAX_ID_LENGTH + 1)}, "item_id"),
    ({"timestamp": "2026-11-01T10:00:00"}, "timestamp"),  # no offset: its zone is unknown
    ({"timestamp": "yesterday"}, "timestamp"),
    ({"timestamp": "1970-01-01T00:00:00Z"}, "timestamp"),
    ({"price": -1}, "price"),
    ({"price": 1e8}, "price"),
    ({"price": float("nan")}, "price"),
    ({"quantity": float("inf")}, "quantity"),
    ({"value": 1e14}, "value"),
    ({"prise": 3}, "prise"),
])
def test_each_broken_rule_names_its_field(change: dict, field: str) -> None:
    assert field in problems({**GOOD, **change})


@pytest.mark.parametrize("epoch", [1764928800, 1764928800.5, 1764928800000, "1764928800", " 1.7649288e9 "])
def test_an_epoch_number_is_refused_saying_which_format_to_send(epoch) -> None:
    """As in a file (crm events load, tests/training/commands/test_events.py) and for transactions."""
    assert problems({**GOOD, "timestamp": epoch})["timestamp"] == f"Value error, {NUMBER_TIMESTAMP}"


def test_a_timestamp_in_the_future_is_refused_beyond_a_few_minutes_of_clock_skew() -> None:
    now = datetime.now(timezone.utc)
    Event.model_validate({**GOOD, "timestamp": (now + timedelta(minutes=2)).isoformat()})
    assert "future" in problems({**GOOD, "timestamp": (now + timedelta(hours=1)).isoformat()})["timestamp"]


def test_every_bad_field_of_an_event_is_listed_at_once() -> None:
    assert set(problems({**GOOD, "event_type": "x", "price": -1, "customer_id": ""})) == {"event_type", "price", "customer_id"}


def file_rows() -> pd.DataFrame:
    """As a CSV reads: text, blanks as NaN; row 2 and 4 are bad."""
    return pd.DataFrame({
        E.event_id: ["e1", "e2", "e3", "e4"],
        E.event_type: ["rec_shown", "rec_bought", "rec_shown", "teleported"],
        E.timestamp: ["2026-11-01 10:00", "2026-11-01 11:00", "2026-11-01 12:00", "soon"],
        E.customer_id: ["c1", "c2", "c3", "c4"],
        E.price: ["2.5", "-3", None, "1"],
    })


def test_a_file_stops_on_bad_rows_naming_row_field_and_rule() -> None:
    with pytest.raises(DataValidationError) as caught:
        validate_events(file_rows())
    message = str(caught.value)
    assert "2 of 4 rows" in message and "row 2: price" in message
    assert "row 4: event_type" in message and "row 4: timestamp: unparseable timestamp" in message


def test_a_file_quarantines_bad_rows_and_keeps_the_rest_in_utc() -> None:
    clean, report = validate_events(file_rows(), on_bad_rows="quarantine")
    assert list(clean[E.event_id]) == ["e1", "e3"] and report.rows_quarantined == 2
    assert list(report.quarantined["row"]) == [2, 4]
    assert clean.loc[0, E.timestamp] == datetime(2026, 11, 1, 10, 0), "a column without offsets is UTC"
    assert clean.loc[0, E.price] == 2.5 and pd.isna(clean.loc[1, E.price]) and clean.loc[1, E.value] == 0.0


def test_epoch_numbers_in_a_typed_column_are_set_aside_row_by_row_with_the_api_rule() -> None:
    rows = file_rows().iloc[:3].assign(timestamp=[1764928800, 1764928860, 1764928920])  # e.g. a parquet int64 column
    _, report = validate_events(rows, on_bad_rows="quarantine")
    assert report.rows_quarantined == 3 and NUMBER_TIMESTAMP in report.quarantined["problems"].iloc[0]


def test_a_missing_required_value_says_so() -> None:
    rows = file_rows().iloc[:1].assign(customer_id=None)
    with pytest.raises(DataValidationError, match="row 1: customer_id: missing value"):
        validate_events(rows)


def test_unknown_columns_are_refused_by_name() -> None:
    with pytest.raises(DataValidationError, match="unknown column.*'itemid'"):
        validate_events(file_rows().assign(itemid="p1"))


def test_read_events_maps_columns_and_reads_offsets(tmp_path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("id,kind,when,customer_id,item_id\n"
                    "a,offer_sent,2026-11-01T10:00:00+01:00,c1,\n"
                    "b,offer_redeemed,2026-11-01T12:00:00Z,c1,p9\n")
    clean, report = read_events(path, {"id": "event_id", "kind": "event_type", "when": "timestamp"})
    assert report.rows_quarantined == 0
    assert list(clean[E.timestamp]) == [pd.Timestamp("2026-11-01 09:00"), pd.Timestamp("2026-11-01 12:00")]
    assert list(clean[E.item_id]) == ["", "p9"]
    with pytest.raises(DataValidationError, match="not event columns"):
        read_events(path, {"id": "eventid"})
