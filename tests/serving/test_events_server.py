"""Feedback events and an online experiment on the real service over HTTP, including a kill -9 of the
service in the middle of a stream of event batches: no acknowledged event is lost, none is stored twice.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.feedback.assignment import assign_variant
from engine.feedback.events import EventColumns as E
from engine.feedback.store import EventStore
from serving import routes, server
from serving.events import body_limit, compact_json, largest_event
from serving.experiments import Experiment
from tests.serving.champions import API_KEY, small_shop, temporary_registry, train_recommender
from tests.serving.live import KEY
from training.bundle import import_champions

pytestmark = pytest.mark.slow  # starts the real service and kills it with SIGKILL

EXPERIMENT = "ab-live"


@dataclass
class Served:
    process: server.Server
    home: Path
    work: Path
    url: str  # the event store
    tag: str
    champion: str
    challenger: str

    def start(self) -> None:
        settings = {"CRM_API_KEY": API_KEY, "CRM_RELOAD_SECONDS": "0", "CRM_EVENTS_URL": self.url}
        self.process = server.start(server.free_port(), bentoml_home=self.home, settings=settings,
                                    log=self.work / "server.log")
        server.wait_ready(self.process, timeout=90)

    def post(self, route: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(self.process.url + route, json=body, headers=headers or {}, timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Served:
    work = tmp_path_factory.mktemp("events")
    shop = small_shop()
    with temporary_registry(work):
        champion = train_recommender(shop, work / "recommender-1", metric=0.5)
        challenger = train_recommender(shop, work / "recommender-2", metric=0.4)  # registered, not promoted
        tag, _ = import_champions(shop, bentoml_home=work / "bentoml", experiment=Experiment(
            name=EXPERIMENT, challenger_share=0.5, challenger_version=challenger))
    running = Served(None, work / "bentoml", work, f"sqlite:///{work}/events.sqlite", tag, champion, challenger)
    running.start()
    yield running
    server.stop(running.process)


def _kill_9(pid: int) -> None:
    """SIGKILL the service: its workers (each in a session of its own, so not reached by killpg) and
    the ``bentoml serve`` process that started them."""
    import psutil

    for process in [*psutil.Process(pid).children(recursive=True), psutil.Process(pid)]:
        os.kill(process.pid, signal.SIGKILL)


def _events(count: int, prefix: str = "") -> list[dict[str, Any]]:
    prefix = prefix or uuid.uuid4().hex[:8]
    return [{"event_id": f"{prefix}-{i}", "event_type": "rec_clicked", "timestamp": "2026-11-01T10:00:00Z",
             "customer_id": f"c{i % 50}", "item_id": "p1", "request_id": "r1", "variant": "champion"}
            for i in range(count)]


def test_recommendations_name_their_arm_model_bundle_and_request(served: Served) -> None:
    customers = [f"{i}" for i in range(1, 13)]
    seen_requests = set()
    for customer in customers:
        answer = served.post(routes.RECOMMEND, {"customer_id": customer, "k": 3}).json()
        variant = assign_variant(EXPERIMENT, customer, 0.5)
        assert answer["variant"] == variant, "sticky by customer hash, as the offline analysis computes it"
        assert answer["model_version"] == (served.challenger if variant == "challenger" else served.champion)
        assert answer["bundle_version"] == served.tag == answer["versions"]["bundle"]
        seen_requests.add(answer["request_id"])
        again = served.post(routes.RECOMMEND, {"customer_id": customer, "k": 3}).json()
        assert again["variant"] == variant and again["request_id"] != answer["request_id"]
    assert len(seen_requests) == len(customers)
    batch = served.post(routes.RECOMMEND_BATCH, {"customer_ids": customers, "k": 3}).json()
    assert [r["variant"] for r in batch["results"]] == [assign_variant(EXPERIMENT, c, 0.5) for c in customers]
    assert {"champion", "challenger"} == {r["variant"] for r in batch["results"]} and batch["request_id"]
    status = served.post(routes.STATUS, {}).json()
    assert status["experiment"] == {"name": EXPERIMENT, "challenger_share": 0.5,
                                    "champion_version": served.champion, "challenger_version": served.challenger}


def test_events_need_the_api_key(served: Served) -> None:
    assert served.post(routes.EVENTS, {"events": _events(1)}).status_code == 401
    assert served.post(routes.EVENTS, {"events": _events(1)}, {"X-API-Key": "wrong"}).status_code == 403


def test_a_batch_is_stored_once_and_a_resent_batch_counts_as_duplicates(served: Served) -> None:
    batch = _events(20)
    assert served.post(routes.EVENTS, {"events": batch}, KEY).json() == {"inserted": 20, "duplicates": 0}
    assert served.post(routes.EVENTS, {"events": batch + batch[:5]}, KEY).json() == {"inserted": 0, "duplicates": 25}
    stored = EventStore(served.url).read()
    assert set(stored[E.event_id]) >= {event["event_id"] for event in batch}


def test_a_batch_with_bad_events_is_refused_whole_naming_each_index_and_field(served: Served) -> None:
    batch = _events(5)
    batch[1]["timestamp"] = "2026-11-01T10:00:00"  # no offset
    batch[3]["price"] = -2
    batch[4]["event_type"] = "rec_teleported"
    answer = served.post(routes.EVENTS, {"events": batch}, KEY)
    assert answer.status_code == 400, answer.text
    where = {tuple(problem["loc"]) for problem in answer.json()["detail"]}
    assert where == {("events", 1, "timestamp"), ("events", 3, "price"), ("events", 4, "event_type")}
    assert not set(EventStore(served.url).read()[E.event_id]) & {event["event_id"] for event in batch}
    too_many = served.post(routes.EVENTS, {"events": _events(1001)}, KEY)
    assert too_many.status_code in (400, 413)


def test_a_full_batch_of_the_longest_valid_events_fits_the_body_limit(served: Served) -> None:
    prefix = uuid.uuid4().hex[:4]  # the largest events' ids are the same in every run of the test
    longest = [{**largest_event(n), "event_id": prefix + largest_event(n)["event_id"][4:]} for n in range(1000)]
    answer = httpx.post(served.process.url + routes.EVENTS, content=compact_json({"events": longest}),
                        headers={**KEY, "Content-Type": "application/json"}, timeout=60)
    assert answer.status_code == 200 and answer.json()["inserted"] == 1000, answer.text[:300]
    over = httpx.post(served.process.url + routes.EVENTS, content=b" " * (body_limit().bytes + 1), headers=KEY, timeout=60)
    assert over.status_code == 413 and "takes up to 1000 events" in over.json()["error"]


def test_the_ingesting_process_of_a_killed_worker_does_not_outlive_it(served: Served) -> None:
    import psutil

    (worker,) = [child for child in psutil.Process(served.process.pid).children() if "_bentoml_impl" in " ".join(child.cmdline())]
    ingesting = [child for child in worker.children() if "spawn_main" in " ".join(child.cmdline())]
    assert ingesting, "the worker starts its ingesting process at start-up"
    os.kill(worker.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(ingesting, timeout=20)
    assert alive == [], "orphaned ingesting process"
    server.wait_ready(served.process, timeout=120)  # BentoML starts a new worker
    assert served.post(routes.EVENTS, {"events": _events(3)}, KEY).json() == {"inserted": 3, "duplicates": 0}


def test_kill_9_mid_stream_loses_no_acknowledged_event_and_stores_none_twice(served: Served) -> None:
    batches = [_events(200, f"kill-{n}") for n in range(400)]
    acknowledged: list[int] = []
    enough = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=served.process.url, headers=KEY, timeout=30) as client:
            for n, batch in enumerate(batches):
                try:
                    answer = client.post(routes.EVENTS, json={"events": batch})
                except httpx.TransportError:
                    return  # the service died with this batch in flight: not acknowledged
                assert answer.status_code == 200, answer.text
                acknowledged.append(n)
                if len(acknowledged) >= 5:
                    enough.set()

    client = threading.Thread(target=stream)
    client.start()
    assert enough.wait(60), "the stream did not get going"
    _kill_9(served.process.pid)
    client.join(30)
    served.process.process.wait(10)
    assert acknowledged and len(acknowledged) < len(batches), "the kill must land mid-stream"

    served.start()  # same event store, a new process
    stored_after_kill = set(EventStore(served.url).read()[E.event_id])
    acked_ids = {event["event_id"] for n in acknowledged for event in batches[n]}
    assert acked_ids <= stored_after_kill, f"{len(acked_ids - stored_after_kill)} acknowledged events lost"
    resent = [n for n in range(len(batches)) if n not in set(acknowledged)]
    for n in resent[:5]:  # the client resends what was not acknowledged (the in-flight batch first)
        answer = served.post(routes.EVENTS, {"events": batches[n]}, KEY).json()
        assert answer["inserted"] + answer["duplicates"] == len(batches[n])
    sent = {event["event_id"] for n in [*acknowledged, *resent[:5]] for event in batches[n]}
    stored = EventStore(served.url).read()
    kill_rows = stored[stored[E.event_id].str.startswith("kill-")]
    assert set(kill_rows[E.event_id]) == sent and not kill_rows[E.event_id].duplicated().any()
