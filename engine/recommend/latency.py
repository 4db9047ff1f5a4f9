"""In-process latency of a recommender: single-customer calls and batch throughput."""

from __future__ import annotations

import time

import numpy as np

from engine.recommend.base import RecommenderModel, Task


def measure_latency(
    model: RecommenderModel, customers: list[str], k: int, task: Task, calls: int, seed: int, batch: int = 256
) -> dict[str, float]:
    """p50/p99 of single-customer ``recommend`` calls (in-process, ms) and the throughput of batch
    calls (customers per second, batches of ``batch``)."""
    rng = np.random.default_rng(seed)
    sample = [customers[i] for i in rng.integers(0, len(customers), calls)]
    model.recommend(sample[:5], k=k, task=task)  # warm-up
    timings = []
    for customer in sample:
        started = time.perf_counter()
        model.recommend([customer], k=k, task=task)
        timings.append(time.perf_counter() - started)
    started = time.perf_counter()
    for start in range(0, len(customers), batch):
        model.recommend(customers[start : start + batch], k=k, task=task)
    elapsed = time.perf_counter() - started
    milliseconds = np.asarray(timings) * 1000.0
    return {
        "recommend_p50_ms": float(np.percentile(milliseconds, 50)),
        "recommend_p99_ms": float(np.percentile(milliseconds, 99)),
        "batch_customers_per_second": float(len(customers) / elapsed) if elapsed > 0 else float("inf"),
    }
