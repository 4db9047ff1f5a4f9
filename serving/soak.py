"""A soak at saturation: the service under a mixed closed-loop load for a minute, memory watched.

``python -m serving.soak --home BENTOML_HOME --out OUT.json [--seconds 60] [--concurrency 32]`` starts the
service on the newest bundle of that BentoML home (with a random API key), and loads it with every
endpoint at once: storefront and marketing calls, with a share of deliberate client mistakes (each
expected to get its 4xx, so a 4xx there is not an error). After a warm-up (caches, allocator pools and
the garbage collector settle), it runs the measured soak while it samples the resident memory of the
service's processes. It reports throughput, latency, errors (any unexpected status or broken
connection) and the memory growth from the first to the last sample; the targets are 0 errors and a
growth under 5%.

``crm bench serving`` can run the same soak on its own bundle with :func:`mixed_scenario` and :func:`soak`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from serving import routes, server

TARGET_GROWTH_PCT = 5.0
# deliberate client mistakes mixed into the load, with the status each must get
CLIENT_MISTAKES: list[tuple[str, dict[str, Any], int]] = [
    (routes.RECOMMEND, {"customer_id": "c1", "k": 0}, 400),
    (routes.PRICE, {"product_id": "p1", "current_price": -1}, 400),
    (routes.RECOMMEND, {"customer_id": "c1", "colour": "red"}, 400),
]


def service_memory_mb(pid: int) -> float:
    """Resident memory of the service: its process and every child (the workers), in MiB."""
    import psutil

    root = psutil.Process(pid)
    return round(sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20, 1)


def mixed_scenario(bodies: dict[str, list[dict[str, Any]]], concurrency: int, seconds: float,
                   mistake_every: int = 20) -> dict[str, Any]:
    """One load-test scenario cycling through every route's bodies in turn (``bodies``: route -> request
    bodies), with one client mistake every ``mistake_every`` requests."""
    lists = [(route, items) for route, items in bodies.items() if items]
    longest = max(len(items) for _, items in lists)
    sent: list[tuple[str, str, int]] = []  # (route, body, expected status)
    for i in range(longest):
        for route, items in lists:
            if len(sent) % mistake_every == mistake_every - 1:
                mistake_route, mistake, status = CLIENT_MISTAKES[len(sent) // mistake_every % len(CLIENT_MISTAKES)]
                sent.append((mistake_route, json.dumps(mistake), status))
            sent.append((route, json.dumps(items[i % len(items)]), 200))
    paths, texts, expected = (list(column) for column in zip(*sent))
    return {"name": "soak", "path": routes.STATUS, "paths": paths, "bodies": texts, "expected": expected,
            "concurrency": [concurrency], "seconds": seconds, "max_requests": 10**8, "warmup": 5}


def _load(plan: dict[str, Any], scratch: Path) -> subprocess.Popen:
    """The load generator in its own process (it must not share this process's interpreter)."""
    plan_file = scratch / f"plan-{time.monotonic_ns()}.json"
    plan_file.write_text(json.dumps(plan))
    return subprocess.Popen([sys.executable, "-m", "serving.loadtest", str(plan_file), str(plan_file.with_suffix(".out"))],
                            env={**os.environ, **server.SINGLE_THREADED})


def soak(port: int, pid: int, scenario: dict[str, Any], headers: dict[str, str], seconds: float = 60.0,
         warmup_seconds: float = 15.0, sample_seconds: float = 5.0) -> dict[str, Any]:
    """Warm the service up, then load it for ``seconds`` while sampling its memory; the figures."""
    with tempfile.TemporaryDirectory(prefix="crm-soak-") as scratch:
        scratch_path = Path(scratch)
        base = {"port": port, "headers": headers}
        warmup = _load({**base, "scenarios": [{**scenario, "seconds": warmup_seconds}]}, scratch_path)
        if warmup.wait(timeout=warmup_seconds + 120) != 0:
            raise RuntimeError(f"the warm-up load exited with code {warmup.returncode}")
        plan = {**base, "scenarios": [{**scenario, "seconds": seconds}]}
        samples = [(0.0, service_memory_mb(pid))]
        began = time.monotonic()
        load = _load(plan, scratch_path)
        while load.poll() is None:
            time.sleep(min(sample_seconds, 0.5) if time.monotonic() - began > seconds else sample_seconds)
            if load.poll() is None:
                samples.append((round(time.monotonic() - began, 1), service_memory_mb(pid)))
        if load.returncode != 0:
            raise RuntimeError(f"the soak load exited with code {load.returncode}")
        samples.append((round(time.monotonic() - began, 1), service_memory_mb(pid)))
        figures = json.loads(Path(load.args[-1]).read_text())["soak"]
    memory = np.array([mb for _, mb in samples])
    growth = round(100 * (memory[-1] - memory[0]) / memory[0], 2)
    result = next(iter(figures.values()))
    return {
        **result,
        "concurrency": scenario["concurrency"][0],
        "warmup_seconds": warmup_seconds,
        "memory_mb_samples": samples,
        "memory_growth_pct": growth,
        "memory_peak_growth_pct": round(100 * (memory.max() - memory[0]) / memory[0], 2),
        "targets": {"errors_zero": result["errors"] == 0,
                    f"memory_growth_under_{TARGET_GROWTH_PCT:g}pct": bool(growth < TARGET_GROWTH_PCT)},
    }


def bundle_bodies(bundle: Any, seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """Requests for every route from a loaded bundle: known customers and a few new ones, its products."""
    rng = np.random.default_rng(seed)
    customers = bundle.customers.frame.index.to_numpy().astype(str)
    picked = rng.choice(customers, size=min(300, len(customers)), replace=False).tolist()
    picked[::20] = [f"new-customer-{i}" for i in range(len(picked[::20]))]
    bodies: dict[str, list[dict[str, Any]]] = {
        routes.PROFILE: [{"customer_id": c} for c in picked],
        routes.STATUS: [{}],
    }
    if bundle.customers.has_value_scores:
        bodies[routes.CHURN_RISK] = [{"page": int(page), "page_size": 20} for page in rng.integers(1, 5, 20)]
    if bundle.recommender is not None:
        items = bundle.recommender.items_.external_ids[:200].astype(str).tolist()
        bodies[routes.RECOMMEND] = [{"customer_id": c, "k": 10, "task": task} for c in picked for task in ("discovery", "repeat")]
        bodies[routes.RECOMMEND_BATCH] = [{"customer_ids": rng.choice(picked, 20, replace=False).tolist()} for _ in range(20)]
        bodies[routes.SIMILAR_ITEMS] = [{"item_id": item, "k": 10} for item in items]
    if bundle.pricing is not None:
        products = bundle.pricing.facts_.index.to_numpy().astype(str)[:200].tolist()
        bodies[routes.PRICE] = [{"product_id": p, "stock": float(rng.integers(0, 200)), "customer_id": c}
                                for p, c in zip(products, picked)]
    return bodies


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="BentoML home holding the bundle to serve")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON figures")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ["BENTOML_HOME"] = str(args.home)
    import bentoml

    from serving.bundle import load_bundle

    stored = bentoml.models.get("crm-bundle:latest")
    bodies = bundle_bodies(load_bundle(stored.path, str(stored.tag)))
    key, load_before = secrets.token_urlsafe(16), os.getloadavg()
    scenario = mixed_scenario(bodies, args.concurrency, args.seconds)
    with server.running(bentoml_home=args.home, settings={"CRM_API_KEY": key, "CRM_RELOAD_SECONDS": "0"},
                        workers=args.workers) as running:
        figures = soak(int(running.url.rsplit(":", 1)[1]), running.pid, scenario, {"X-API-Key": key}, args.seconds)
    figures["setup"] = {"bundle": str(stored.tag), "workers": args.workers, "cpus": os.cpu_count(),
                        "load_average_before": [round(x, 2) for x in load_before]}
    args.out.write_text(json.dumps(figures, indent=2))
    print(json.dumps({k: figures[k] for k in ("requests", "rps", "p50_ms", "p99_ms", "errors", "status_counts",
                                              "memory_growth_pct", "memory_peak_growth_pct", "targets")}))


if __name__ == "__main__":
    main()
