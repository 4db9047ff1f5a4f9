"""``crm serve ...``: put the champions into the BentoML model store as one bundle, run the service, build
a Bento, show every endpoint once (demo), and benchmark the running service (``crm bench serving``).

The import step is the only place where the MLflow registry meets serving: it downloads the model
folders holding the ``champion`` alias, precomputes the per-customer table (RFM, segment, tier, churn,
CLV) from the training data, checks that the whole bundle loads, and stores it as a new version of
``crm-bundle`` in the BentoML model store. A running service picks it up by itself (see
``CRM_RELOAD_SECONDS``); a built Bento carries it and needs no registry.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from engine.customers.view import customer_view, default_as_of
from engine.data.dataset import ShopData
from serving import routes, server
from serving.bundle import MODEL_NAMES, load_bundle, write_bundle
from serving.settings import BUNDLE_NAME
from training import tracking
from training.commands.data import DataOption, MapOption, QuarantineOption, load_from_cli
from training.commands.segments import SegmentsConfig
from training.config import load_config
from training.console import console, step

app = typer.Typer(
    help="Serve the champions over HTTP: `crm serve` runs the service; `crm serve import` refreshes what it serves.",
    invoke_without_command=True,
)
TrackingOption = Annotated[
    str | None, typer.Option("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
]
PortOption = Annotated[int, typer.Option("--port", help="TCP port of the service.")]


# --- import: MLflow champions -> one bundle in the BentoML model store ------------------------------------


@dataclass(frozen=True)
class Champion:
    """The registry version holding the ``champion`` alias of one capability, and its downloaded folder."""

    part: str
    version: str
    data_source: str | None
    data_fingerprint: str | None
    path: Path


def find_champions(destination: Path) -> dict[str, Champion]:
    """Download every capability's champion into ``destination``; capabilities without one are left out."""
    from mlflow import MlflowClient

    client, found = MlflowClient(), {}
    for part, name in MODEL_NAMES.items():
        version = tracking.champion_version(name)
        if version is None:
            continue
        tags = client.get_run(client.get_model_version(name, version).run_id).data.tags
        path = tracking.download_champion(name, destination=destination / part)
        found[part] = Champion(part, version, tags.get("data.source"), tags.get("data.fingerprint"), path)
    return found


def recorded_source(champions: dict[str, Champion]) -> str:
    """The data source the champions were trained on (they must agree), for importing without --data."""
    sources = {c.data_source for c in champions.values() if c.data_source}
    if len(sources) != 1:
        raise typer.BadParameter(
            f"the champions were trained on {sorted(sources) or 'unrecorded sources'}; say which data to "
            "profile customers from with --data", param_hint="--data",
        )
    return sources.pop()


def customer_frame(shop: ShopData, as_of: pd.Timestamp, config: SegmentsConfig, champions: dict[str, Champion]) -> pd.DataFrame:
    """Per customer as of ``as_of``: RFM, segment and tier (always), churn and CLV (when their
    champions exist)."""
    return customer_view(shop.transactions, as_of, config.segments, config.tiers)


def build_bundle(
    shop: ShopData,
    champions: dict[str, Champion],
    as_of: pd.Timestamp,
    config: SegmentsConfig,
    directory: Path,
) -> Path:
    """Write the bundle folder for ``champions`` and ``shop`` into ``directory`` and check it loads."""
    write_bundle(
        directory,
        customers=customer_frame(shop, as_of, config, champions),
        as_of=as_of,
        entry_tier=config.tiers.tiers[0].name,
        versions={part: champion.version for part, champion in champions.items()},
        data_source=shop.source,
        data_fingerprint=shop.fingerprint(),
        recommender_dir=champions["recommender"].path if "recommender" in champions else None,
        pricing_dir=champions["pricing"].path if "pricing" in champions else None,
        products=shop.products,
    )
    load_bundle(directory, tag="(checking)")
    return directory


def store_bundle(directory: Path, metadata: dict[str, Any], bentoml_home: Path | None = None) -> str:
    """Copy a checked bundle folder into the BentoML model store as a new ``crm-bundle`` version."""
    import bentoml
    from bentoml._internal.models import ModelStore

    options = {"_model_store": ModelStore(bentoml_home / "models")} if bentoml_home else {}
    with bentoml.models.create(BUNDLE_NAME, metadata=metadata, **options) as model:
        shutil.copytree(directory, model.path, dirs_exist_ok=True)
    return str(model.tag)


def import_champions(
    shop: ShopData | None,
    data: str | None = None,
    as_of: str | None = None,
    config: SegmentsConfig | None = None,
    bentoml_home: Path | None = None,
    column_map: str | None = None,
    quarantine: Path | None = None,
) -> tuple[str, dict[str, Champion]]:
    """Champions of the active tracking store -> a new bundle in the model store; returns its tag."""
    config = config or SegmentsConfig()
    with tempfile.TemporaryDirectory(prefix="crm-import-") as scratch:
        scratch_path = Path(scratch)
        with step("downloading the champions from the MLflow registry"):
            champions = find_champions(scratch_path / "champions")
        if shop is None:
            shop = load_from_cli(data or recorded_source(champions), column_map, quarantine)
        for champion in champions.values():
            if champion.data_fingerprint and champion.data_fingerprint != shop.fingerprint():
                console.print(
                    f"[yellow]note:[/yellow] {MODEL_NAMES[champion.part]} v{champion.version} was trained on data "
                    f"with fingerprint {champion.data_fingerprint}, profiles come from {shop.fingerprint()}"
                )
        moment = pd.Timestamp(as_of or config.as_of or default_as_of(shop.transactions))
        with step(f"building the bundle (customers as of {moment.date()}) and checking that it loads"):
            folder = build_bundle(shop, champions, moment, config, scratch_path / "bundle")
        metadata = {
            "as_of": str(moment),
            "data_source": shop.source,
            "data_fingerprint": shop.fingerprint(),
            **{MODEL_NAMES[part]: champion.version for part, champion in champions.items()},
        }
        tag = store_bundle(folder, metadata, bentoml_home)
    return tag, champions


@app.command("import")
def import_command(
    data: Annotated[str | None, typer.Option("--data", help="Data to profile customers from (default: the data the champions were trained on).")] = None,
    tracking_uri: TrackingOption = None,
    config: Annotated[Path | None, typer.Option("--config", help="Segments and tiers YAML (like configs/segments.yaml).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Profile customers as of this date (default: after the last line).")] = None,
    column_map: MapOption = None,
    quarantine: QuarantineOption = None,
) -> None:
    """Copy the MLflow champions into the BentoML model store as one bundle (what the service serves)."""
    tracking.configure(tracking_uri)
    settings = load_config(config, SegmentsConfig)
    tag, champions = import_champions(None, data, as_of, settings, None, column_map, quarantine)
    found = ", ".join(f"{MODEL_NAMES[p]} v{c.version}" for p, c in champions.items()) or "no champions (profiles only)"
    missing = [MODEL_NAMES[p] for p in MODEL_NAMES if p not in champions]
    console.print(f"stored bundle [bold]{tag}[/bold] with {found}")
    if missing:
        console.print(f"not in the bundle (no champion yet): {', '.join(missing)}")
    console.print("serve it with: crm serve   (a running service picks it up within CRM_RELOAD_SECONDS)")


# --- run ---------------------------------------------------------------------------------------------------


@app.callback()
def serve(
    context: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: PortOption = 3000,
) -> None:
    """Run the service in the foreground until Ctrl-C (settings: CRM_API_KEY, CRM_STOREFRONT_OPEN,
    CRM_BUNDLE, CRM_RELOAD_SECONDS)."""
    if context.invoked_subcommand is not None:
        return
    _announce_bundle()
    command = server.server_command(host, port)
    console.print(f"serving on http://{host}:{port} (OpenAPI at /docs.json, metrics at /metrics); Ctrl-C stops")
    os.execvpe(command[0], command, server.server_environment())


def _announce_bundle() -> None:
    import bentoml

    reference = os.environ.get("CRM_BUNDLE") or f"{BUNDLE_NAME}:latest"
    try:
        stored = bentoml.models.get(reference)
    except Exception:
        console.print(f"[yellow]no bundle {reference} in the BentoML model store[/yellow]: the service will answer "
                      "503 until `crm serve import` stores one")
        return
    console.print(f"bundle {stored.tag}: {json.dumps(stored.info.metadata)}")


# --- demo: one call of every endpoint ----------------------------------------------------------------------


def _examples(bundle_dir: Path) -> dict[str, Any]:
    bundle = load_bundle(bundle_dir, tag="demo")
    known = bundle.customers.frame.index[0]
    first = bundle.customers.query().index[0] if bundle.customers.has_value_scores else known
    items = bundle.recommender.items_.external_ids[:2].tolist() if bundle.recommender is not None else ["p1", "p2"]
    return {
        routes.RECOMMEND: {"customer_id": str(first), "k": 5, "task": "discovery"},
        routes.RECOMMEND_BATCH: {"customer_ids": [str(first), "a-new-customer"], "k": 3, "task": "repeat"},
        routes.SIMILAR_ITEMS: {"item_id": items[0], "k": 5},
        routes.PRICE: {"product_id": items[0], "stock": 40},
        routes.PRICE_BATCH: {"requests": [{"product_id": item} for item in items]},
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


@app.command("demo")
def demo(
    port: Annotated[int | None, typer.Option("--port", help="Port (default: a free one).")] = None,
    width: Annotated[int, typer.Option("--width", help="Show at most this many characters of each answer.")] = 400,
) -> None:
    """Start the service on the served bundle, call every endpoint once with curl-equivalent requests,
    print the calls and answers, and stop it."""
    import bentoml

    key = os.environ.get("CRM_API_KEY") or secrets.token_urlsafe(16)
    if "CRM_API_KEY" not in os.environ:
        console.print(f"CRM_API_KEY is not set: this demo uses the throw-away key {key}")
    stored = bentoml.models.get(os.environ.get("CRM_BUNDLE") or f"{BUNDLE_NAME}:latest")
    examples = _examples(Path(stored.path))
    with server.running(port, settings={"CRM_API_KEY": key, "CRM_RELOAD_SECONDS": "0"}) as running:
        console.print(f"service ready at {running.url}, serving {stored.tag}")
        for route, body in examples.items():
            marketing = route.startswith(routes.KEY_REQUIRED_PREFIXES)
            header = " -H \"X-API-Key: $CRM_API_KEY\"" if marketing else ""
            console.print(f"\n$ curl -s -X POST {running.url}{route} -H 'Content-Type: application/json'{header} "
                          f"-d '{json.dumps(body)}'", soft_wrap=True, markup=False, highlight=False)
            status, text = _call(running.url + route, body, key if marketing else None)
            shown = text if len(text) <= width else text[:width] + " ..."
            console.print(f"-> {status} {shown}", soft_wrap=True, markup=False, highlight=False)
        for path in ("/readyz", "/metrics"):
            console.print(f"\n$ curl -s {running.url}{path}", markup=False, highlight=False)
            with urllib.request.urlopen(running.url + path, timeout=10) as answer:
                lines = [line for line in answer.read().decode().splitlines() if line.strip()]
            console.print(f"-> {answer.status} ({len(lines)} lines) {' | '.join(lines[:2])[:width]}", markup=False)
    console.print(f"\nservice stopped (exit code {running.process.returncode}); keep it running with: make serve")
