"""Faults against the real service: a partial bundle offered on reload, and a second service started on
the same BentoML home. One ``bentoml serve`` process for the module, on small champions."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from serving import routes, server
from tests.serving.champions import API_KEY, small_shop, temporary_registry, train_recommender
from training.bundle import import_champions
from training.bundle_store import store_bundle, stored_path

pytestmark = pytest.mark.slow  # starts the service

KEY = {"X-API-Key": API_KEY}


@dataclass
class Running:
    url: str
    home: Path
    work: Path
    tag: str
    customer: str


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Running:
    work = tmp_path_factory.mktemp("faults")
    home, shop = work / "bentoml", small_shop()
    with temporary_registry(work):
        train_recommender(shop, work / "recommender")
        tag, _ = import_champions(shop, bentoml_home=home)
    with server.running(bentoml_home=home, log=work / "server.log",
                        settings={"CRM_API_KEY": API_KEY, "CRM_RELOAD_SECONDS": "0"}) as service:
        yield Running(service.url, home, work, tag, str(shop.transactions["customer_id"].iloc[0]))


def _status(url: str) -> dict:
    return httpx.post(url + routes.STATUS, json={}, timeout=30).json()


def test_a_partial_bundle_is_refused_on_reload_and_the_old_one_keeps_serving(running: Running) -> None:
    partial = store_bundle(stored_path(running.tag, running.home), {"purpose": "partial on purpose"}, running.home)
    shutil.rmtree(stored_path(partial, running.home) / "recommender")  # the store loses a part after the import
    status = httpx.post(running.url + routes.RELOAD, json={}, headers=KEY, timeout=60).json()
    assert status["last_reload"]["bundle"] == partial and status["last_reload"]["ok"] is False
    assert "part 'recommender' is missing" in status["last_reload"]["error"]
    assert status["bundle"] == running.tag and "recommend" in status["capabilities"]
    answers = [httpx.post(running.url + routes.RECOMMEND, json={"customer_id": running.customer}, timeout=30)
               for _ in range(20)]
    assert [answer.status_code for answer in answers] == [200] * 20
    assert {answer.json()["versions"]["bundle"] for answer in answers} == {running.tag}


def _count(metrics: str, route: str) -> float:
    """Requests counted for ``route`` in a /metrics text (0 when absent)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("bentoml_service_request_total{") and f'endpoint="{route}"' in line)


def test_a_second_service_on_the_same_home_leaves_the_first_ones_metrics_alone(running: Running) -> None:
    for _ in range(7):
        _status(running.url)
    before = _count(httpx.get(running.url + "/metrics").text, routes.STATUS)
    assert before >= 7
    second = server.start(server.free_port(), bentoml_home=running.home, log=running.work / "second.log")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # alive is enough: it has started and set up its metrics
            try:
                if httpx.get(second.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.25)
        else:
            raise AssertionError("the second service did not start")
        assert _count(httpx.get(running.url + "/metrics").text, routes.STATUS) >= before
        assert _count(httpx.get(second.url + "/metrics").text, routes.STATUS) == 0  # not the first one's samples
    finally:
        server.stop(second)
