"""A valid OpenAPI document: BentoML's, declared as 3.1 and with the optional fields it flattens restored.

BentoML 1.4 writes ``openapi: 3.0.2`` over schemas that pydantic produces in JSON Schema 2020-12 (the
dialect of OpenAPI 3.1: ``anyOf`` with ``{"type": "null"}``, numeric ``exclusiveMinimum``), so a 3.0 tool
rejects the document or skips the operations that use them. It also turns each optional field of a
request into a plain type with ``default: null`` (a ``stock`` that may be null is declared a number).
:func:`fix_spec` declares 3.1.0, makes those fields nullable again, describes the API key and adds
``POST /v1/events`` (an ASGI endpoint of its own, :mod:`serving.events`);
:class:`OpenApiFix` applies it to the ``/docs.json`` answer.
"""

from __future__ import annotations

import json
from typing import Any

from serving.routes import EVENTS, KEY_REQUIRED_PREFIXES
from serving.settings import API_KEY_HEADER

OPENAPI_VERSION = "3.1.0"
SPEC_PATH = "/docs.json"
API_KEY_SCHEME = "ApiKey"


def _restore_nullable(node: Any) -> None:
    """Every schema with ``default: null`` and a single type also accepts null (in place)."""
    if isinstance(node, dict):
        if node.get("default", ...) is None and isinstance(node.get("type"), str) and node["type"] != "null":
            node["type"] = [node["type"], "null"]
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        for value in node.values():
            _restore_nullable(value)
    elif isinstance(node, list):
        for value in node:
            _restore_nullable(value)


def fix_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The document made valid OpenAPI 3.1 (modified in place and returned)."""
    from serving.events import openapi_path

    spec["openapi"] = OPENAPI_VERSION
    spec.setdefault("paths", {})[EVENTS], schemas = openapi_path()
    spec.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
    _restore_nullable(spec.get("paths", {}))
    _restore_nullable(spec.get("components", {}))
    schemes = spec.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[API_KEY_SCHEME] = {"type": "apiKey", "in": "header", "name": API_KEY_HEADER,
                               "description": "the key in CRM_API_KEY (marketing and admin routes)"}
    for path, operations in spec.get("paths", {}).items():
        if path.startswith(KEY_REQUIRED_PREFIXES):
            for operation in operations.values():
                if isinstance(operation, dict):
                    operation["security"] = [{API_KEY_SCHEME: []}]
    return spec


class OpenApiFix:
    """Rewrites the ``/docs.json`` answer with :func:`fix_spec`; every other request passes untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != SPEC_PATH:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def collect(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, collect)
        body = b"".join(chunks)
        if start.get("status") == 200:
            body = json.dumps(fix_spec(json.loads(body))).encode()
        headers = [(name, value) for name, value in start.get("headers", []) if name.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
