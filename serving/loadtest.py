"""A bounded closed-loop load test against a local service, run as its own process.

``python -m serving.loadtest PLAN.json OUT.json`` reads a plan (port, headers, and for each scenario a
route, request bodies, concurrency levels, a time limit and a request limit), and writes latency
percentiles, throughput, error counts and status codes per scenario and concurrency level. A scenario
may mix routes (``paths``, one per body) and expect a status other than 2xx for some bodies
(``expected``, one per body: a deliberate client mistake answered 400 is then not an error), and pace
its connections (``pace``: seconds between request starts) to stream at a fixed rate instead, and send
each body at most once over all connections (``distinct``: e.g. event batches whose ids must not repeat).

Each of ``concurrency`` connections sends a request, waits for the whole answer, and sends the next
(a closed loop, like a pool of storefront threads), cycling through the bodies. Every connection first
sends a few unmeasured warm-up requests; measuring starts for all connections at once and stops at the
time limit or the request limit, whichever comes first. Only the loopback interface is allowed.

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams rather than a general-purpose
library: the client shares the machine's cores with the server, so its own cost per request must stay
small next to the server's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LOOPBACK = "127.0.0.1"
MAX_SECONDS = 120.0


@dataclass
class Scenario:
    """One route under load: the bodies to cycle through and the limits of each concurrency level."""

    name: str
    path: str
    bodies: list[str]
    concurrency: list[int]
    seconds: float = 5.0
    max_requests: int = 50_000
    warmup: int = 20
    paths: list[str] | None = None  # one per body (default: ``path`` for all)
    expected: list[int] | None = None  # status expected for each body (default: any 2xx)
    pace: float = 0.0  # seconds from one request's start to the next on a connection (0: back to back)
    distinct: bool = False  # every body is sent at most once over all connections (e.g. event batches)

    def __post_init__(self) -> None:
        if not self.bodies:
            raise ValueError(f"scenario {self.name}: no request bodies")
        for name in ("paths", "expected"):
            if getattr(self, name) is not None and len(getattr(self, name)) != len(self.bodies):
                raise ValueError(f"scenario {self.name}: {name} must have one entry per body")
        if not 0 < self.seconds <= MAX_SECONDS:
            raise ValueError(f"scenario {self.name}: seconds must be in (0, {MAX_SECONDS}], got {self.seconds}")
        if self.max_requests < 1 or any(c < 1 for c in self.concurrency):
            raise ValueError(f"scenario {self.name}: max_requests and concurrency must be positive")


@dataclass
class Tally:
    """What the connections of one run measured."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    unexpected: int = 0
    failures: int = 0
    reconnects: int = 0
    stop_at: float = float("inf")


def _requests(scenario: Scenario, headers: dict[str, str]) -> list[bytes]:
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    built = []
    for body, path in zip(scenario.bodies, scenario.paths or [scenario.path] * len(scenario.bodies)):
        payload = body.encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {LOOPBACK}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{extra}\r\n"
        )
        built.append(head.encode() + payload)
    return built


class StaleConnection(ConnectionError):
    """The server had closed a kept-alive connection before the request arrived (nothing was read)."""


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one whole response (Content-Length or chunked) and return its status code."""
    try:
        status_line = await reader.readline()
    except ConnectionResetError as error:
        raise StaleConnection("connection reset before any answer") from error
    if not status_line:
        raise StaleConnection("server closed the connection")
    status = int(status_line.split(b" ", 2)[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while (size := int((await reader.readline()).split(b";")[0], 16)) > 0:
            await reader.readexactly(size + 2)
        await reader.readline()
    else:
        await reader.readexactly(length)
    return status


async def _connection(port: int, requests: list[bytes], offset: int, scenario: Scenario, gate: Gate,
                      tally: Tally, budget: list[int], cursor: list[int]) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        turn = cursor[0] if scenario.distinct else offset
        cursor[0] += scenario.distinct
        for _ in range(scenario.warmup):
            writer.write(requests[turn % len(requests)])
            await _read_response(reader)
            turn, cursor[0] = (cursor[0], cursor[0] + 1) if scenario.distinct else (turn + 1, cursor[0])
        await gate.arrive()
        while budget[0] > 0 and time.perf_counter() < tally.stop_at and cursor[0] <= len(requests):
            budget[0] -= 1
            began = time.perf_counter()
            writer.write(requests[turn % len(requests)])
            try:
                try:
                    status = await _read_response(reader)
                except StaleConnection:
                    # like any HTTP client pool: a kept-alive connection the server closed while it was
                    # idle (e.g. waiting at the start gate) is reopened and the request sent again, once
                    writer.close()
                    reader, writer = await asyncio.open_connection(LOOPBACK, port)
                    tally.reconnects += 1
                    writer.write(requests[turn % len(requests)])
                    status = await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError, ValueError):
                tally.failures += 1
                writer.close()
                reader, writer = await asyncio.open_connection(LOOPBACK, port)
                continue
            tally.latencies.append(time.perf_counter() - began)
            tally.statuses[status] += 1
            expected = scenario.expected[turn % len(requests)] if scenario.expected else None
            tally.unexpected += not (status == expected if expected else 200 <= status < 300)
            turn, cursor[0] = (cursor[0], cursor[0] + 1) if scenario.distinct else (turn + 1, cursor[0])
            if scenario.pace:  # a paced stream (e.g. event batches at a fixed rate) rather than a closed loop
                await asyncio.sleep(max(0.0, began + scenario.pace - time.perf_counter()))
    finally:
        writer.close()


class Gate:
    """Holds every connection after its warm-up until all have arrived, then opens for all at once."""

    def __init__(self, parties: int, tally: Tally, seconds: float) -> None:
        self.waiting, self.tally, self.seconds = parties, tally, seconds
        self.open = asyncio.Event()
        self.opened_at = 0.0

    async def arrive(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.opened_at = time.perf_counter()
            self.tally.stop_at = self.opened_at + self.seconds
            self.open.set()
        await self.open.wait()


async def _run(port: int, requests: list[bytes], concurrency: int, scenario: Scenario) -> dict[str, Any]:
    tally, budget, cursor = Tally(), [scenario.max_requests], [0]
    gate = Gate(concurrency, tally, scenario.seconds)
    await asyncio.gather(*(
        _connection(port, requests, i * 7, scenario, gate, tally, budget, cursor) for i in range(concurrency)
    ))
    return _summary(tally, time.perf_counter() - gate.opened_at)


def _summary(tally: Tally, elapsed: float) -> dict[str, Any]:
    latencies = np.asarray(tally.latencies) * 1000.0
    percentiles = np.percentile(latencies, [50, 95, 99]) if latencies.size else [float("nan")] * 3
    return {
        "p50_ms": round(float(percentiles[0]), 3),
        "p95_ms": round(float(percentiles[1]), 3),
        "p99_ms": round(float(percentiles[2]), 3),
        "max_ms": round(float(latencies.max()), 3) if latencies.size else None,
        "rps": round(latencies.size / elapsed, 1) if elapsed > 0 else 0.0,
        "requests": int(latencies.size),
        "seconds": round(elapsed, 3),
        "errors": int(tally.unexpected + tally.failures),
        "reconnects": tally.reconnects,
        "status_counts": {str(status): n for status, n in sorted(tally.statuses.items())},
    }


async def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """Run every scenario of ``plan`` at each of its concurrency levels, one after the other."""
    if plan.get("host", LOOPBACK) != LOOPBACK:
        raise ValueError(f"the load test only targets {LOOPBACK}, not {plan['host']!r}")
    port, headers = int(plan["port"]), dict(plan.get("headers", {}))
    results: dict[str, Any] = {}
    for raw in plan["scenarios"]:
        scenario = Scenario(**raw)
        requests = _requests(scenario, headers)
        results[scenario.name] = {
            f"concurrency_{level}": await _run(port, requests, level, scenario) for level in scenario.concurrency
        }
    return results


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python -m serving.loadtest PLAN.json OUT.json")
    plan = json.loads(Path(argv[0]).read_text())
    results = asyncio.run(run_plan(plan))
    Path(argv[1]).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
