"""The console's ASGI middlewares: security headers on every answer, the session check, and ``GET /``
of the service sent to the console."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse

from serving.console.state import console_of

PREFIX = "/console"
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}
PAGE_CACHING = "no-store"  # pages and exports hold personal data
ASSET_CACHING = "public, max-age=3600"  # the stylesheet and the icon


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every answer of the console (pages, files, errors), and a
    ``Server-Timing`` header with the console's own time for the request (``crm bench console``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        caching = ASSET_CACHING if "/static/" in scope.get("path", "") else PAGE_CACHING
        started = time.perf_counter()

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                elapsed = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
                wanted = {**SECURITY_HEADERS, "cache-control": caching, "server-timing": elapsed}
                extra = [(k.encode(), v.encode()) for k, v in wanted.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


class RootRedirect:
    """``GET /`` of the service goes to the console (BentoML would show its Swagger page there)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] in ("GET", "HEAD"):
            await RedirectResponse(PREFIX + "/", status_code=307)(scope, receive, send)
            return
        await self.app(scope, receive, send)


PUBLIC = ("/login", "/static/")


class RequireSession:
    """Every route but the login and the stylesheet answers 401 with the login form without a session."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            inner = scope["path"][len(scope.get("root_path", "")):] if scope["path"].startswith(scope.get("root_path", "")) else scope["path"]
            if not inner.startswith(PUBLIC):
                request = Request(scope, receive)
                console = console_of(scope["app"])
                if console.session(request) is None:
                    await console.login_form(request)(scope, receive, send)
                    return
        await self.app(scope, receive, send)
