"""POST /v1/events in process: the answer of ``ingest`` for a good, a bad and an unstorable batch, and
the default store location shared by the service and ``crm events load`` (the ingesting process itself
runs in tests/serving/test_events_server.py)."""

from __future__ import annotations

import json
from typing import Any

from engine.feedback.store import EventStore
from serving.events import body_limit, compact_json, default_events_url, ingest, largest_event
from serving.metrics import instance_home

EVENT = {"event_id": "e1", "event_type": "offer_sent", "timestamp": "2026-11-01T10:00:00Z", "customer_id": "c1"}


def _body(events: list[dict[str, Any]]) -> bytes:
    return json.dumps({"events": events}).encode()


def test_a_good_batch_is_stored_and_counted(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/events.sqlite"
    assert ingest(url, _body([EVENT, {**EVENT, "event_id": "e2"}, EVENT])) == (200, {"inserted": 2, "duplicates": 1})
    assert list(EventStore(url).read()["event_id"]) == ["e1", "e2"]


def test_a_bad_batch_is_a_400_listing_every_bad_event_and_nothing_is_stored(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/events.sqlite"
    status, body = ingest(url, _body([EVENT, {**EVENT, "event_id": "e2", "value": -1}, {**EVENT, "event_type": "x"}]))
    assert status == 400 and body["error"].startswith("2 invalid event(s), nothing stored: events.1.value")
    assert [tuple(problem["loc"]) for problem in body["detail"]] == [("events", 1, "value"), ("events", 2, "event_type")]
    assert EventStore(url).read().empty


def test_the_body_limit_has_room_for_a_full_batch_of_the_longest_valid_events(tmp_path) -> None:
    body = compact_json({"events": [largest_event(n) for n in range(1000)]})
    assert len(body) <= body_limit().bytes < len(body) + 1000 and len(body) > 2**20  # over the default limit
    status, answer = ingest(f"sqlite:///{tmp_path}/events.sqlite", body)
    assert (status, answer) == (200, {"inserted": 1000, "duplicates": 0}), str(answer)[:300]
    assert "1000 events" in body_limit().allows and "128-character" in body_limit().allows


def test_a_body_that_is_not_a_batch_is_a_400_saying_what_a_batch_is(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/events.sqlite"
    for body in (b"{not json", b'[{"event_id": "e1"}]', _body([])):
        status, answer = ingest(url, body)
        assert status == 400 and answer["error"].startswith('the body is not {"events": [1..1000 events]}, nothing stored'), answer
    assert EventStore(url).count() == 0


def test_a_store_that_cannot_be_written_is_a_503_without_server_paths(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    status, body = ingest(f"sqlite:///{blocker}/sub/events.sqlite", _body([EVENT]))
    assert status == 503 and "nothing stored" in body["error"] and str(tmp_path) not in body["error"]


def test_a_service_instance_and_the_cli_default_to_the_same_file(tmp_path) -> None:
    shared = default_events_url(tmp_path)
    assert shared == f"sqlite:///{tmp_path.resolve()}/events.sqlite"
    assert default_events_url(instance_home(8123, tmp_path)) == shared
