"""``crm serve ...``: thin commands over the bundle pipeline (:mod:`training.bundle`), the model store
(:mod:`training.bundle_store`) and the serving bench (:mod:`training.serving_bench`): import the
champions as one bundle, run the service, build a Bento, show every endpoint once (demo), and
benchmark the running service (``crm bench serving``).
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from serving import routes, server
from serving.settings import BUNDLE_NAME, current
from training import serving_bench
from training.commands.data import DataArgs, takes_data
from training.commands.options import TrackingOption
from training.commands.segments import SegmentsConfig
from training.config import load_config
from training.console import console, step

EMPTY_STORE_EXIT = 2  # like a usage error: the user has to run something else first (crm serve import)

app = typer.Typer(
    help="Serve the champions over HTTP: `crm serve` runs the service; `crm serve import` refreshes what it serves.",
    invoke_without_command=True,
)
PortOption = Annotated[int, typer.Option("--port", help="TCP port of the service.")]


@app.command("import")
@takes_data(None, "Data to profile customers from (default: the data the champions were trained on).")
def import_command(
    source: DataArgs,
    tracking_uri: TrackingOption = None,
    config: Annotated[Path | None, typer.Option("--config", help="Segments and tiers YAML (like configs/segments.yaml).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Profile customers as of this date (default: after the last line).")] = None,
    churn_config: Annotated[Path | None, typer.Option("--churn-config", help="YAML like configs/churn.yaml (its risk bands).")] = None,
    keep: Annotated[int, typer.Option("--keep", min=1, help="Keep this many newest bundles in the store; delete older ones.")] = 3,
    experiment: Annotated[str | None, typer.Option("--experiment", help="Serve an online experiment of this name: the challenger recommender beside the champion.")] = None,
    challenger_model_version: Annotated[str | None, typer.Option("--challenger-model-version", help="Registry version of crm-recommender to serve as the challenger (with --experiment).")] = None,
    challenger_share: Annotated[float, typer.Option("--challenger-share", min=0.0, max=1.0, help="Share of customers the challenger answers (sticky by customer hash).")] = 0.5,
) -> None:
    """Copy the MLflow champions into the BentoML model store as one bundle (what the service serves)."""
    from engine.customers.config import ChurnConfig
    from serving.bundle import MODEL_NAMES
    from serving.experiments import Experiment
    from training import tracking
    from training.bundle import import_champions

    tracking.configure(tracking_uri)
    settings = load_config(config, SegmentsConfig) if config else None  # unset: resolved by bundle_settings
    bands = load_config(churn_config, ChurnConfig).risk_bands if churn_config else None
    if (experiment is None) != (challenger_model_version is None):
        raise typer.BadParameter("give --experiment and --challenger-model-version together", param_hint="--experiment")
    plan = Experiment(name=experiment, challenger_share=challenger_share,
                      challenger_version=challenger_model_version) if experiment else None
    tag, champions = import_champions(None, source, as_of, settings, bands=bands, keep=keep, experiment=plan)
    found = ", ".join(f"{MODEL_NAMES[p]} v{c.version}" for p, c in champions.items()) or "no champions (profiles only)"
    missing = [MODEL_NAMES[p] for p in MODEL_NAMES if p not in champions]
    console.print(f"bundle [bold]{tag}[/bold] in the BentoML store with {found}")
    if plan:
        console.print(f"experiment {plan.name!r}: {MODEL_NAMES['recommender']} v{plan.challenger_version} answers "
                      f"{plan.challenger_share:.0%} of customers (sticky by customer id), the champion the rest")
    if missing:
        console.print(f"not in the bundle (no champion yet): {', '.join(missing)}")
    console.print("serve it with: crm serve   (a running service picks it up within CRM_RELOAD_SECONDS)")


# --- run ---------------------------------------------------------------------------------------------------


@app.callback()
def serve(
    context: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: PortOption = 3000,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes (each loads its own copy of the bundle).")] = 1,
) -> None:
    """Run the service in the foreground until Ctrl-C (settings: CRM_API_KEY, CRM_STOREFRONT_OPEN,
    CRM_BUNDLE, CRM_RELOAD_SECONDS)."""
    if context.invoked_subcommand is not None:
        return
    _announce_bundle()
    command = server.server_command(host, port, workers)
    console.print(f"serving on http://{host}:{port} (marketing console at /console, OpenAPI at /docs.json, metrics at /metrics); Ctrl-C stops")
    os.execvpe(command[0], command, server.server_environment(port=port))


def _announce_bundle() -> None:
    import bentoml

    from training.bundle_store import damage

    reference = current().bundle
    try:
        stored = bentoml.models.get(reference)
    except Exception:
        console.print(f"[yellow]no bundle {reference} in the BentoML model store[/yellow]: the service will answer "
                      "503 until `crm serve import` stores one")
        return
    console.print(f"bundle {stored.tag}: {json.dumps(stored.info.metadata)}")
    if (problem := damage(stored)) is not None:
        console.print(f"[yellow]the service will refuse it[/yellow] ({problem}): run `crm serve import` again")


# --- demo: one call of every endpoint ----------------------------------------------------------------------


def _examples(bundle_dir: Path, tag: str) -> dict[str, Any]:
    from serving.bundle import load_bundle

    bundle = load_bundle(bundle_dir, tag)
    known = bundle.customers.frame.index[0]
    first = bundle.customers.query().index[0] if bundle.customers.has_value_scores else known
    items = bundle.recommender.items_.external_ids[:1].tolist() if bundle.recommender is not None else ["p1"]
    products = serving_bench.pricing_products(bundle.pricing)[:2].tolist() if bundle.pricing is not None else ["p1", "p2"]
    return {
        routes.RECOMMEND: {"customer_id": str(first), "k": 5, "task": "discovery"},
        routes.RECOMMEND_BATCH: {"customer_ids": [str(first), "a-new-customer"], "k": 3, "task": "repeat"},
        routes.SIMILAR_ITEMS: {"item_id": items[0], "k": 5},
        routes.PRICE: {"product_id": products[0], "customer_id": str(first), "stock": 40},
        routes.PRICE_BATCH: {"requests": [{"product_id": product} for product in [*products, "an-unknown-product"]]},
        routes.PROFILE: {"customer_id": str(first)},
        routes.CHURN_RISK: {"bands": ["high"], "sort_by": "value_at_risk", "page": 1, "page_size": 3},
        routes.CHURN_RISK_CSV: {"bands": ["high"], "limit": 5},
        routes.STATUS: {},
    }


def _call(url: str, body: dict[str, Any], key: str | None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **({"X-API-Key": key} if key else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def whole_bundle(reference: str, alternative: str = "") -> Any:
    """The stored bundle ``reference`` names, verified; if there is none or it does not verify, a
    one-line message saying what to run and exit code 2 (nothing to show or pack)."""
    import bentoml

    from training.bundle_store import damage

    try:
        stored = bentoml.models.get(reference)
    except bentoml.exceptions.NotFound:
        problem = f"no bundle {reference} in the BentoML model store"
    else:
        problem = damage(stored)
        if problem is None:
            return stored
    console.print(f"[red]error:[/red] {problem}: run `crm serve import` first{f', {alternative}' if alternative else ''}",
                  soft_wrap=True)
    raise typer.Exit(EMPTY_STORE_EXIT)


@app.command("demo")
@takes_data(None, "Import the champions first, profiling customers from this data.")
def demo(
    source: DataArgs,
    tracking_uri: TrackingOption = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default: a free one).")] = None,
    width: Annotated[int, typer.Option("--width", help="Show at most this many characters of each answer.")] = 400,
) -> None:
    """Start the service on the champions, call every endpoint once (printed as curl commands with their
    answers), and stop it. With --data, the champions are imported first (as `crm serve import`)."""
    if source.data is not None:
        from training import tracking
        from training.bundle import import_champions

        tracking.configure(tracking_uri)
        tag, _ = import_champions(None, source)
        console.print(f"stored bundle {tag}")
    stored = whole_bundle(current().bundle,
                          "or `crm serve demo --data SOURCE` to import and show it in one go")
    examples = _examples(Path(stored.path), str(stored.tag))
    configured = current().api_key
    key = configured.get_secret_value() if configured is not None else secrets.token_urlsafe(16)
    if configured is None:
        console.print(f"CRM_API_KEY is not set: this demo uses the throw-away key {key}")
    with server.running(port, settings={"CRM_API_KEY": key, "CRM_RELOAD_SECONDS": "0"}) as running:
        console.print(f"service ready at {running.url}, serving {stored.tag}")
        console.print("every call sends the key: marketing routes need it, and so do storefront answers built "
                      "from one customer's records (a customer's offer, task=repeat)")
        for route, body in examples.items():
            console.print(f"\n$ curl -s -X POST {running.url}{route} -H 'Content-Type: application/json' "
                          f"-H \"X-API-Key: $CRM_API_KEY\" -d '{json.dumps(body)}'", soft_wrap=True, markup=False, highlight=False)
            status, text = _call(running.url + route, body, key)
            shown = text if len(text) <= width else text[:width] + " ..."
            console.print(f"-> {status} {shown}", soft_wrap=True, markup=False, highlight=False)
        for path in ("/readyz", "/metrics"):
            console.print(f"\n$ curl -s {running.url}{path}", markup=False, highlight=False)
            with urllib.request.urlopen(running.url + path, timeout=10) as answer:
                lines = [line for line in answer.read().decode().splitlines() if line.strip()]
            console.print(f"-> {answer.status} ({len(lines)} lines) {' | '.join(lines[:2])[:width]}", markup=False)
    console.print(f"\nservice stopped (exit code {running.process.returncode}); keep it running with: make serve")


# --- build: an immutable Bento -----------------------------------------------------------------------------


@app.command("build")
def build() -> None:
    """Build a Bento (service code + the served bundle, see bentofile.yaml) that runs without the registry."""
    import bentoml

    whole_bundle(f"{BUNDLE_NAME}:latest")  # never pack a bundle the service would refuse
    root = Path(__file__).resolve().parents[2]
    with step("building the Bento"):
        bento = bentoml.bentos.build_bentofile(str(root / "bentofile.yaml"), build_ctx=str(root))
    console.print(f"built [bold]{bento.tag}[/bold]; run it with: bentoml serve {bento.tag}  "
                  f"or containerize it with: bentoml containerize {bento.tag}")




# --- bench: the running service under a bounded load from a second process ------------------------------------


@takes_data()
def bench(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="Where to write the JSON results.")],
    seconds: Annotated[float, typer.Option("--seconds", help="Measured seconds per endpoint and concurrency level.")] = 5.0,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Customers per batch recommendation request.")] = 50,
    saturation_seconds: Annotated[float, typer.Option("--saturation-seconds", help="Also run recommendations at concurrency 32 this long (0: skip; 60 for the memory target).")] = 0.0,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes of the service.")] = 1,
    train: Annotated[bool, typer.Option("--train/--no-train", help="Train capabilities that have no champion yet (with their crm train command).")] = True,
    only: Annotated[list[str] | None, typer.Option("--only", help="Load-test only these endpoints (recommend, recommend_batch, price, profile); repeatable.")] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Load-test the service on loopback from a second process: p50/p95/p99 and throughput at concurrency
    1, 8 and 32 for recommendations (single and batch), price and profile; the in-process engine call
    time of the same requests; errors; the service's memory before and after."""
    options = serving_bench.BenchOptions(seconds, batch_size, saturation_seconds, workers, train, tuple(only or ()))
    payload = serving_bench.run_bench(source, options, tracking_uri)
    from training import tracking

    tracking.write_json(out, payload)
    serving_bench.print_bench(payload)
    console.print(f"wrote {out}")
