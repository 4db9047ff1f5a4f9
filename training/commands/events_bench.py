"""``crm bench events``: event ingestion rate, and recommendation latency with and without an event
stream, on the real service over loopback (the load generator of :mod:`serving.loadtest` in separate
processes).

1. **Ingestion**: batches of ``--batch-size`` distinct events posted back to back (closed loop) by 1 and
   by 4 connections; events/s = events acknowledged / seconds. Afterwards the store must hold exactly
   the acknowledged events (none lost, none twice).
2. **Recommendations under an event stream**: ``--rounds`` rounds, each measuring recommendation
   latency (``--concurrency`` clients sending ``--recommend-rate`` requests/s in all, paced like a
   storefront's traffic; 0: back to back) alone and while a second process streams event batches at
   ``--stream-rate`` events/s (paced, as a shop's feedback arrives), in alternating order from round to
   round. The ratio of the p99s is computed per round (reported with its quartiles and range: on a
   shared machine the rounds' spread is the honest error bar) and from the medians, so all figures come
   from the same run and machine state; the 1-minute load average before each measurement is recorded.

3. **Ablation** (``--ablation``): in each round, after those two, recommendations once more beside a
   CPU burner instead of the stream: processes outside the service, in a session of their own at the
   ingester's nice value, that spin for the CPU seconds per second the stream costs (the service's
   process tree and the stream's load generator, measured once over a stream alone). They ingest
   nothing and touch no socket, so if the burner raises the p99 as much as the stream does, what the
   stream costs the calls is CPU contention on the shared cores, not the service.

The served bundle holds a recommender fitted here with the engine (ALS, the default parameters) on
``--data``, so the bench needs no MLflow registry.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from serving import routes, server
from training.commands.data import DataArgs, takes_data
from training.console import console, step
from training.serving_bench import request_bodies, run_load

TARGET_EVENTS_PER_SECOND = 2_000
TARGET_P99_RATIO = 1.1
INGEST_CONCURRENCY = [1, 4]


def bundle_with_recommender(source: DataArgs, home: Path, scratch: Path) -> str:
    """Fit an ALS recommender on ``source``, store a bundle with it (and the customer profiles) in
    ``home``'s model store, and return its tag."""
    from threadpoolctl import threadpool_limits

    from engine.customers.view import customer_view, default_as_of
    from engine.recommend.als import ALSRecommender
    from serving.bundle import write_bundle
    from training.bundle_store import store_bundle

    shop = source.load()
    with step("fitting an ALS recommender (engine defaults, one thread)"), threadpool_limits(1):
        model = ALSRecommender(num_threads=1).fit(shop.transactions)
        model.save(scratch / "als", data_fingerprint=shop.fingerprint())
    as_of = default_as_of(shop.transactions)
    folder = write_bundle(
        scratch / "bundle", customers=customer_view(shop.transactions, as_of), as_of=as_of, entry_tier="Bronze",
        versions={"recommender": "bench"}, data_source=shop.source, data_fingerprint=shop.fingerprint(),
        recommender_dir=scratch / "als", products=shop.products,
    )
    return store_bundle(folder, {"purpose": "crm bench events"}, home)


def event_bodies(prefix: str, batches: int, batch_size: int, customers: list[str]) -> list[str]:
    """``batches`` JSON bodies of ``batch_size`` events each, every event id distinct (``prefix``-n-i)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    return [json.dumps({"events": [
        {"event_id": f"{prefix}-{n}-{i}", "event_type": "rec_shown", "timestamp": now,
         "customer_id": customers[(n * batch_size + i) % len(customers)], "item_id": "p1",
         "request_id": f"r{n}", "bundle_version": "bench", "model_version": "bench", "price": 1.0}
        for i in range(batch_size)]}) for n in range(batches)]


def _events_scenario(name: str, bodies: list[str], concurrency: list[int], seconds: float, pace: float = 0.0) -> dict[str, Any]:
    warmup = 1
    return {"name": name, "path": routes.EVENTS, "bodies": bodies, "concurrency": concurrency, "seconds": seconds,
            "max_requests": len(bodies) - warmup * max(concurrency), "warmup": warmup, "pace": pace, "distinct": True}


def _ingestion(port: int, headers: dict[str, str], scratch: Path, seconds: float, batch_size: int,
               customers: list[str]) -> tuple[dict[str, Any], int]:
    """Events/s at each ingestion concurrency; returns the results and the events sent in all."""
    results, sent = {}, 0
    for level in INGEST_CONCURRENCY:
        bodies = event_bodies(f"ingest{level}", int(seconds * 40) + 8, batch_size, customers)
        plan = {"port": port, "headers": headers, "scenarios": [_events_scenario("events", bodies, [level], seconds)]}
        with step(f"ingestion: batches of {batch_size} back to back, {level} connection(s), {seconds:g} s"):
            run = run_load(plan, scratch, f"ingest-{level}")["events"][f"concurrency_{level}"]
        run["events_per_second"] = round(run["requests"] * batch_size / run["seconds"], 1)
        results[f"concurrency_{level}"] = run
        sent += (run["requests"] + level) * batch_size  # measured requests and the warm-up ones
    return results, sent


def _with_stream(port: int, headers: dict[str, str], scratch: Path, recommend: dict[str, Any], stream_rate: float,
                 batch_size: int, customers: list[str], prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Recommendation latency while a second process streams event batches at ``stream_rate``;
    returns the recommendation run and the stream's run."""
    pace = batch_size / stream_rate
    stream_seconds = recommend["seconds"] + 6.0  # covers the recommendation client's start and warm-up
    bodies = event_bodies(prefix, int(stream_seconds / pace) + 4, batch_size, customers)
    stream_plan = {"port": port, "headers": headers,
                   "scenarios": [_events_scenario("events", bodies, [1], stream_seconds, pace)]}
    streamed: dict[str, Any] = {}
    streamer = threading.Thread(target=lambda: streamed.update(run_load(stream_plan, scratch, "stream")))
    streamer.start()
    time.sleep(2.0)  # the stream is flowing before the measurement starts
    together = run_load({"port": port, "headers": headers, "scenarios": [recommend]}, scratch, "together")
    streamer.join()
    return together, streamed["events"]["concurrency_1"]


def _machine_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the service's process tree (workers and ingesters)
    and by this process's finished children (the load generators, counted once they are waited for)."""
    import psutil

    root = psutil.Process(pid)
    own = os.times()
    total = own.children_user + own.children_system
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


BURN_PERIOD = 0.02  # seconds: each burner spins for its share of every period and sleeps the rest
BURNER = """
import os, sys, time
os.setsid(); os.nice(int(sys.argv[2]))
duty, period = float(sys.argv[1]), float(sys.argv[3])
while True:
    start = time.perf_counter()
    while time.perf_counter() - start < duty * period:
        pass
    time.sleep(max(0.0, period - (time.perf_counter() - start)))
"""


def _stream_cpu(port: int, headers: dict[str, str], scratch: Path, stream_rate: float, batch_size: int,
                customers: list[str], pid: int, seconds: float) -> tuple[float, int]:
    """CPU seconds per second an event stream alone costs the machine: the service's process tree and
    its load generator, measured over ``seconds`` of stream (the burner's size, module doc 3.); and the
    events it sent."""
    pace = batch_size / stream_rate
    bodies = event_bodies("cpu", int(seconds / pace) + 4, batch_size, customers)
    plan = {"port": port, "headers": headers, "scenarios": [_events_scenario("events", bodies, [1], seconds, pace)]}
    with step(f"the CPU an event stream of {stream_rate:g} events/s costs alone (the burner's size)"):
        before, started = _machine_cpu(pid), time.perf_counter()
        run = run_load(plan, scratch, "stream-cpu")["events"]["concurrency_1"]
        return (_machine_cpu(pid) - before) / (time.perf_counter() - started), (run["requests"] + 1) * batch_size


def _with_burner(port: int, headers: dict[str, str], scratch: Path, recommend: dict[str, Any],
                 cores: float) -> dict[str, Any]:
    """Recommendation latency beside burner processes that spin ``cores`` CPU seconds per second in all,
    outside the service (module doc, 3.)."""
    import math
    import subprocess
    import sys

    from serving.events import INGESTER_NICENESS

    count = max(1, math.ceil(cores))
    burners = [subprocess.Popen([sys.executable, "-c", BURNER, str(min(1.0, max(cores, 0.0) / count)),
                                 str(INGESTER_NICENESS), str(BURN_PERIOD)]) for _ in range(count)]
    try:
        return run_load({"port": port, "headers": headers, "scenarios": [recommend]}, scratch, "burner")
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def _latency_rounds(port: int, headers: dict[str, str], scratch: Path, recommend: dict[str, Any], rounds: int,
                    stream_rate: float, batch_size: int, customers: list[str],
                    ablation_pid: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """Each round measures recommendations alone and with a paced event stream running, in alternating
    order (alone first in odd rounds, streaming first in even ones), so a drift of the machine's load
    over the run does not favour one condition; with ``ablation_pid`` (the service's process), then
    beside a CPU burner of the stream's extra service CPU (module doc, 3.). Returns the rounds and the
    events the streams sent."""
    measured, sent = [], 0
    level = f"concurrency_{recommend['concurrency'][0]}"
    for turn in range(rounds):
        runs: dict[str, Any] = {}
        order = ("alone", "stream") if turn % 2 == 0 else ("stream", "alone")
        for condition in order:
            load_before = os.getloadavg()[0]
            if condition == "alone":
                with step(f"round {turn + 1}/{rounds}: recommendations alone"):
                    runs["alone"] = run_load({"port": port, "headers": headers, "scenarios": [recommend]}, scratch, "alone")
            else:
                with step(f"round {turn + 1}/{rounds}: recommendations while {stream_rate:g} events/s stream in"):
                    runs["together"], runs["stream"] = _with_stream(port, headers, scratch, recommend, stream_rate,
                                                                    batch_size, customers, f"stream{turn}")
            runs[f"load_{condition}"] = round(load_before, 2)
        ablation = {}
        if ablation_pid:
            if turn == 0:
                extra, events = _stream_cpu(port, headers, scratch, stream_rate, batch_size, customers, ablation_pid,
                                            recommend["seconds"])
                sent += events
            load_before = os.getloadavg()[0]
            with step(f"round {turn + 1}/{rounds}: recommendations beside a CPU burner of {extra:.2f} cores"):
                burned = _with_burner(port, headers, scratch, recommend, extra)["recommend"][level]
            without = runs["alone"]["recommend"][level]
            ablation = {"ablation": {
                "burner_cores": round(extra, 3), "with_burner": burned, "load_average_1min": round(load_before, 2),
                "p50_ratio": round(burned["p50_ms"] / without["p50_ms"], 3),
                "p99_ratio": round(burned["p99_ms"] / without["p99_ms"], 3),
            }}
        without, with_stream, stream = runs["alone"]["recommend"][level], runs["together"]["recommend"][level], runs["stream"]
        sent += (stream["requests"] + 1) * batch_size
        measured.append({
            "order": list(order),
            "without_stream": without, "with_stream": with_stream,
            "load_average_1min": {"without_stream": runs["load_alone"], "with_stream": runs["load_stream"]},
            "stream_events_per_second": round(stream["requests"] * batch_size / stream["seconds"], 1),
            "stream_errors": stream["errors"],
            "p50_ratio": round(with_stream["p50_ms"] / without["p50_ms"], 3),
            "p99_ratio": round(with_stream["p99_ms"] / without["p99_ms"], 3),
            **ablation,
        })
    return measured, sent


@takes_data()
def bench(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="Where to write the JSON results.")],
    seconds: Annotated[float, typer.Option("--seconds", min=1.0, max=60.0, help="Measured seconds of each run.")] = 10.0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=1000, help="Events per POST /v1/events.")] = 500,
    rounds: Annotated[int, typer.Option("--rounds", min=1, max=10, help="Alternations of recommendations without / with the event stream.")] = 3,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Concurrent recommendation clients.")] = 8,
    stream_rate: Annotated[float, typer.Option("--stream-rate", min=1.0, help="Events per second of the stream beside the recommendations.")] = float(TARGET_EVENTS_PER_SECOND),
    recommend_rate: Annotated[float, typer.Option("--recommend-rate", min=0.0, help="Recommendation requests per second over all clients (paced, a storefront's traffic); 0: back to back (saturates the worker).")] = 200.0,
    workers: Annotated[int, typer.Option("--workers", min=1, max=8, help="Worker processes of the service.")] = 1,
    ablation: Annotated[bool, typer.Option("--ablation", help="Also measure recommendations beside a CPU burner of the stream's extra CPU, which ingests nothing (module doc).")] = False,
) -> None:
    """Events in: ingestion events/s in batches, and the p99 of recommendations with and without an
    event stream, measured in the same run (module doc)."""
    import platform

    from training import tracking  # here, not at import: every crm command imports this module
    from training.bundle_store import stored_path

    key = secrets.token_urlsafe(16)
    headers = {"X-API-Key": key}
    with tracking.scratch_folder("crm-bench-events") as scratch:
        home = scratch / "bentoml"
        tag = bundle_with_recommender(source, home, scratch)
        from serving.bundle import load_bundle

        bundle = load_bundle(stored_path(tag, home), tag)
        bodies = request_bodies(bundle, batch_size=10)["recommend"]
        customers = [body["customer_id"] for body in bodies]
        recommend = {"name": "recommend", "path": routes.RECOMMEND, "bodies": [json.dumps(b) for b in bodies],
                     "concurrency": [concurrency], "seconds": seconds, "max_requests": 10**6,
                     "pace": concurrency / recommend_rate if recommend_rate else 0.0}
        events_url = f"sqlite:///{scratch / 'events.sqlite'}"
        load_before = os.getloadavg()
        with server.running(bentoml_home=home, log=scratch / "server.log", workers=workers, settings={
            "CRM_API_KEY": key, "CRM_RELOAD_SECONDS": "0", "CRM_EVENTS_URL": events_url,
        }) as running:
            port = int(running.url.rsplit(":", 1)[1])
            ingestion, ingested = _ingestion(port, headers, scratch, seconds, batch_size, customers)
            measured, streamed = _latency_rounds(port, headers, scratch, recommend, rounds, stream_rate, batch_size, customers,
                                                 running.process.pid if ablation else None)
        from engine.feedback.store import EventStore

        store = EventStore(events_url)
        stored = store.count()
        store.close()
    payload = _payload(ingestion, measured, ingested + streamed, stored, stream_rate)
    payload["setup"] = {
        "bundle": tag, "data": source.data, "batch_size": batch_size, "seconds": seconds, "rounds": rounds,
        "recommend_concurrency": concurrency, "recommend_rate": recommend_rate or "closed loop",
        "stream_rate": stream_rate, "workers": workers,
        "store": "sqlite (WAL, synchronous=FULL)", "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before], "python": platform.python_version(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    tracking.write_json(out, payload)
    _print(payload)
    console.print(f"wrote {out}")


def _payload(ingestion: dict[str, Any], measured: list[dict[str, Any]], sent: int, stored: int,
             stream_rate: float) -> dict[str, Any]:
    """The figures, the targets they meet and the store check (every sent event stored once)."""
    errors = sum(run["errors"] for run in ingestion.values()) + sum(
        r["without_stream"]["errors"] + r["with_stream"]["errors"] + r["stream_errors"] for r in measured)
    p99_without = statistics.median(r["without_stream"]["p99_ms"] for r in measured)
    p99_with = statistics.median(r["with_stream"]["p99_ms"] for r in measured)
    sequential = ingestion[f"concurrency_{INGEST_CONCURRENCY[0]}"]["events_per_second"]
    ratio = round(p99_with / p99_without, 3)
    return {
        "ingestion": ingestion,
        "recommend_rounds": measured,
        "recommend_p50_ms": {name: statistics.median(r[name]["p50_ms"] for r in measured)
                             for name in ("without_stream", "with_stream")},
        "recommend_p99_ms": {"without_stream_median": p99_without, "with_stream_median": p99_with},
        "p99_ratio": ratio,
        "p99_ratio_per_round": _spread([r["p99_ratio"] for r in measured]),
        "p50_ratio_per_round": _spread([r["p50_ratio"] for r in measured]),
        **({"ablation_burner": {
            "p99_ratio_per_round": _spread([r["ablation"]["p99_ratio"] for r in measured]),
            "p50_ratio_per_round": _spread([r["ablation"]["p50_ratio"] for r in measured]),
            "burner_cores_per_round": [r["ablation"]["burner_cores"] for r in measured],
        }} if measured and "ablation" in measured[0] else {}),
        "events": {"sent": sent, "stored": stored, "lost_or_doubled": sent - stored},
        "errors": errors,
        "targets": {
            f"ingestion_at_least_{TARGET_EVENTS_PER_SECOND}_per_s": sequential >= TARGET_EVENTS_PER_SECOND,
            f"p99_ratio_at_most_{TARGET_P99_RATIO}": ratio <= TARGET_P99_RATIO,
            "every_sent_event_stored_once": sent == stored,
            # the ratio only speaks for the stream rate asked for if the stream kept it
            "stream_kept_its_rate": all(r["stream_events_per_second"] >= 0.95 * stream_rate for r in measured),
            "errors_zero": errors == 0,
        },
    }


def _spread(ratios: list[float]) -> dict[str, float]:
    """Median, quartiles and range of per-round ratios (the spread the machine's noise gives a ratio)."""
    quartiles = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else [ratios[0]] * 3
    return {"median": round(statistics.median(ratios), 3), "q1": round(quartiles[0], 3), "q3": round(quartiles[2], 3),
            "min": min(ratios), "max": max(ratios), "rounds": len(ratios)}


def _print(payload: dict[str, Any]) -> None:
    for level, run in payload["ingestion"].items():
        console.print(f"ingestion {level}: {run['events_per_second']:,.0f} events/s "
                      f"(p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms per batch, errors {run['errors']})")
    for turn, r in enumerate(payload["recommend_rounds"], 1):
        console.print(f"round {turn}: recommend p99 {r['without_stream']['p99_ms']:.2f} ms at "
                      f"{r['without_stream']['rps']:.0f} req/s alone, {r['with_stream']['p99_ms']:.2f} ms at "
                      f"{r['with_stream']['rps']:.0f} req/s with {r['stream_events_per_second']:,.0f} events/s "
                      f"streaming (ratio {r['p99_ratio']:.3f})")
    spread = payload["p99_ratio_per_round"]
    console.print(f"p99 ratio of the medians: {payload['p99_ratio']}; per round: median {spread['median']}, "
                  f"quartiles {spread['q1']}-{spread['q3']}, range {spread['min']}-{spread['max']}; "
                  f"p50 ratio per round: median {payload['p50_ratio_per_round']['median']}")
    if "ablation_burner" in payload:
        burner = payload["ablation_burner"]
        console.print(f"ablation, a CPU burner of the stream's extra CPU ({burner['burner_cores_per_round']} cores) "
                      f"instead of the stream: p99 ratio per round median {burner['p99_ratio_per_round']['median']} "
                      f"(quartiles {burner['p99_ratio_per_round']['q1']}-{burner['p99_ratio_per_round']['q3']}), "
                      f"p50 ratio median {burner['p50_ratio_per_round']['median']}")
    console.print(f"events {payload['events']}; targets {payload['targets']}")
