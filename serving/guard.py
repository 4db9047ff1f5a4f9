"""The service's front door, as an ASGI middleware: every client mistake gets a 4xx and one log line.

BentoML 1.4 answers some client mistakes with a 500 and logs every 4xx at ERROR with a traceback (one
bad 2.8 KB request made 140 KB of log). In front of the endpoints, :class:`RequestGuard`

- refuses a body over the size limit with 413 before it is read (``Content-Length``), or as soon as a
  chunked body passes the limit;
- parses a ``multipart/form-data`` or form-encoded body itself and answers 400 when it cannot be
  parsed (BentoML's parser fails with a 500 on a missing or bad boundary);
- logs each 4xx answer in one line at INFO (status, method, path, the error, no traceback, no body),
  while :func:`quiet_client_errors` drops BentoML's own traceback for them.

Every refusal is a JSON body ``{"error": "..."}``, like the endpoints' own errors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from serving.settings import ServingSettings, current

logger = logging.getLogger("crm.serving")

FORM_TYPES = (b"multipart/form-data", b"application/x-www-form-urlencoded")
LOGGED_ERROR_CHARS = 300
# BentoML logs an endpoint's exception here (bentoml._internal.server.http_app.log_exception)
BENTOML_ERROR_LOGGER = "bentoml._internal.server.http_app"

Scope = dict[str, Any]
Message = dict[str, Any]


class RequestRefused(Exception):
    """A request the guard answers itself: the status and the message of its JSON error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope.get("headers", ()) if key == name), None)


def declared_length(scope: Scope, limit: int, allowed: str = "") -> int | None:
    """The ``Content-Length`` of the request (None without one); refused over ``limit`` (``allowed``:
    what the limit leaves room for, added to the message)."""
    raw = _header(scope, b"content-length")
    if raw is None:
        return None
    try:
        length = int(raw)
    except ValueError:
        raise RequestRefused(400, f"Content-Length is not a number: {raw[:40]!r}") from None
    if length > limit:
        raise RequestRefused(413, f"request body of {length} bytes is over the limit of {limit} bytes{allowed}")
    return length


async def read_body(receive: Any, limit: int, allowed: str = "") -> bytes:
    """The whole request body, refused with 413 as soon as it passes ``limit`` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestRefused(400, "the client disconnected before the body was complete")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestRefused(413, f"request body is over the limit of {limit} bytes{allowed}")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that hands the app the already-read body once, then waits on the real one."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


async def check_form(scope: Scope, body: bytes) -> None:
    """Parse a form body the way the endpoint will; refuse it with 400 when that fails."""
    from starlette.requests import Request

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, receive).form()
        await form.close()
    except Exception as error:  # whatever the parser raises on a broken form is the client's mistake
        raise RequestRefused(
            400, f"the form body cannot be parsed ({type(error).__name__}: {str(error)[:120]}); "
            "this API takes application/json"
        ) from None


async def send_json(send: Any, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer with ``payload`` as JSON (and the extra ``headers``) from an ASGI middleware."""
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send_json(send, status, {"error": message}, headers)


def _error_text(body: bytes) -> str:
    """The ``error`` (and the first problem's location) of a JSON error body, on one short line."""
    try:
        parsed = json.loads(body)
    except ValueError:  # a page (the console's): its title, else its start, on one line
        text = body.decode("utf-8", "replace")
        title = text.split("<title>", 1)[1].split("</title>", 1)[0] if "<title>" in text and "</title>" in text else text
        return " ".join(title.split())[:LOGGED_ERROR_CHARS]
    if isinstance(parsed, list) and parsed:  # BentoML answers some errors as a one-element list
        parsed = parsed[0]
    if not isinstance(parsed, dict):
        return str(parsed)[:LOGGED_ERROR_CHARS]
    text = str(parsed.get("error", parsed))
    detail = parsed.get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        text += f": {'.'.join(map(str, first.get('loc', ())))}: {first.get('msg', '')}"
    return " ".join(text.split())[:LOGGED_ERROR_CHARS]


@dataclass(frozen=True)
class BodyLimit:
    """A route's own body limit (when above ``CRM_MAX_BODY_BYTES``) and what it leaves room for."""

    bytes: int
    allows: str


class RequestGuard:
    """Size limit, form check and one-line client-error log in front of every HTTP route. The limit is
    ``CRM_MAX_BODY_BYTES``, or a route's own in ``route_limits`` when that is larger (a batch of 1,000
    events needs more room than any other request)."""

    def __init__(self, app: Any, settings: ServingSettings | None = None,
                 route_limits: Mapping[str, BodyLimit] | None = None) -> None:
        self.app = app
        self.max_body_bytes = (settings if settings is not None else current()).max_body_bytes
        self.route_limits = dict(route_limits or {})

    def limit(self, path: str) -> tuple[int, str]:
        """The body limit of ``path`` in bytes, and what it allows (for the 413's message)."""
        own = self.route_limits.get(path.rstrip("/"))
        return (own.bytes, f" ({own.allows})") if own and own.bytes > self.max_body_bytes else (self.max_body_bytes, "")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        logged = _ClientErrorLog(scope, send)
        try:
            receive = await self._admit(scope, receive)
        except RequestRefused as refused:
            await send_error(logged.send, refused.status, refused.message)
            return
        await self.app(scope, receive, logged.send)

    async def _admit(self, scope: Scope, receive: Any) -> Any:
        """Check the request's size and form; return the ``receive`` the app should read from."""
        limit, allowed = self.limit(scope["path"])
        length = declared_length(scope, limit, allowed)
        media_type = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        is_form = media_type in FORM_TYPES
        if length is not None and not is_form:
            return receive  # the server stops a body at its Content-Length, which is within the limit
        if length is None and scope["method"] in ("GET", "HEAD"):
            return receive
        body = await read_body(receive, limit, allowed)
        if is_form:
            await check_form(scope, body)
        return replay(body, receive)


class _ClientErrorLog:
    """Wraps ``send``: a 4xx answer is logged once, in one line, with the error from its JSON body."""

    def __init__(self, scope: Scope, send: Any) -> None:
        self.scope, self._send = scope, send
        self.status: int | None = None
        self.body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body" and self.status is not None and 400 <= self.status < 500:
            if len(self.body) < 4 * LOGGED_ERROR_CHARS:
                self.body += message.get("body", b"")
            if not message.get("more_body", False):
                logger.info("client error %d %s %s: %s", self.status, self.scope["method"], self.scope["path"],
                            _error_text(self.body))
        await self._send(message)


class _DropClientErrors(logging.Filter):
    """Drops BentoML's ERROR-with-traceback record for an exception that became a 4xx answer (the
    guard logs that answer in one line instead); server errors keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return error is None or not is_client_error(error)


def is_client_error(error: BaseException) -> bool:
    """True for the exceptions BentoML answers with a 4xx: a pydantic validation error, or a BentoML
    error whose code is below 500."""
    from bentoml.exceptions import BentoMLException
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return True
    return isinstance(error, BentoMLException) and int(error.error_code) < 500


def quiet_client_errors() -> None:
    """Install the filter on BentoML's endpoint-error logger (once per process)."""
    target = logging.getLogger(BENTOML_ERROR_LOGGER)
    if not any(isinstance(existing, _DropClientErrors) for existing in target.filters):
        target.addFilter(_DropClientErrors())
