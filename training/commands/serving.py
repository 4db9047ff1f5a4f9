"""``crm serve ...``: put the champions into the BentoML model store as one bundle, run the service, build
a Bento, show every endpoint once (demo), and benchmark the running service (``crm bench serving``).

The import step is the only place where the MLflow registry meets serving: it downloads the model
folders holding the ``champion`` alias, precomputes the per-customer table (RFM, segment, tier, churn,
CLV) from the training data, checks that the whole bundle loads, and stores it as a new version of
``crm-bundle`` in the BentoML model store. A running service picks it up by itself (see
``CRM_RELOAD_SECONDS``); a built Bento carries it and needs no registry.

Every stored bundle is verified against its manifest (sizes and SHA-256 of every file) before it is
reused and when the store is pruned: a damaged or partial bundle is never reused, never counted among
the bundles kept, and is deleted first. The import works in a temporary folder that is removed however
it ends (error, Ctrl-C or SIGTERM; after SIGKILL, by the next import).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from pydantic import BaseModel

from engine.customers.timeline import monthly_purchases
from engine.customers.aftersales import AfterSales, aftersales_profile
from engine.customers.view import customer_view, default_as_of
from engine.data.dataset import ShopData
from engine.errors import EngineError, ModelFormatError
from engine.io import MANIFEST
from serving import routes, server
from serving.bundle import MODEL_NAMES, load_bundle, verify_bundle, write_bundle
from serving.experiments import Experiment
from serving.settings import BUNDLE_NAME
from training import tracking
from training.commands.data import DataArgs, takes_data
from training.commands.segments import SegmentsConfig
from training.config import load_config
from training.console import console, step

if TYPE_CHECKING:
    from engine.customers.scoring import RiskBands

EMPTY_STORE_EXIT = 2  # like a usage error: the user has to run something else first (crm serve import)

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
    evaluation: dict[str, Any] = field(default_factory=dict)


def champion_evaluation(version_tags: dict[str, str], path: Path) -> dict[str, Any]:
    """What the console's models page shows of a champion: the primary metric it was registered with,
    the baseline gate and the dates its saved manifest records."""
    manifest = json.loads((path / MANIFEST).read_text())
    found = {key: manifest[key] for key in ("baseline_gate", "as_of", "evaluated_as_of", "estimator") if key in manifest}
    if "primary_metric" in version_tags:
        found["metric"] = version_tags["primary_metric"]
        found["value"] = float(version_tags.get("primary_metric_value", "nan"))
    return found


def find_champions(destination: Path) -> dict[str, Champion]:
    """Download every capability's champion into ``destination``; capabilities without one are left out."""
    from mlflow import MlflowClient
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    client, found = MlflowClient(), {}
    previous = os.environ.get(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name)
    os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = "false"  # one line per step, not per file
    try:
        for part, name in MODEL_NAMES.items():
            version = tracking.champion_version(name)
            if version is None:
                continue
            registered = client.get_model_version(name, version)
            tags = client.get_run(registered.run_id).data.tags
            path = tracking.download_champion(name, destination=destination / part)
            found[part] = Champion(part, version, tags.get("data.source"), tags.get("data.fingerprint"), path,
                                   champion_evaluation(registered.tags, path))
    finally:
        if previous is None:
            os.environ.pop(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name)
        else:
            os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = previous
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


def customer_frame(
    shop: ShopData,
    as_of: pd.Timestamp,
    config: SegmentsConfig,
    champions: dict[str, Champion],
    bands: RiskBands | None = None,
) -> pd.DataFrame:
    """Per customer as of ``as_of``: RFM, segment and tier (always), the after-sales profile columns
    (when the shop has support contacts or surveys; complaints are the default topics); churn probability, risk band,
    expected CLV, value at risk and the top reasons when both customer-value champions exist (refused
    when they were fitted on lines from ``as_of`` on: the profiles would look ahead)."""
    view = customer_view(shop.transactions, as_of, config.segments, config.tiers)
    view = view.join(aftersales_profile(AfterSales.of(shop), as_of, view.index))
    if "churn" not in champions or "clv" not in champions:
        return view
    from engine.customers.churn_gbm import ChurnClassifier
    from engine.customers.clv import ClvModel
    from engine.customers.scoring import (
        CHURN_PROBABILITY,
        EXPECTED_CLV,
        RISK_BAND,
        TOP_REASONS,
        VALUE_AT_RISK,
        score_customers,
    )

    from training.customers import check_not_after

    for name in ("churn", "clv"):
        check_not_after(
            json.loads((Path(champions[name].path) / MANIFEST).read_text()), MODEL_NAMES[name], as_of,
            default_as_of(shop.transactions), "train the champions with windows ending by that date, or import as of a later date",
        )
    churn, clv = ChurnClassifier.load(champions["churn"].path), ClvModel.load(champions["clv"].path)
    scores = score_customers(shop.transactions, churn, clv, as_of, shop.products, bands, segment_rules=config.segments,
                             aftersales=AfterSales.of(shop))
    return view.join(scores[[CHURN_PROBABILITY, RISK_BAND, EXPECTED_CLV, VALUE_AT_RISK, TOP_REASONS]], how="left")


def download_challenger(experiment: Experiment, destination: Path) -> Path:
    """Download the recommender version an experiment names as its challenger."""
    import mlflow
    from mlflow.exceptions import MlflowException

    name = MODEL_NAMES["recommender"]
    try:
        return Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{experiment.challenger_version}",
                                                         dst_path=str(destination)))
    except MlflowException as error:
        raise EngineError(f"--challenger-model-version: {name} has no version {experiment.challenger_version!r} "
                          f"in the registry ({str(error).splitlines()[0][:200]})") from None


def build_bundle(
    shop: ShopData,
    champions: dict[str, Champion],
    as_of: pd.Timestamp,
    config: SegmentsConfig,
    directory: Path,
    bands: RiskBands | None = None,
    challenger: tuple[Experiment, Path] | None = None,
) -> Path:
    """Write the bundle folder for ``champions`` and ``shop`` (and an experiment's challenger
    recommender) into ``directory`` and check it loads."""
    write_bundle(
        directory,
        customers=customer_frame(shop, as_of, config, champions, bands),
        as_of=as_of,
        entry_tier=config.tiers.tiers[0].name,
        versions={part: champion.version for part, champion in champions.items()},
        data_source=shop.source,
        data_fingerprint=shop.fingerprint(),
        recommender_dir=champions["recommender"].path if "recommender" in champions else None,
        pricing_dir=champions["pricing"].path if "pricing" in champions else None,
        products=shop.products,
        timeline=monthly_purchases(shop.transactions, as_of),
        evaluation={part: champion.evaluation for part, champion in champions.items()},
        challenger_dir=challenger[1] if challenger else None,
        experiment=challenger[0] if challenger else None,
    )
    load_bundle(directory, tag="(checking)")
    return directory


def _store(bentoml_home: Path | None) -> dict[str, Any]:
    """Keyword arguments that point BentoML at ``bentoml_home``'s model store (default: $BENTOML_HOME)."""
    from bentoml._internal.models import ModelStore

    return {"_model_store": ModelStore(bentoml_home / "models")} if bentoml_home else {}


def store_bundle(directory: Path, metadata: dict[str, Any], bentoml_home: Path | None = None) -> str:
    """Copy a checked bundle folder into the BentoML model store as a new ``crm-bundle`` version, and
    verify the stored copy (a copy that does not verify is deleted, and the error names the part)."""
    import bentoml

    with bentoml.models.create(BUNDLE_NAME, metadata=metadata, **_store(bentoml_home)) as model:
        shutil.copytree(directory, model.path, dirs_exist_ok=True)
    tag = str(model.tag)
    try:
        verify_bundle(stored_path(tag, bentoml_home), tag)
    except ModelFormatError:
        bentoml.models.delete(tag, **_store(bentoml_home))
        raise
    return tag


def damage(model: Any) -> str | None:
    """Why a stored bundle cannot be served (a missing or damaged part, named), or None if it is whole."""
    try:
        verify_bundle(model.path, str(model.tag))
    except ModelFormatError as error:
        return str(error)
    return None


def stored_path(tag: str, bentoml_home: Path | None = None) -> Path:
    """The folder of a stored bundle version."""
    import bentoml

    return Path(bentoml.models.get(tag, **_store(bentoml_home)).path)


def stored_bundles(bentoml_home: Path | None = None) -> list[Any]:
    """Every stored ``crm-bundle`` version, newest first."""
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        found = bentoml.models.list(BUNDLE_NAME, **_store(bentoml_home))
    except NotFound:
        return []
    return sorted(found, key=lambda model: model.info.creation_time, reverse=True)


def prune_bundles(keep: int, bentoml_home: Path | None = None) -> list[str]:
    """Keep the ``keep`` newest bundle versions that verify; delete the damaged ones first, then the
    older whole ones (a running service keeps what it has loaded). Returns the deleted tags."""
    import bentoml

    stored = stored_bundles(bentoml_home)
    damaged = [model for model in stored if damage(model) is not None]
    whole = [model for model in stored if model not in damaged]
    removed = [str(model.tag) for model in [*damaged, *whole[keep:]]]
    for tag in removed:
        bentoml.models.delete(tag, **_store(bentoml_home))
    return removed


def settings_fingerprint(config: SegmentsConfig | None = None, bands: RiskBands | None = None) -> str:
    """A short hash of the settings that shape the customer table: segments and tiers, risk bands.
    Unset settings count as their defaults, so every command that imports (``crm serve import``,
    ``crm serve demo --data``, the benchmark) fingerprints the same settings the same way."""
    from engine.customers.scoring import RiskBands

    settings: list[BaseModel] = [config or SegmentsConfig(), bands or RiskBands()]
    text = json.dumps([setting.model_dump(mode="json") for setting in settings], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def import_champions(
    shop: ShopData | None,
    data: DataArgs | str | None = None,
    as_of: str | None = None,
    config: SegmentsConfig | None = None,
    bentoml_home: Path | None = None,
    bands: RiskBands | None = None,
    keep: int = 3,
    experiment: Experiment | None = None,
) -> tuple[str, dict[str, Champion]]:
    """Champions of the active tracking store -> a new bundle in the model store; returns its tag.

    Customers are profiled from ``shop``, else from ``data`` (a source, or the command line's data
    options), else from the data the champions were trained on. When the newest stored bundle already
    holds these champion versions, data, date and settings, it is reused (nothing is rebuilt); after
    storing a new one, only the ``keep`` newest are kept. With an ``experiment``, the recommender
    version it names is served beside the champion as the challenger (:mod:`serving.experiments`)."""
    config = config or SegmentsConfig()
    with tracking.scratch_folder("crm-import") as scratch_path:
        with step("downloading the champions from the MLflow registry"):
            champions = find_champions(scratch_path / "champions")
            challenger = None
            if experiment is not None:
                if "recommender" not in champions:
                    raise EngineError(f"--experiment: there is no {MODEL_NAMES['recommender']} champion to compare the challenger with")
                challenger = (experiment, download_challenger(experiment, scratch_path / "challenger"))
        if shop is None:
            source = data if isinstance(data, DataArgs) else DataArgs(data)
            shop = replace(source, data=source.data or recorded_source(champions)).load()
        for champion in champions.values():
            if champion.data_fingerprint and champion.data_fingerprint != shop.fingerprint():
                console.print(
                    f"[yellow]note:[/yellow] {MODEL_NAMES[champion.part]} v{champion.version} was trained on data "
                    f"with fingerprint {champion.data_fingerprint}, profiles come from {shop.fingerprint()}"
                )
        moment = pd.Timestamp(as_of or config.as_of or default_as_of(shop.transactions))
        metadata = {
            "as_of": str(moment),
            "data_source": shop.source,
            "data_fingerprint": shop.fingerprint(),
            "settings": settings_fingerprint(config, bands),
            **{MODEL_NAMES[part]: champion.version for part, champion in champions.items()},
            **({"experiment": experiment.model_dump_json()} if experiment else {}),
        }
        newest = next(iter(stored_bundles(bentoml_home)), None)
        if newest is not None and newest.info.metadata == metadata:
            problem = damage(newest)
            if problem is None:
                console.print(f"bundle {newest.tag} already holds these champions, data and settings: reused")
                return str(newest.tag), champions
            console.print(f"[yellow]not reused:[/yellow] {problem}; building a new one")
        with step(f"building the bundle (customers as of {moment.date()}) and checking that it loads"):
            folder = build_bundle(shop, champions, moment, config, scratch_path / "bundle", bands, challenger)
        tag = store_bundle(folder, metadata, bentoml_home)
    removed = prune_bundles(keep, bentoml_home)
    if removed:
        console.print(f"removed bundles: {', '.join(removed)} (kept the {keep} newest that verify; damaged ones go first)")
    return tag, champions


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
    from training.customers import ChurnConfig

    tracking.configure(tracking_uri)
    settings = load_config(config, SegmentsConfig)
    bands = load_config(churn_config, ChurnConfig).risk_bands
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

    reference = os.environ.get("CRM_BUNDLE") or f"{BUNDLE_NAME}:latest"
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
    bundle = load_bundle(bundle_dir, tag)
    known = bundle.customers.frame.index[0]
    first = bundle.customers.query().index[0] if bundle.customers.has_value_scores else known
    items = bundle.recommender.items_.external_ids[:1].tolist() if bundle.recommender is not None else ["p1"]
    products = pricing_products(bundle.pricing)[:2].tolist() if bundle.pricing is not None else ["p1", "p2"]
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
        tracking.configure(tracking_uri)
        tag, _ = import_champions(None, source)
        console.print(f"stored bundle {tag}")
    stored = whole_bundle(os.environ.get("CRM_BUNDLE") or f"{BUNDLE_NAME}:latest",
                          "or `crm serve demo --data SOURCE` to import and show it in one go")
    examples = _examples(Path(stored.path), str(stored.tag))
    key = os.environ.get("CRM_API_KEY") or secrets.token_urlsafe(16)
    if "CRM_API_KEY" not in os.environ:
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

TRAIN_COMMANDS = {"recommender": ["recommender"], "churn": ["churn"], "clv": ["clv"], "pricing": ["pricing"]}
LEVELS = [1, 8, 32]


def train_missing(source: DataArgs, tracking_uri: str) -> dict[str, str]:
    """Train every capability that has no champion yet with its own ``crm train`` command on ``source``
    (its data options passed on); returns what happened per capability (``champion vN``, ``trained``, or
    why not)."""
    import subprocess

    outcome = {}
    for part, command in TRAIN_COMMANDS.items():
        version = tracking.champion_version(MODEL_NAMES[part])
        if version is not None:
            outcome[part] = f"champion v{version}"
            continue
        crm = Path(sys.executable).with_name("crm")
        options = source.cli_options()
        with step(f"no {MODEL_NAMES[part]} champion: crm train {' '.join([*command, *options])}"):
            done = subprocess.run([str(crm), "train", *command, *options], capture_output=True, text=True,
                                  env={**os.environ, **server.SINGLE_THREADED, "MLFLOW_TRACKING_URI": tracking_uri})
        if done.returncode == 0:
            version = tracking.champion_version(MODEL_NAMES[part])
            outcome[part] = f"trained, champion v{version}" if version else "trained, not promoted"
        else:
            lines = [line.strip(" ╭╮╰╯│─") for line in done.stderr.splitlines()]
            last = next((line for line in reversed(lines) if line), "(no output)")
            outcome[part] = f"not trained: {last[:200]}"
            console.print(f"[yellow]{MODEL_NAMES[part]} not available[/yellow]: {last[:200]}")
    return outcome


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
    subprocess.run([sys.executable, "-m", "serving.loadtest", str(plan_file), str(out_file)], check=True,
                   env={**os.environ, **server.SINGLE_THREADED}, timeout=60 + sum(
                       s["seconds"] * len(s["concurrency"]) * 3 for s in plan["scenarios"]))
    return json.loads(out_file.read_text())


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
    import platform
    import time

    uri = tracking.configure(tracking_uri)
    trained = train_missing(source, uri) if train else {}
    key = secrets.token_urlsafe(16)
    with tracking.scratch_folder("crm-bench-serving") as scratch_path:
        home = scratch_path / "bentoml"
        tag, _ = import_champions(None, source, bentoml_home=home)
        bundle = load_bundle(stored_path(tag, home), tag)
        bodies = request_bodies(bundle, batch_size)
        with step("timing the engine calls in process"):
            in_process = in_process_times(bundle, bodies, min(seconds, 3.0))
        routes_of = {"recommend": routes.RECOMMEND, "recommend_batch": routes.RECOMMEND_BATCH,
                     "price": routes.PRICE, "profile": routes.PROFILE}
        plan = {"port": 0, "headers": {"X-API-Key": key}, "scenarios": [
            {"name": name, "path": routes_of[name], "bodies": [json.dumps(b) for b in bodies[name]],
             "concurrency": LEVELS, "seconds": seconds, "max_requests": 100_000}
            for name in ("recommend", "recommend_batch", "price", "profile") if name in bodies and name in (only or bodies)
        ]}
        load_before = os.getloadavg()
        with server.running(bentoml_home=home, settings={"CRM_API_KEY": key, "CRM_RELOAD_SECONDS": "0"},
                            log=scratch_path / "server.log", workers=workers) as running:
            plan["port"] = int(running.url.rsplit(":", 1)[1])
            memory_before = server_memory_mb(running.pid)
            with step(f"load test: {len(plan['scenarios'])} endpoints x concurrency {LEVELS} x {seconds:g} s"):
                results = run_load(plan, scratch_path)
            memory_after = server_memory_mb(running.pid)
            saturation = None
            if saturation_seconds > 0 and plan["scenarios"] and plan["scenarios"][0]["name"] == "recommend":
                with step(f"saturation: recommendations at concurrency 32 for {saturation_seconds:g} s"):
                    saturation_plan = {**plan, "scenarios": [{**plan["scenarios"][0], "concurrency": [32],
                                                              "seconds": saturation_seconds, "max_requests": 10**7}]}
                    start_memory = server_memory_mb(running.pid)
                    run = run_load(saturation_plan, scratch_path)["recommend"]["concurrency_32"]
                    end_memory = server_memory_mb(running.pid)
                saturation = {**run, "concurrency": 32, "memory_mb_before": start_memory, "memory_mb_after": end_memory,
                              "memory_growth_pct": round(100 * (end_memory - start_memory) / start_memory, 2)}
    payload = {
        **results,
        "in_process": in_process,
        "overhead_ratio": {
            name: round(results[name]["concurrency_1"]["p50_ms"] / in_process[f"{name}_p50_ms"], 2)
            for name in results if in_process.get(f"{name}_p50_ms")
        },
        "errors": sum(level["errors"] for scenario in results.values() for level in scenario.values())
        + (saturation["errors"] if saturation else 0),
        "memory_mb": {"before": memory_before, "after": memory_after},
        "saturation": saturation,
        "setup": {
            "bundle": tag, "versions": bundle.versions, "data": source.data, "models": trained,
            "seconds_per_level": seconds, "batch_size": batch_size, "workers": workers,
            "cpus": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
            "python": platform.python_version(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    }
    payload["targets"] = _targets(payload)
    tracking.write_json(out, payload)
    _print_bench(payload)
    console.print(f"wrote {out}")


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


def _print_bench(payload: dict[str, Any]) -> None:
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
