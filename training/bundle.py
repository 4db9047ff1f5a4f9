"""The import pipeline: MLflow champions -> one verified bundle in the BentoML model store.

The import step is the only place where the MLflow registry meets serving: it downloads the model
folders holding the ``champion`` alias, precomputes the per-customer table (RFM, segment, tier, churn,
CLV) from the training data, checks that the whole bundle loads, and stores it as a new version of
``crm-bundle`` in the BentoML model store. A running service picks it up by itself (see
``CRM_RELOAD_SECONDS``); a built Bento carries it and needs no registry. The import works in a
temporary folder that is removed however it ends (error, Ctrl-C or SIGTERM; after SIGKILL, by the next
import).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import typer
from pydantic import BaseModel

from engine.customers.aftersales import AfterSales, aftersales_profile
from engine.customers.timeline import monthly_purchases
from engine.customers.view import customer_view, default_as_of
from engine.data.dataset import ShopData
from engine.errors import EngineError
from engine.io import MANIFEST
from serving.bundle import MODEL_NAMES, load_bundle, write_bundle
from serving.experiments import Experiment
from training import tracking
from training.bundle_store import damage, prune_bundles, store_bundle, stored_bundles
from training.commands.data import DataArgs
from training.commands.segments import SegmentsConfig
from training.config import load_config
from training.console import console, step

if TYPE_CHECKING:
    from engine.customers.scoring import RiskBands


BUNDLE_CONTENTS = 2
"""What a bundle built by this code holds (2: + purchase timeline, evaluation figures, after-sales profile,
experiment): a stored bundle of an older recipe is rebuilt, not reused."""


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
    found = {}
    with tracking.quiet_downloads():
        for part, name in MODEL_NAMES.items():
            version = tracking.champion_version(name)
            if version is None:
                continue
            tags = tracking.version_run_tags(name, version)
            path = tracking.download_champion(name, destination=destination / part)
            found[part] = Champion(part, version, tags.get("data.source"), tags.get("data.fingerprint"), path,
                                   champion_evaluation(tracking.version_tags(name, version), path))
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
    try:
        return tracking.download_version(MODEL_NAMES["recommender"], experiment.challenger_version, destination)
    except EngineError as error:
        raise EngineError(f"--challenger-model-version: {error}") from None


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



def bundle_settings(config: SegmentsConfig | None = None, bands: RiskBands | None = None) -> tuple[SegmentsConfig, RiskBands]:
    """The settings that shape the customer table, unset ones read from the packaged default configs
    (``segments.yaml``; ``churn.yaml``'s risk bands): the one place every importing command
    (``crm serve import``, ``crm serve demo --data``, the benchmark) resolves them."""
    from engine.customers.config import ChurnConfig

    return config or load_config(None, SegmentsConfig), bands or load_config(None, ChurnConfig).risk_bands


def settings_fingerprint(config: SegmentsConfig | None = None, bands: RiskBands | None = None) -> str:
    """A short hash of the settings that shape the customer table (segments and tiers, risk bands),
    resolved by :func:`bundle_settings`, so every command that imports fingerprints the same settings
    the same way and ``make demo`` and ``make serve`` share a bundle."""
    settings: tuple[BaseModel, ...] = bundle_settings(config, bands)
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
    config, bands = bundle_settings(config, bands)
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
            "contents": BUNDLE_CONTENTS,
            "as_of": str(moment),
            "data_source": shop.source,
            "data_fingerprint": shop.fingerprint(),
            "settings": settings_fingerprint(config, bands),
            **{MODEL_NAMES[part]: champion.version for part, champion in champions.items()},
            **({"experiment": experiment.model_dump_json()} if experiment else {}),
        }
        newest = next(iter(stored_bundles(bentoml_home)), None)
        if newest is not None and newest.metadata == metadata:
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
