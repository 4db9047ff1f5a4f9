"""The real service (``bentoml serve``) serving the console tests' small bundle, for the browser tests.

The bundle is written and stored directly (no MLflow registry, no training pipelines), so the server
is ready in seconds. The session cookie keeps its ``Secure`` flag: Chromium treats the loopback
interface as a secure origin, so it keeps and sends the cookie over plain http there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from serving import server
from tests.serving.console.conftest import KEY, write_small_bundle
from training.bundle_store import store_bundle


@contextmanager
def console_server(work: Path) -> Iterator[server.Server]:
    """A ready service on a free loopback port serving the small bundle, with the console's key."""
    home = work / "bentoml"
    tag = store_bundle(write_small_bundle(work), {"purpose": "console browser tests"}, home)
    settings = {"CRM_API_KEY": KEY, "CRM_BUNDLE": tag, "CRM_RELOAD_SECONDS": "0"}
    with server.running(bentoml_home=home, settings=settings, log=work / "server.log", timeout=90) as running:
        yield running
