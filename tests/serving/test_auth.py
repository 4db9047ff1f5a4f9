"""The API-key middleware: 401 without a key, 403 with a wrong one, open routes stay open."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from serving import routes
from serving.auth import ApiKeyMiddleware
from serving.settings import ServingSettings


async def _inner_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"inner"})


def _call(settings: ServingSettings, path: str, key: str | None = None) -> tuple[int, bytes]:
    middleware = ApiKeyMiddleware(_inner_app, settings)
    headers = [(b"x-api-key", key.encode())] if key is not None else []
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    asyncio.run(middleware({"type": "http", "path": path, "headers": headers}, receive, send))
    return messages[0]["status"], b"".join(m.get("body", b"") for m in messages[1:])


KEYED = ServingSettings(api_key="right-key")


@pytest.mark.parametrize("path", [routes.PROFILE, routes.CHURN_RISK, routes.CHURN_RISK_CSV, routes.RELOAD])
def test_marketing_and_admin_routes_need_the_key(path: str) -> None:
    status, body = _call(KEYED, path)
    assert status == 401
    assert "x-api-key" in json.loads(body)["error"]
    assert _call(KEYED, path, "wrong-key") == (403, b'{"error": "wrong API key"}')
    assert _call(KEYED, path, "right-key") == (200, b"inner")


def test_without_a_configured_key_marketing_is_closed_to_everyone() -> None:
    status, body = _call(ServingSettings(), routes.PROFILE, "anything")
    assert status == 403
    assert "CRM_API_KEY" in json.loads(body)["error"]


@pytest.mark.parametrize("path", [*routes.STOREFRONT, routes.STATUS, "/readyz", "/metrics", "/docs.json"])
def test_storefront_and_operations_are_open_by_default(path: str) -> None:
    assert _call(KEYED, path) == (200, b"inner")


def test_a_closed_storefront_needs_the_key_but_health_stays_open() -> None:
    closed = ServingSettings(api_key="right-key", storefront_open=False)
    assert _call(closed, routes.RECOMMEND)[0] == 401
    assert _call(closed, routes.PRICE_BATCH, "right-key") == (200, b"inner")
    assert _call(closed, "/readyz") == (200, b"inner")
