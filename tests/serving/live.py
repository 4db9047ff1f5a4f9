"""The real service over HTTP for the server and fuzz tests: one ``bentoml serve`` process on a free
loopback port, serving a bundle built from small champions in a temporary MLflow registry and BentoML
store. The server starts before any bundle exists (a test can observe its unready state), then the
champions are trained and imported while it runs (it picks the bundle up by itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from engine.data.dataset import ShopData
from serving import routes, server
from tests.serving.champions import (
    API_KEY,
    small_shop,
    temporary_registry,
    train_customer_value,
    train_pricing,
    train_recommender,
)
from training.bundle import import_champions

KEY = {"X-API-Key": API_KEY}


@dataclass
class Live:
    url: str
    home: Path
    work: Path
    shop: ShopData
    tag: str
    before_import: dict[str, Any] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return self.work / "server.log"

    def post(self, route: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(self.url + route, json=body, headers=headers or {}, timeout=30)

    def status(self) -> dict[str, Any]:
        return self.post(routes.STATUS, {}).json()

    def wait_for(self, predicate, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if predicate(status):
                return status
            time.sleep(0.2)
        raise AssertionError(f"condition not reached in {timeout} s; last status {status}")


@contextmanager
def live_service(work: Path, settings: dict[str, str] | None = None,
                 before_import: Callable[[server.Server], dict[str, Any]] | None = None) -> Iterator[Live]:
    """A ready service with the API key ``API_KEY`` (plus ``settings``) serving fresh champions."""
    home = work / "bentoml"
    shop = small_shop()
    process = server.start(server.free_port(), bentoml_home=home, log=work / "server.log",
                           settings={"CRM_API_KEY": API_KEY, "CRM_RELOAD_SECONDS": "0.5", **(settings or {})})
    try:
        with temporary_registry(work):
            before = before_import(process) if before_import else {}
            train_recommender(shop, work / "recommender-1")
            train_pricing(shop, work / "pricing-1")
            train_customer_value(shop, work / "customer-value-1")
            tag, _ = import_champions(shop, bentoml_home=home)
            server.wait_ready(process, timeout=60)
            yield Live(process.url, home, work, shop, tag, before)
    finally:
        server.stop(process)
