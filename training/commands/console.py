"""``crm console screenshots`` and ``crm bench console``: the marketing console on the real service.

Both start the service (``bentoml serve``) on a free loopback port with the stored bundle, a one-time
random API key and the session cookie's ``Secure`` flag off (the HTTP client that signs in sends a
``Secure`` cookie only over https; the service listens on loopback only), sign in like a marketer, then visit every page: to save a PNG of each (Playwright driving the system's
Chromium, never a downloaded one), or to time each page 100 times.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import httpx
import numpy as np
import typer

from serving import routes, server
from serving.settings import BUNDLE_NAME
from training.console import console, step

app = typer.Typer(help="The marketing console (served by `crm serve` under /console): screenshots of its pages.",
                  no_args_is_help=True)
BundleOption = Annotated[str, typer.Option("--bundle", help="Bundle (BentoML model tag) to serve.")]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
TARGET_P95_MS = 300.0


@dataclass(frozen=True)
class Running:
    """A started service with the console: its URL and the one-time key it was started with."""

    url: str
    key: str
    pid: int


@contextmanager
def console_service(bundle: str, log: Path) -> Iterator[Running]:
    """The service on a free loopback port serving ``bundle``, with a random key for this run only."""
    import bentoml

    tag = str(bentoml.models.get(bundle).tag)  # fails with BentoML's message when there is none
    key = secrets.token_urlsafe(24)
    settings = {"CRM_API_KEY": key, "CRM_BUNDLE": tag, "CRM_RELOAD_SECONDS": "0", "CRM_CONSOLE_SECURE_COOKIE": "false"}
    with server.running(settings=settings, log=log, timeout=180) as running:
        yield Running(running.url, key, running.pid)


def sign_in(client: httpx.Client, key: str) -> None:
    """Sign a client in through the login form (its CSRF token and pre-login cookie included)."""
    form = client.get("/console/login")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    answer = client.post("/console/login", data={"csrf": token.group(1) if token else "", "api_key": key},
                         follow_redirects=False)
    if answer.status_code != 303:
        raise RuntimeError(f"signing in to the console failed with HTTP {answer.status_code}")


def page_paths(client: httpx.Client, key: str) -> dict[str, str]:
    """Each console page with a realistic query: the first high-risk customer, the two largest segments."""
    first = client.post(routes.CHURN_RISK, json={"bands": ["high"], "page_size": 1}, headers={"X-API-Key": key}).json()
    customers = first.get("customers") or client.post(routes.CHURN_RISK, json={"page_size": 1},
                                                      headers={"X-API-Key": key}).json().get("customers", [])
    segments = re.findall(r'href="/console/segments\?name=([^"]+)"', client.get("/console/segments").text)
    paths = {
        "overview": "/console/",
        "churn": "/console/churn",
        "churn-filtered": "/console/churn?tier=Gold&band=high&band=medium&limit=100",
        "segments": "/console/segments?" + "&".join(f"name={name}" for name in segments[:2]),
        "models": "/console/models",
    }
    if customers:
        paths["customer"] = "/console/customer?id=" + quote(str(customers[0]["customer_id"]), safe="")
    return paths


@app.command("screenshots")
def screenshots(
    out: Annotated[Path, typer.Option("--out", help="Folder for one PNG per page.")] = Path("docs/img"),
    bundle: BundleOption = f"{BUNDLE_NAME}:latest",
    chromium: Annotated[str, typer.Option("--chromium", help="The Chromium executable to drive.")] = CHROMIUM,
    width: Annotated[int, typer.Option("--width", min=640, help="Window width in pixels.")] = 1280,
) -> None:
    """Write a PNG of every console page (full page), taken in headless Chromium on the real service."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise typer.BadParameter("needs Playwright: pip install -e '.[dev]'", param_hint="crm console screenshots") from error
    if not Path(chromium).exists():
        raise typer.BadParameter(f"{chromium} does not exist (apt-get install chromium)", param_hint="--chromium")
    from training import tracking  # here, not at import: every crm command imports this module

    out.mkdir(parents=True, exist_ok=True)
    with tracking.scratch_folder("crm-console-shots") as scratch, console_service(bundle, scratch / "server.log") as running:
        with httpx.Client(base_url=running.url, follow_redirects=True, timeout=60) as client:
            sign_in(client, running.key)
            paths = page_paths(client, running.key)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(running.url + "/console/login")
            page.screenshot(path=str(out / "console-login.png"))
            page.fill("#api_key", running.key)
            page.click("form.login button[type=submit]")
            page.wait_for_load_state("load")
            for name, path in paths.items():
                page.goto(running.url + path)
                page.screenshot(path=str(out / f"console-{name}.png"), full_page=True)
                console.print(f"wrote {out / f'console-{name}.png'}  ({path})")
            browser.close()


def _percentiles(values: list[float]) -> dict[str, float]:
    return {"p50": round(float(np.percentile(values, 50)), 2), "p95": round(float(np.percentile(values, 95)), 2),
            "max": round(float(max(values)), 2)}


def bench(
    out: Annotated[Path, typer.Option("--out", help="Where to write the JSON results.")],
    bundle: BundleOption = f"{BUNDLE_NAME}:latest",
    loads: Annotated[int, typer.Option("--loads", min=10, help="Loads of each page (one at a time).")] = 100,
) -> None:
    """Time every console page ``loads`` times on the real service: the console's own time (its
    ``Server-Timing`` header) and the round trip over loopback, p50/p95; with the API's churn-risk page
    (the JSON twin of the list) and ``/v1/status`` timed the same way as baselines."""
    import bentoml

    from training import tracking

    stored = bentoml.models.get(bundle)
    with tracking.scratch_folder("crm-bench-console") as scratch, console_service(bundle, scratch / "server.log") as running:
        with httpx.Client(base_url=running.url, timeout=60) as client:
            sign_in(client, running.key)
            paths = page_paths(client, running.key)
            pages = {**paths, "churn-export-csv": "/console/churn.csv?band=high"}
            results = {}
            with step(f"timing {len(pages)} pages and 2 API baselines x {loads} loads"):
                for name, path in pages.items():
                    client.get(path)  # the first load compiles the page's template: not counted
                    server_ms, round_trip_ms = [], []
                    for _ in range(loads):
                        started = time.perf_counter()
                        answer = client.get(path)
                        round_trip_ms.append((time.perf_counter() - started) * 1000)
                        if answer.status_code != 200:
                            raise RuntimeError(f"{path} answered HTTP {answer.status_code}")
                        server_ms.append(float(answer.headers["server-timing"].split("dur=")[1]))
                    results[name] = {"path": path, "server_ms": _percentiles(server_ms),
                                     "round_trip_ms": _percentiles(round_trip_ms), "bytes": len(answer.content)}
                baselines = {}
                for name, route, body in (("api-churn-risk-page", routes.CHURN_RISK, {"page_size": 50}),
                                          ("api-status", routes.STATUS, {})):
                    timings = []
                    for _ in range(loads):
                        started = time.perf_counter()
                        client.post(route, json=body, headers={"X-API-Key": running.key})
                        timings.append((time.perf_counter() - started) * 1000)
                    baselines[name] = {"route": route, "round_trip_ms": _percentiles(timings)}
    worst = max(results.values(), key=lambda r: r["server_ms"]["p95"])
    payload = {
        "bundle": str(stored.tag), "bundle_data": stored.info.metadata.get("data_source"), "loads_per_page": loads, "target_p95_ms": TARGET_P95_MS,
        "pages": results, "baselines": baselines,
        "all_pages_under_target": all(r["server_ms"]["p95"] < TARGET_P95_MS for r in results.values()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_average": os.getloadavg()},
    }
    tracking.write_json(out, payload)
    for name, result in results.items():
        console.print(f"{name:18s} server p50 {result['server_ms']['p50']:7.1f} ms  p95 {result['server_ms']['p95']:7.1f} ms  "
                      f"round trip p95 {result['round_trip_ms']['p95']:7.1f} ms")
    for name, result in baselines.items():
        console.print(f"{name:18s} round trip p95 {result['round_trip_ms']['p95']:7.1f} ms (baseline)")
    console.print(f"slowest page p95: {worst['server_ms']['p95']:.1f} ms (target < {TARGET_P95_MS:.0f} ms); wrote {out}")
    console.print(json.dumps({"all_pages_under_target": payload["all_pages_under_target"]}))
