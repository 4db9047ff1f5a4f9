"""The event store: an append-only table of feedback events behind any SQLAlchemy URL.

The default is an embedded SQLite file (nothing to install); PostgreSQL or any other database that
SQLAlchemy speaks is a URL away (``postgresql+psycopg://user@host/crm``). SQLAlchemy is the one
dependency that gives both the same code: the table is declared once and the SQL is generated for the
dialect.

Guarantees:

- **Idempotent on ``event_id``**: :meth:`EventStore.append` inserts with ``ON CONFLICT DO NOTHING``
  (SQLite, PostgreSQL), so an event sent twice (a client retrying after a lost answer, or the same id
  twice in one batch) is stored once; the first copy wins. Other dialects insert the ids not yet
  stored, in the same transaction.
- **One transaction per call**, committed before :meth:`append` returns: a caller that answers its
  client after ``append`` only ever acknowledges events that are on disk.
- **Durable across a crash**: SQLite runs in WAL mode with ``synchronous=FULL``, so each commit is
  fsynced to the write-ahead log before it returns. ``NORMAL`` would already survive a killed process
  (the commit is in the OS page cache, kill -9 loses nothing), but not a power cut or kernel crash;
  ``FULL`` costs one fsync per batch (``crm bench events`` measures the rate with it), which is cheap at
  hundreds of events per batch. WAL lets readers (monitoring) run while a writer appends, and several
  service workers append to one file (``busy_timeout`` waits for the lock instead of failing).

Timestamps are stored and returned as naive UTC, like transactions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.engine import Connection, Engine, make_url

from engine.errors import EngineError
from engine.feedback.events import EVENT_TYPES, EventColumns
from engine.feedback.validation import read_events

E = EventColumns
TABLE = "feedback_events"
ID_LENGTH = 128
BUSY_TIMEOUT_MS = 30_000
_IDS = (E.customer_id, E.item_id, E.request_id, E.bundle_version, E.model_version, E.variant)
_NUMBERS = (E.price, E.quantity, E.value)

_metadata = MetaData()
events_table = Table(
    TABLE,
    _metadata,
    Column(E.event_id, String(ID_LENGTH), primary_key=True),
    Column(E.event_type, String(32), nullable=False),
    Column(E.timestamp, DateTime(timezone=False), nullable=False),
    *(Column(name, String(ID_LENGTH), nullable=False, default="") for name in _IDS),
    Column(E.price, Float, nullable=True),
    Column(E.quantity, Float, nullable=True),
    Column(E.value, Float, nullable=False, default=0.0),
    Index(f"ix_{TABLE}_{E.timestamp}", E.timestamp),
)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _naive_utc(moment: Any) -> datetime | None:
    if moment is None:
        return None
    stamp = pd.Timestamp(moment)
    return (stamp.tz_convert(timezone.utc).tz_localize(None) if stamp.tzinfo else stamp).to_pydatetime()


class EventStore:
    """Append and read feedback events at ``url`` (a SQLAlchemy URL; ``sqlite:///path/events.sqlite``).

    Nothing is opened when the store is made: the connection pool and the table are created on first
    use (a missing SQLite folder too), so a store can be configured and passed around freely."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created (and the table with it) on first use."""
        if self._engine is None:
            self._engine = self._connect()
        return self._engine

    def _connect(self) -> Engine:
        try:
            url = make_url(self.url)
        except Exception as error:  # SQLAlchemy's ArgumentError: say which setting is wrong
            raise EngineError(f"events URL {self.url!r} is not a SQLAlchemy URL ({error})") from None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        _metadata.create_all(engine, checkfirst=True)
        return engine

    def close(self) -> None:
        """Close the pooled connections (a later call opens them again)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- writing ---------------------------------------------------------------------------------------

    def append(self, events: pd.DataFrame) -> tuple[int, int]:
        """Store validated events (columns of :class:`EventColumns`; missing ids ``""``, missing
        price/quantity NaN) in one transaction; return (inserted, duplicates), where a duplicate is an
        event whose id is already stored or repeats earlier in ``events``."""
        return self.append_rows(_rows(events))

    def append_rows(self, rows: list[dict[str, Any]]) -> tuple[int, int]:
        """:meth:`append` for rows already in the table's form (what ``Event.row()`` gives: every
        column, ids ``""`` when missing, numbers None when missing, naive UTC times); the service's path,
        which skips building a frame."""
        if not rows:
            return 0, 0
        with self.engine.begin() as connection:
            inserted = self._insert(connection, rows)
        return inserted, len(rows) - inserted

    def _insert(self, connection: Connection, rows: list[dict[str, Any]]) -> int:
        dialect = connection.dialect.name
        if dialect in ("sqlite", "postgresql"):
            from sqlalchemy.dialects import postgresql, sqlite

            dialect_insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
            statement = dialect_insert(events_table).on_conflict_do_nothing(index_elements=[E.event_id])
            return len(connection.execute(statement.returning(events_table.c.event_id), rows).all())
        # any other database: insert what is not stored yet (first copy of each id), same transaction
        ids = [row[E.event_id] for row in rows]
        stored = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            stored |= set(connection.execute(select(events_table.c.event_id).where(events_table.c.event_id.in_(chunk))).scalars())
        fresh: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row[E.event_id] not in stored:
                fresh.setdefault(row[E.event_id], row)
        if fresh:
            connection.execute(insert(events_table), list(fresh.values()))
        return len(fresh)

    # --- reading ---------------------------------------------------------------------------------------

    def read(
        self,
        since: datetime | pd.Timestamp | str | None = None,
        until: datetime | pd.Timestamp | str | None = None,
        event_types: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """Events with ``since <= timestamp < until`` (either bound optional; an aware bound is
        converted to UTC, a naive one is UTC) of the given types (default all), ordered by time then id,
        as a frame with the columns of :class:`EventColumns` (timestamps naive UTC)."""
        query = select(*(events_table.c[name] for name in E.ALL))
        if since is not None:
            query = query.where(events_table.c[E.timestamp] >= _naive_utc(since))
        if until is not None:
            query = query.where(events_table.c[E.timestamp] < _naive_utc(until))
        if event_types is not None:
            wanted = list(event_types)
            unknown = sorted(set(wanted) - set(EVENT_TYPES))
            if unknown:
                raise EngineError(f"event_types: unknown {unknown}; known: {list(EVENT_TYPES)}")
            query = query.where(events_table.c[E.event_type].in_(wanted))
        query = query.order_by(events_table.c[E.timestamp], events_table.c[E.event_id])
        with self.engine.connect() as connection:
            found = connection.execute(query).all()
        frame = pd.DataFrame(found, columns=list(E.ALL))
        frame[E.timestamp] = pd.to_datetime(frame[E.timestamp]).astype("datetime64[ns]")
        return frame.astype({name: "float64" for name in _NUMBERS})

    def count(self) -> int:
        """Number of stored events."""
        from sqlalchemy import func

        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(events_table)).scalar_one())


def _rows(events: pd.DataFrame) -> list[dict[str, Any]]:
    """Events frame -> parameter rows: missing ids ``""``, NaN numbers None (NULL), naive UTC times."""
    missing = [name for name in (E.event_id, E.event_type, E.timestamp, E.customer_id) if name not in events]
    if missing:
        raise EngineError(f"events: missing column(s) {missing}; the columns are {list(E.ALL)}")
    frame = events.reindex(columns=list(E.ALL))
    times = pd.to_datetime(frame[E.timestamp], utc=True).dt.tz_localize(None)
    frame = frame.astype(object).where(frame.notna(), None)
    frame[E.timestamp] = [moment.to_pydatetime() for moment in times]
    for name in _IDS:
        frame[name] = frame[name].map(lambda value: "" if value is None else str(value))
    frame[E.value] = frame[E.value].map(lambda value: 0.0 if value is None else float(value))
    return frame.to_dict("records")


def load_events(location: str | Path) -> pd.DataFrame:
    """Feedback events from a store URL (``sqlite:///...``, ``postgresql://...``) or from a file (CSV,
    csv.gz, parquet), the file read and validated as ``crm events load`` reads it (bad rows refused by name)."""
    if "://" in str(location):
        return EventStore(str(location)).read()
    if not Path(location).is_file():
        raise EngineError(f"events file not found: {location}")
    events, _ = read_events(location)
    return events
