"""API-key check in front of the endpoints, as an ASGI middleware (it answers before any body is read).

Marketing and admin routes always need the key in the ``X-API-Key`` header; storefront routes need it
only when ``CRM_STOREFRONT_OPEN=false``. No key in the request: 401. A wrong key, or no key configured
on the server (marketing is then closed to everyone): 403. Health, readiness, metrics, the OpenAPI
document and ``/v1/status`` stay open.

Every request's key check is also kept for the endpoint (:func:`caller_refusal`): an open storefront route
answers a part of a request that reveals one customer's records (their price offer, their repeat
purchases) only to a caller with the key (``CRM_PERSONAL_ANSWERS_NEED_KEY``).
"""

from __future__ import annotations

import hmac
import json
from contextvars import ContextVar
from typing import Any

from serving.routes import KEY_REQUIRED_PREFIXES, STOREFRONT
from serving.settings import API_KEY_HEADER, ServingSettings, current

Scope = dict[str, Any]
Refusal = tuple[int, str]

# set by the middleware before the endpoint runs (the endpoint runs in a copy of this context)
_CALLER_REFUSAL: ContextVar[Refusal | None] = ContextVar("crm_caller_refusal", default=(401, "no key checked"))


def caller_refusal() -> Refusal | None:
    """(status, message) that a keyed route would answer the current request, or None when it carries
    the right key."""
    return _CALLER_REFUSAL.get()


class ApiKeyMiddleware:
    """Refuse requests to protected routes that do not carry the configured key."""

    def __init__(self, app: Any, settings: ServingSettings | None = None) -> None:
        self.app = app
        self.settings = settings if settings is not None else current()
        self._key = self.settings.api_key.get_secret_value().encode() if self.settings.api_key else None

    def protects(self, path: str) -> bool:
        """True when ``path`` needs the key under the current settings."""
        if path.startswith(KEY_REQUIRED_PREFIXES):
            return True
        return not self.settings.storefront_open and path.rstrip("/") in STOREFRONT

    def refusal(self, scope: Scope) -> Refusal | None:
        """(status, message) when the request must be refused, else None."""
        given = next((value for name, value in scope.get("headers", ()) if name == API_KEY_HEADER.encode()), None)
        if self._key is None:
            return 403, "this endpoint is disabled: the server has no API key configured (CRM_API_KEY)"
        if given is None:
            return 401, f"missing API key: send it in the {API_KEY_HEADER} header"
        if not hmac.compare_digest(given, self._key):
            return 403, "wrong API key"
        return None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refused = self.refusal(scope)
            _CALLER_REFUSAL.set(refused)
            if refused is not None and self.protects(scope["path"]):
                status, message = refused
                body = json.dumps({"error": message}).encode()
                await send({
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                })
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
