"""``crm bench serving``'s harness: train what has no champion, import a bundle into a BentoML home of
its own, time the engine calls in process, run the service and load it from a second process
(:mod:`serving.loadtest`), and report figures against the targets."""

from __future__ import annotations

import json
import os
import platform
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving import routes, server
from training.commands.data import DataArgs
from training.console import ERROR_FILE_VARIABLE, console, step

TRAIN_COMMANDS = {"recommender": ["recommender"], "churn": ["churn"], "clv": ["clv"], "pricing": ["pricing"]}
LEVELS = [1, 8, 32]


def train_missing(source: DataArgs, tracking_uri: str) -> dict[str, str]:
    """Train every capability that has no champion yet with its own ``crm train`` command on ``source``
    (its data options passed on); returns what happened per capability (``champion vN``, ``trained``, or
    why not)."""
    import subprocess

    from serving.bundle import MODEL_NAMES
    from training import tracking

    outcome = {}
    for part, command in TRAIN_COMMANDS.items():
        version = tracking.champion_version(MODEL_NAMES[part])
        if version is not None:
            outcome[part] = f"champion v{version}"
            continue
        crm = Path(sys.executable).with_name("crm")
        options = source.cli_options()
        with step(f"no {MODEL_NAMES[part]} champion: crm train {' '.join([*command, *options])}"), \
                tempfile.TemporaryDirectory(prefix="crm-train-") as folder:
            error_file = Path(folder) / "error.json"
            done = subprocess.run([str(crm), "train", *command, *options], capture_output=True, text=True,
                                  env={**os.environ, **server.SINGLE_THREADED, "MLFLOW_TRACKING_URI": tracking_uri,
                                       ERROR_FILE_VARIABLE: str(error_file)})
            problem = child_error(done.returncode, error_file)
        if problem is None:
            version = tracking.champion_version(MODEL_NAMES[part])
            outcome[part] = f"trained, champion v{version}" if version else "trained, not promoted"
        else:
            outcome[part] = f"not trained: {problem[:200]}"
            console.print(f"[yellow]{MODEL_NAMES[part]} not available[/yellow]: {problem[:200]}")
    return outcome


def child_error(exit_code: int, error_file: Path) -> str | None:
    """Why a ``crm`` child process failed, from its exit code and the JSON error it recorded
    (``$CRM_ERROR_FILE``); None when it succeeded."""
    if exit_code == 0:
        return None
    if error_file.is_file():
        return str(json.loads(error_file.read_text())["message"])
    return f"exit code {exit_code} (no error recorded: killed, or failed before the command ran)"


def request_bodies(bundle: Any, batch_size: int, seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """Storefront-like requests: mostly known customers and a few new ones (cold start), bought items."""
    import numpy as np

    rng = np.random.default_rng(seed)
    customers = bundle.customers.frame.index.to_numpy()
    picked = rng.choice(customers, size=min(500, len(customers)), replace=False).astype(str).tolist()
    picked[::20] = [f"new-customer-{i}" for i in range(len(picked[::20]))]
    bodies: dict[str, list[dict[str, Any]]] = {
        "profile": [{"customer_id": c} for c in picked],
    }
    if bundle.recommender is not None:
        bodies["recommend"] = [{"customer_id": c, "k": 10, "task": "discovery"} for c in picked]
        bodies["recommend_batch"] = [
            {"customer_ids": rng.choice(picked, size=batch_size, replace=False).tolist(), "k": 10, "task": "discovery"}
            for _ in range(50)
        ]
    if bundle.pricing is not None:
        products = pricing_products(bundle.pricing)
        chosen = rng.choice(products, size=min(200, len(products)), replace=False).astype(str).tolist()
        bodies["price"] = [{"product_id": p, "stock": float(rng.integers(0, 200))} for p in chosen]
    return bodies


def pricing_products(pricing: Any) -> Any:
    """The product ids a pricing model can quote."""
    return pricing.facts_.index.to_numpy()


def in_process_times(bundle: Any, bodies: dict[str, list[dict[str, Any]]], seconds: float = 3.0) -> dict[str, float]:
    """p50/p99 in milliseconds of the engine call behind each endpoint, for the same requests, in this
    process (no HTTP): the denominator of the serving overhead."""
    from threadpoolctl import threadpool_limits

    from serving import answers
    from serving.schemas import PriceRequest

    calls = {
        "profile": lambda body: answers.profile(bundle, body["customer_id"]),
        "recommend": lambda body: bundle.recommender.recommend([body["customer_id"]], k=body["k"], task=body["task"]),
        "recommend_batch": lambda body: bundle.recommender.recommend(body["customer_ids"], k=body["k"], task=body["task"]),
        "price": lambda body: answers.price_quote(bundle, PriceRequest(**body)),
    }
    figures = {}
    with threadpool_limits(1):  # as in the service's workers (OPENBLAS_NUM_THREADS=1)
        for name, requests in bodies.items():
            figures.update(_time_calls(name, calls[name], requests, seconds))
    return figures


def _time_calls(name: str, call: Any, requests: list[dict[str, Any]], seconds: float) -> dict[str, float]:
    import time

    import numpy as np

    timings, deadline, turn = [], time.perf_counter() + seconds, 0
    while time.perf_counter() < deadline and turn < 20_000:
        began = time.perf_counter()
        call(requests[turn % len(requests)])
        timings.append(time.perf_counter() - began)
        turn += 1
    p50, p99 = np.percentile(np.asarray(timings[len(timings) // 10 :]) * 1000, [50, 99])
    return {f"{name}_p50_ms": round(float(p50), 4), f"{name}_p99_ms": round(float(p99), 4)}


def server_memory_mb(pid: int) -> float:
    """Resident memory of the service: its process and every child (the workers), in MiB."""
    import psutil

    root = psutil.Process(pid)
    return round(sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20, 1)


def run_load(plan: dict[str, Any], scratch: Path, name: str = "load") -> dict[str, Any]:
    """Run the load generator in its own process on ``plan`` and return its results (``name`` keeps
    the files of load generators that run at the same time apart)."""
    import subprocess

    plan_file, out_file = scratch / f"{name}-plan.json", scratch / f"{name}.json"
    plan_file.write_text(json.dumps(plan))
    # a session of its own: with Linux autogrouping, load generators that run at the same time (the
    # recommendation clients beside an event stream) would otherwise share one CPU share and slow
    # each other's clocks, which reads as server latency
    subprocess.run([sys.executable, "-m", "serving.loadtest", str(plan_file), str(out_file)], check=True,
                   start_new_session=True, env={**os.environ, **server.SINGLE_THREADED}, timeout=60 + sum(
                       s["seconds"] * len(s["concurrency"]) * 3 for s in plan["scenarios"]))
    return json.loads(out_file.read_text())


@dataclass(frozen=True)
class BenchOptions:
    """What ``crm bench serving`` measures (see its --help)."""

    seconds: float = 5.0
    batch_size: int = 50
    saturation_seconds: float = 0.0
    workers: int = 1
    train: bool = True
    only: tuple[str, ...] = ()


def run_bench(source: DataArgs, options: BenchOptions, tracking_uri: str | None = None) -> dict[str, Any]:
    """Import the champions into a BentoML home of its own, time the engine calls in process, then the
    service under load from a second process; returns the figures with the targets.

    MLflow, the bundle and LightGBM are imported here, not with the module: ``crm bench events``
    imports its load driver, and every ``crm`` command imports that."""
    from serving.bundle import load_bundle
    from training import tracking
    from training.bundle import import_champions
    from training.bundle_store import stored_path

    uri = tracking.configure(tracking_uri)
    trained = train_missing(source, uri) if options.train else {}
    key = secrets.token_urlsafe(16)
    with tracking.scratch_folder("crm-bench-serving") as scratch_path:
        home = scratch_path / "bentoml"
        tag, _ = import_champions(None, source, bentoml_home=home)
        bundle = load_bundle(stored_path(tag, home), tag)
        bodies = request_bodies(bundle, options.batch_size)
        with step("timing the engine calls in process"):
            in_process = in_process_times(bundle, bodies, min(options.seconds, 3.0))
        plan = load_plan(bodies, key, options)
        load_before = os.getloadavg()
        measured = serve_and_load(plan, home, key, scratch_path, options)
    results, saturation = measured["results"], measured["saturation"]
    payload = {
        **results,
        "in_process": in_process,
        "overhead_ratio": {
            name: round(results[name]["concurrency_1"]["p50_ms"] / in_process[f"{name}_p50_ms"], 2)
            for name in results if in_process.get(f"{name}_p50_ms")
        },
        "errors": sum(level["errors"] for scenario in results.values() for level in scenario.values())
        + (saturation["errors"] if saturation else 0),
        "memory_mb": measured["memory_mb"],
        "saturation": saturation,
        "setup": {
            "bundle": tag, "versions": bundle.versions, "data": source.data, "models": trained,
            "seconds_per_level": options.seconds, "batch_size": options.batch_size, "workers": options.workers,
            "cpus": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
            "python": platform.python_version(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    }
    payload["targets"] = _targets(payload)
    return payload


def load_plan(bodies: dict[str, list[dict[str, Any]]], key: str, options: BenchOptions) -> dict[str, Any]:
    """The load generator's plan: one scenario per endpoint measured (``options.only``, else all)."""
    routes_of = {"recommend": routes.RECOMMEND, "recommend_batch": routes.RECOMMEND_BATCH,
                 "price": routes.PRICE, "profile": routes.PROFILE}
    return {"port": 0, "headers": {"X-API-Key": key}, "scenarios": [
        {"name": name, "path": routes_of[name], "bodies": [json.dumps(b) for b in bodies[name]],
         "concurrency": LEVELS, "seconds": options.seconds, "max_requests": 100_000}
        for name in ("recommend", "recommend_batch", "price", "profile") if name in bodies and name in (options.only or bodies)
    ]}


def serve_and_load(plan: dict[str, Any], home: Path, key: str, scratch: Path, options: BenchOptions) -> dict[str, Any]:
    """Start the service on ``home``'s store, run the plan (and the saturation run), stop it."""
    with server.running(bentoml_home=home, settings={"CRM_API_KEY": key, "CRM_RELOAD_SECONDS": "0"},
                        log=scratch / "server.log", workers=options.workers) as running:
        plan["port"] = int(running.url.rsplit(":", 1)[1])
        memory_before = server_memory_mb(running.pid)
        with step(f"load test: {len(plan['scenarios'])} endpoints x concurrency {LEVELS} x {options.seconds:g} s"):
            results = run_load(plan, scratch)
        memory_after = server_memory_mb(running.pid)
        saturation = None
        if options.saturation_seconds > 0 and plan["scenarios"] and plan["scenarios"][0]["name"] == "recommend":
            saturation = saturate(plan, running.pid, scratch, options.saturation_seconds)
    return {"results": results, "saturation": saturation, "memory_mb": {"before": memory_before, "after": memory_after}}


def saturate(plan: dict[str, Any], pid: int, scratch: Path, seconds: float) -> dict[str, Any]:
    """Recommendations at concurrency 32 for ``seconds``, with the service's memory before and after."""
    with step(f"saturation: recommendations at concurrency 32 for {seconds:g} s"):
        saturation_plan = {**plan, "scenarios": [{**plan["scenarios"][0], "concurrency": [32],
                                                  "seconds": seconds, "max_requests": 10**7}]}
        start_memory = server_memory_mb(pid)
        run = run_load(saturation_plan, scratch)["recommend"]["concurrency_32"]
        end_memory = server_memory_mb(pid)
    return {**run, "concurrency": 32, "memory_mb_before": start_memory, "memory_mb_after": end_memory,
            "memory_growth_pct": round(100 * (end_memory - start_memory) / start_memory, 2)}


def _targets(payload: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, each with the measured value and whether it is met."""
    targets: dict[str, Any] = {"errors_zero": payload["errors"] == 0}
    if "recommend" in payload:
        level = payload["recommend"]["concurrency_8"]
        targets["recommend_c8_p99_under_25ms"] = level["p99_ms"] < 25
        targets["recommend_c8_at_least_300_rps"] = level["rps"] >= 300
        targets["recommend_overhead_under_3x"] = payload["overhead_ratio"].get("recommend", float("inf")) < 3
    if payload["saturation"]:
        targets["saturation_memory_growth_under_10pct"] = payload["saturation"]["memory_growth_pct"] < 10
    return targets


def print_bench(payload: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="Serving over loopback (closed loop)")
    for column in ("endpoint", "concurrency", "p50 ms", "p95 ms", "p99 ms", "req/s", "errors", "in-process p50 ms"):
        table.add_column(column, justify="right" if column != "endpoint" else "left")
    for name in ("recommend", "recommend_batch", "price", "profile"):
        for level, figures in payload.get(name, {}).items():
            table.add_row(name, level.split("_")[1], f"{figures['p50_ms']:.2f}", f"{figures['p95_ms']:.2f}",
                          f"{figures['p99_ms']:.2f}", f"{figures['rps']:.0f}", str(figures["errors"]),
                          f"{payload['in_process'].get(f'{name}_p50_ms', float('nan')):.3f}")
    console.print(table)
    console.print(f"memory MiB before/after: {payload['memory_mb']['before']} / {payload['memory_mb']['after']}; "
                  f"overhead (served p50 at concurrency 1 / in-process p50): {payload['overhead_ratio']}")
    if payload["saturation"]:
        s = payload["saturation"]
        console.print(f"saturation {s['seconds']:.0f} s at concurrency 32: {s['rps']:.0f} req/s, p99 {s['p99_ms']:.1f} ms, "
                      f"errors {s['errors']}, memory {s['memory_mb_before']} -> {s['memory_mb_after']} MiB "
                      f"({s['memory_growth_pct']:+.1f}%)")
    console.print(f"targets: {payload['targets']}")
