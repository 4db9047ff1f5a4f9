"""The event store: idempotent appends (across and within batches), read filters, the SQL of each dialect."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.dialects import postgresql, sqlite

from engine.errors import EngineError
from engine.feedback.events import EventColumns as E
from engine.feedback.store import EventStore, events_table


def events(ids: list[str], start: str = "2026-11-01 10:00", event_type: str = "rec_shown") -> pd.DataFrame:
    """One event per id, an hour apart, UTC."""
    return pd.DataFrame({
        E.event_id: ids,
        E.event_type: event_type,
        E.timestamp: pd.date_range(start, periods=len(ids), freq="h"),
        E.customer_id: [f"c{i}" for i in range(len(ids))],
        E.item_id: "p1",
        E.price: 2.5,
        E.quantity: np.nan,
        E.value: 0.0,
    })


@pytest.fixture
def store(tmp_path) -> EventStore:
    made = EventStore(f"sqlite:///{tmp_path}/data/events.sqlite")
    yield made
    made.close()


def test_append_counts_inserted_and_duplicates_across_batches(store: EventStore) -> None:
    assert store.append(events(["a", "b", "c"])) == (3, 0)
    assert store.append(events(["b", "c", "d"])) == (1, 2)
    assert store.count() == 4
    assert sorted(store.read()[E.event_id]) == ["a", "b", "c", "d"]


def test_a_repeat_within_one_batch_is_stored_once_first_copy_wins(store: EventStore) -> None:
    batch = events(["x", "y", "x"])
    batch.loc[2, E.customer_id] = "someone else"
    assert store.append(batch) == (2, 1)
    stored = store.read().set_index(E.event_id)
    assert stored.loc["x", E.customer_id] == "c0"


def test_read_round_trips_the_columns_and_types(store: EventStore) -> None:
    batch = events(["a", "b"])
    batch.loc[1, E.quantity] = 3.0
    batch.loc[1, E.item_id] = None
    store.append(batch)
    read = store.read()
    assert list(read.columns) == list(E.ALL)
    assert read[E.timestamp].dtype == "datetime64[ns]" and read[E.price].dtype == "float64"
    assert read.loc[0, E.timestamp] == pd.Timestamp("2026-11-01 10:00")
    assert np.isnan(read.loc[0, E.quantity]) and read.loc[1, E.quantity] == 3.0
    assert read.loc[1, E.item_id] == "" and read.loc[0, E.variant] == ""


def test_aware_timestamps_are_stored_as_utc(store: EventStore) -> None:
    batch = events(["a"])
    batch[E.timestamp] = pd.Series([pd.Timestamp("2026-11-01 12:00", tz="Europe/Paris")])
    store.append(batch)
    assert store.read().loc[0, E.timestamp] == pd.Timestamp("2026-11-01 11:00")


def test_read_filters_by_time_and_type(store: EventStore) -> None:
    store.append(events(["a", "b", "c", "d"], start="2026-11-01 00:00"))
    store.append(events(["k"], start="2026-11-01 01:30", event_type="rec_clicked"))
    window = store.read(since="2026-11-01 01:00", until="2026-11-01 03:00")
    assert list(window[E.event_id]) == ["b", "k", "c"], "since inclusive, until exclusive, ordered by time"
    aware = store.read(since=pd.Timestamp("2026-11-01 02:00", tz="Europe/Paris"))  # 01:00 UTC
    assert list(aware[E.event_id]) == ["b", "k", "c", "d"]
    assert list(store.read(event_types=["rec_clicked"])[E.event_id]) == ["k"]
    assert store.read(since="2027-01-01").empty and list(store.read(since="2027-01-01").columns) == list(E.ALL)
    with pytest.raises(EngineError, match="unknown"):
        store.read(event_types=["rec_shwon"])


def test_the_sqlite_file_is_in_wal_mode(store: EventStore, tmp_path) -> None:
    store.append(events(["a"]))
    with sqlite3.connect(tmp_path / "data" / "events.sqlite") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_nothing_is_opened_until_first_use(tmp_path) -> None:
    made = EventStore(f"sqlite:///{tmp_path}/later/events.sqlite")
    assert not (tmp_path / "later").exists()
    assert made.read().empty and (tmp_path / "later" / "events.sqlite").exists()
    made.close()


def test_a_bad_url_or_frame_is_an_error_naming_it(store: EventStore) -> None:
    with pytest.raises(EngineError, match="not a SQLAlchemy URL"):
        EventStore("not a url").read()
    with pytest.raises(EngineError, match="event_type"):
        store.append(events(["a"]).drop(columns=E.event_type))


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
def test_the_insert_is_an_upsert_that_ignores_conflicts_in_each_dialect(dialect) -> None:
    module = sqlite if dialect.name == "sqlite" else postgresql
    statement = module.insert(events_table).on_conflict_do_nothing(index_elements=[E.event_id]).returning(
        events_table.c.event_id)
    sql = str(statement.compile(dialect=dialect))
    assert "ON CONFLICT (event_id) DO NOTHING" in sql and "RETURNING" in sql


def test_other_dialects_skip_stored_ids_in_the_same_transaction(store: EventStore, monkeypatch) -> None:
    """The generic path (no ON CONFLICT), run on SQLite by hiding its name."""
    store.append(events(["a"]))
    with store.engine.begin() as connection:
        monkeypatch.setattr(connection.dialect, "name", "generic")
        from engine.feedback.store import _rows

        assert store._insert(connection, _rows(events(["a", "b", "b"]))) == 1
    monkeypatch.undo()
    assert sorted(store.read()[E.event_id]) == ["a", "b"]
