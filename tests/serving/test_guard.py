"""The request guard: size limit, broken forms, one-line client-error log, BentoML's tracebacks dropped."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from bentoml.exceptions import BadInput, InternalServerError
from pydantic import BaseModel, ValidationError

from serving.guard import BENTOML_ERROR_LOGGER, BodyLimit, RequestGuard, quiet_client_errors
from serving.settings import ServingSettings

LIMIT = 2048


def _app_answering(status: int, body: bytes, seen: list[bytes]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        received, more = b"", True
        while more:
            message = await receive()
            received += message.get("body", b"")
            more = message.get("more_body", False)
        seen.append(received)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


def _call(headers: dict[str, str], chunks: list[bytes], status: int = 200, answer: bytes = b"ok",
          method: str = "POST", path: str = "/v1/recommendations") -> tuple[int, bytes, list[bytes]]:
    seen: list[bytes] = []
    guard = RequestGuard(_app_answering(status, answer, seen), ServingSettings(max_body_bytes=LIMIT),
                         route_limits={"/v1/big": BodyLimit(3 * LIMIT, "room for 3 things")})
    messages: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()]}
    asyncio.run(guard(scope, receive, send))
    return messages[0]["status"], b"".join(m.get("body", b"") for m in messages[1:]), seen


def test_a_json_body_within_the_limit_passes_untouched() -> None:
    body = json.dumps({"customer_id": "c1"}).encode()
    assert _call({"content-type": "application/json", "content-length": str(len(body))}, [body]) == (200, b"ok", [body])


def test_a_declared_length_over_the_limit_is_a_413_before_the_body_is_read() -> None:
    status, body, seen = _call({"content-type": "application/json", "content-length": str(LIMIT + 1)}, [b"x" * (LIMIT + 1)])
    assert status == 413 and f"limit of {LIMIT} bytes" in json.loads(body)["error"] and seen == []


def test_a_chunked_body_over_the_limit_is_a_413() -> None:
    status, body, seen = _call({"content-type": "application/json"}, [b"x" * 1000] * 3)
    assert status == 413 and "limit" in json.loads(body)["error"] and seen == []
    assert _call({"content-type": "application/json"}, [b"{}", b" "])[2] == [b"{} "]  # small chunked: replayed whole


def test_a_route_with_its_own_limit_takes_more_and_its_413_says_what_fits() -> None:
    body = b"x" * (2 * LIMIT)
    assert _call({"content-length": str(len(body))}, [body], path="/v1/big")[0] == 200
    assert _call({}, [body[:LIMIT], body[LIMIT:]], path="/v1/big")[0] == 200  # chunked
    status, answer, seen = _call({"content-length": str(3 * LIMIT + 1)}, [b"x"], path="/v1/big")
    assert status == 413 and json.loads(answer)["error"].endswith(f"limit of {3 * LIMIT} bytes (room for 3 things)")


def test_a_content_length_that_is_not_a_number_is_a_400() -> None:
    status, body, _ = _call({"content-length": "12abc"}, [b"{}"])
    assert status == 400 and "Content-Length" in json.loads(body)["error"]


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=abc"],
)
def test_a_form_without_a_usable_boundary_is_a_400_with_a_json_error(content_type: str) -> None:
    body = b"customer_id=c1"
    status, answer, seen = _call({"content-type": content_type, "content-length": str(len(body))}, [body])
    assert status == 400 and "application/json" in json.loads(answer)["error"] and seen == []


def test_a_well_formed_form_reaches_the_endpoint_with_its_body() -> None:
    body = b'--xyz\r\nContent-Disposition: form-data; name="customer_id"\r\n\r\nc1\r\n--xyz--\r\n'
    status, _, seen = _call({"content-type": "multipart/form-data; boundary=xyz", "content-length": str(len(body))}, [body])
    assert status == 200 and seen == [body]


def test_a_client_error_is_logged_once_in_one_line_at_info(caplog: pytest.LogCaptureFixture) -> None:
    answer = json.dumps({"error": "1 validation error for X", "detail": [{"loc": ["k"], "msg": "too big\nreally"}]})
    with caplog.at_level(logging.DEBUG, logger="crm.serving"):
        status, _, _ = _call({"content-type": "application/json", "content-length": "2"}, [b"{}"], 400, answer.encode())
        _call({"content-type": "application/json", "content-length": "2"}, [b"{}"], 200)
    records = [r for r in caplog.records if r.name == "crm.serving"]
    assert status == 400 and len(records) == 1
    record = records[0]
    assert record.levelno == logging.INFO and record.exc_info is None
    assert record.getMessage() == "client error 400 POST /v1/recommendations: 1 validation error for X: k: too big really"


def test_a_page_refused_with_a_client_error_is_logged_by_its_title(caplog: pytest.LogCaptureFixture) -> None:
    page = b"<!doctype html>\n<html><head><title>Sign in \xc2\xb7 CRM\n engine</title></head><body>form</body></html>"
    with caplog.at_level(logging.INFO, logger="crm.serving"):
        _call({}, [b""], 401, page, method="GET")
    (record,) = [r for r in caplog.records if r.name == "crm.serving"]
    assert record.getMessage() == "client error 401 GET /v1/recommendations: Sign in \u00b7 CRM engine"


class _Model(BaseModel):
    k: int


def _logged_with(error: Exception) -> list[logging.LogRecord]:
    """What BentoML's endpoint-error logger lets through for ``error`` once the filter is installed."""
    quiet_client_errors()
    quiet_client_errors()  # idempotent
    target = logging.getLogger(BENTOML_ERROR_LOGGER)
    assert len(target.filters) == 1
    kept: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = kept.append
    target.addHandler(handler)
    try:
        try:
            raise error
        except Exception:
            target.error("Exception on /v1/x [POST]", exc_info=True)
    finally:
        target.removeHandler(handler)
    return kept


def test_bentoml_tracebacks_of_client_errors_are_dropped_and_server_errors_kept() -> None:
    with pytest.raises(ValidationError) as invalid:
        _Model(k="many")
    assert _logged_with(invalid.value) == []
    assert _logged_with(BadInput("not json")) == []
    kept = _logged_with(InternalServerError("boom"))
    assert len(kept) == 1 and kept[0].exc_info is not None
