"""The load generator against a tiny local HTTP server: bounded, counts errors, reads both framings."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from serving.loadtest import Scenario, run_plan

pytestmark = pytest.mark.slow  # starts a local HTTP server


async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: list[bytes]) -> None:
    while True:
        request_line = await reader.readline()
        if not request_line:
            break
        length = 0
        while (line := await reader.readline()) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        body = await reader.readexactly(length)
        seen.append(body)
        if b'"fail"' in body:
            writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}")
        elif b'"chunked"' in body:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()
    writer.close()


async def _load(scenarios: list[dict[str, Any]]) -> tuple[dict[str, Any], list[bytes]]:
    seen: list[bytes] = []
    server = await asyncio.start_server(lambda r, w: _serve_one(r, w, seen), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        results = await run_plan({"port": port, "scenarios": scenarios})
    return results, seen


def test_requests_are_bounded_and_errors_counted() -> None:
    bodies = [json.dumps({"n": 1}), json.dumps({"n": "fail"}), json.dumps({"n": "chunked"})]
    results, seen = asyncio.run(_load([
        {"name": "mixed", "path": "/x", "bodies": bodies, "concurrency": [1, 4], "seconds": 5, "max_requests": 60, "warmup": 2}
    ]))
    for level in ("concurrency_1", "concurrency_4"):
        run = results["mixed"][level]
        assert run["requests"] == 60
        assert run["status_counts"]["500"] == run["errors"] > 0
        assert run["status_counts"]["200"] + run["errors"] == 60
        assert run["p50_ms"] <= run["p95_ms"] <= run["p99_ms"] <= run["max_ms"]
        assert run["rps"] > 0
    assert len(seen) == (60 + 2) + (60 + 4 * 2)  # measured + warm-up requests


def test_a_run_stops_at_its_time_limit() -> None:
    results, _ = asyncio.run(_load([
        {"name": "timed", "path": "/x", "bodies": ["{}"], "concurrency": [2], "seconds": 0.3, "max_requests": 10**9}
    ]))
    run = results["timed"]["concurrency_2"]
    assert 0.3 <= run["seconds"] < 2.0
    assert run["errors"] == 0


def test_only_loopback_is_a_target() -> None:
    with pytest.raises(ValueError, match="127.0.0.1"):
        asyncio.run(run_plan({"host": "10.0.0.1", "port": 80, "scenarios": []}))


@pytest.mark.parametrize(
    "bad", [{"bodies": []}, {"seconds": 0}, {"seconds": 1000}, {"concurrency": [0]}, {"max_requests": 0}]
)
def test_unbounded_or_empty_scenarios_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Scenario(**{"name": "s", "path": "/x", "bodies": ["{}"], "concurrency": [1], **bad})


def test_a_mixed_scenario_counts_only_unexpected_statuses_as_errors() -> None:
    bodies = [json.dumps({"n": 1}), json.dumps({"n": "fail"})]
    results, seen = asyncio.run(_load([
        {"name": "mixed", "path": "/x", "paths": ["/a", "/b"], "bodies": bodies, "expected": [200, 500],
         "concurrency": [1], "seconds": 5, "max_requests": 40, "warmup": 0}
    ]))
    run = results["mixed"]["concurrency_1"]
    assert run["status_counts"] == {"200": 20, "500": 20} and run["errors"] == 0
    with pytest.raises(ValueError, match="one entry per body"):
        Scenario(name="s", path="/x", bodies=["{}"], concurrency=[1], expected=[200, 400])


def test_the_soak_scenario_mixes_every_route_with_expected_client_mistakes() -> None:
    from serving.soak import CLIENT_MISTAKES, mixed_scenario

    scenario = mixed_scenario({"/a": [{"x": 1}, {"x": 2}], "/b": [{"y": 1}]}, concurrency=4, seconds=1, mistake_every=3)
    assert scenario["paths"][:3] == ["/a", "/b", CLIENT_MISTAKES[0][0]] and scenario["expected"][2] == 400
    assert len(scenario["paths"]) == len(scenario["bodies"]) == len(scenario["expected"])
    Scenario(**scenario)  # a valid scenario for the load generator
