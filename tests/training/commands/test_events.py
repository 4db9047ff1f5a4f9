"""``crm events load``: a file through the transactions' reading path into the event store, idempotently."""

from __future__ import annotations

from typer.testing import CliRunner

from engine.feedback.events import EventColumns as E
from engine.feedback.store import EventStore
from engine.feedback.validation import NUMBER_TIMESTAMP
from training.cli import app

ROWS = ("id,kind,when,customer_id,item_id,price,quantity,value\n"
        "a,rec_shown,2026-11-01T10:00:00+01:00,c1,p1,2.5,,\n"
        "b,rec_bought,2026-11-01T10:05:00Z,c1,p1,2.5,2,5\n"
        "c,rec_teleported,2026-11-01T10:06:00Z,c1,p1,,,\n")
MAP = "id=event_id,kind=event_type,when=timestamp"


def _load(path, url, *options):
    return CliRunner().invoke(app, ["events", "load", str(path), "--map", MAP, "--url", url, *options])


def test_bad_rows_stop_the_load_naming_them_and_nothing_is_stored(tmp_path) -> None:
    path, url = tmp_path / "events.csv", f"sqlite:///{tmp_path}/events.sqlite"
    path.write_text(ROWS)
    done = _load(path, url)
    assert done.exit_code == 2 and "row 3: event_type" in done.output
    assert EventStore(url).read().empty


def test_quarantine_sets_bad_rows_aside_and_a_second_load_adds_nothing(tmp_path) -> None:
    path, url, quarantine = tmp_path / "events.csv", f"sqlite:///{tmp_path}/events.sqlite", tmp_path / "q.csv"
    path.write_text(ROWS)
    first = _load(path, url, "--quarantine", str(quarantine))
    assert first.exit_code == 0 and "2 events stored, 0 already there" in first.output, first.output
    assert "rec_teleported" in quarantine.read_text()
    second = _load(path, url, "--quarantine", str(quarantine))
    assert "0 events stored, 2 already there" in second.output
    stored = EventStore(url).read()
    assert list(stored[E.event_id]) == ["a", "b"] and stored.loc[1, E.value] == 5.0
    assert str(stored.loc[0, E.timestamp]) == "2026-11-01 09:00:00"


def test_epoch_numbers_are_refused_as_by_the_api_naming_the_column(tmp_path) -> None:
    """The HTTP body refuses them too (tests/engine/feedback/test_validation.py): one documented format."""
    path, url = tmp_path / "events.csv", f"sqlite:///{tmp_path}/events.sqlite"
    path.write_text("id,kind,when,customer_id\na,rec_shown,1764928800,c1\nb,rec_shown,1764928860,c1\n")
    done = _load(path, url)
    assert done.exit_code == 2 and f"row 1: timestamp: {NUMBER_TIMESTAMP[:40]}" in " ".join(done.output.split()), done.output
    assert EventStore(url).count() == 0


def test_the_default_store_is_the_services_setting(tmp_path, monkeypatch) -> None:
    from training.commands.events import events_url

    monkeypatch.setenv("CRM_EVENTS_URL", f"sqlite:///{tmp_path}/set.sqlite")
    assert events_url() == f"sqlite:///{tmp_path}/set.sqlite" and events_url("sqlite://") == "sqlite://"
    monkeypatch.delenv("CRM_EVENTS_URL")
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "home"))
    assert events_url() == f"sqlite:///{(tmp_path / 'home').resolve()}/events.sqlite"
