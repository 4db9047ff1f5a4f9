"""Everything the service answers from, as one immutable bundle, and the holder that swaps bundles.

A bundle is a folder (stored in the BentoML model store by ``crm serve import``, so a built Bento
carries it and runs without the MLflow registry)::

    manifest.json       kind, format, as_of, data source and fingerprint, the registry version of each model
    recommender/        the recommender champion's engine model folder (if trained)
    pricing/            the pricing champion's engine model folder (if trained)
    customers.parquet   per customer: RFM, segment, tier, churn probability and band, expected CLV, reasons
    products.parquet    product -> category (for the category filter and the answers)

:func:`load_bundle` reads all of it or raises; :class:`BundleHolder` builds a new bundle completely and
only then swaps one reference, so a request that picked up the old bundle finishes on it, and a bundle
that fails to load leaves the old one serving (the failure is kept for the status endpoint and logged).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.errors import EngineError, ModelFormatError
from engine.io import read_manifest, write_manifest
from serving.customer_table import CustomerTable

logger = logging.getLogger("crm.serving")

BUNDLE_KIND = "crm-serving-bundle"
BUNDLE_FORMAT = 1
RECOMMENDER_DIR = "recommender"
PRICING_DIR = "pricing"
CUSTOMERS_FILE = "customers.parquet"
PRODUCTS_FILE = "products.parquet"
# the capability of each part of a bundle -> its registered MLflow model name
MODEL_NAMES = {"recommender": "crm-recommender", "churn": "crm-churn", "clv": "crm-clv", "pricing": "crm-pricing"}


@dataclass(frozen=True)
class Catalogue:
    """Product -> category, and the inverse for the category filter."""

    category_of: dict[str, str]

    @classmethod
    def from_frame(cls, products: pd.DataFrame) -> Catalogue:
        known = products.dropna(subset=[Columns.category])
        return cls(dict(zip(known[Columns.item].astype(str), known[Columns.category].astype(str))))

    def outside(self, category: str, item_ids: np.ndarray) -> np.ndarray:
        """The ids among ``item_ids`` that are not in ``category`` (what a category filter excludes)."""
        if category not in self.categories:
            raise EngineError(f"category: unknown category {category!r}")
        inside = np.fromiter((self.category_of.get(item) == category for item in item_ids), bool, len(item_ids))
        return item_ids[~inside]

    @property
    def categories(self) -> set[str]:
        return set(self.category_of.values())


@dataclass(frozen=True)
class Bundle:
    """The models and tables of one served version; never modified after loading."""

    tag: str
    as_of: pd.Timestamp
    versions: dict[str, str | None]
    customers: CustomerTable
    entry_tier: str
    recommender: Any | None = None
    pricing: Any | None = None
    catalogue: Catalogue | None = None
    loaded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def capabilities(self) -> list[str]:
        """What this bundle can answer."""
        found = ["profile"]
        if self.customers.has_value_scores:
            found.append("churn_risk")
        if self.recommender is not None:
            found += ["recommend", "similar_items"]
        if self.pricing is not None:
            found.append("price")
        return found

    def category_of(self, item_id: str) -> str | None:
        return self.catalogue.category_of.get(item_id) if self.catalogue else None


def write_bundle(
    directory: str | Path,
    customers: pd.DataFrame,
    as_of: pd.Timestamp,
    entry_tier: str,
    versions: dict[str, str | None],
    data_source: str,
    data_fingerprint: str,
    recommender_dir: str | Path | None = None,
    pricing_dir: str | Path | None = None,
    products: pd.DataFrame | None = None,
) -> Path:
    """Write a bundle folder: copy the model folders in, write the tables and the manifest."""
    directory = Path(directory)
    unknown = set(versions) - set(MODEL_NAMES)
    if unknown:
        raise ModelFormatError(f"versions has unknown parts {sorted(unknown)}; expected {sorted(MODEL_NAMES)}")
    for source, name in ((recommender_dir, RECOMMENDER_DIR), (pricing_dir, PRICING_DIR)):
        if source is not None:
            shutil.copytree(source, directory / name, dirs_exist_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    customers.to_parquet(directory / CUSTOMERS_FILE)
    if products is not None:
        products[[Columns.item, Columns.category]].to_parquet(directory / PRODUCTS_FILE, index=False)
    write_manifest(
        directory,
        BUNDLE_KIND,
        BUNDLE_FORMAT,
        params={"as_of": str(as_of), "entry_tier": entry_tier, "data_source": data_source},
        data_fingerprint=data_fingerprint,
        extra={"models": {part: versions.get(part) for part in MODEL_NAMES}},
    )
    return directory


def load_bundle(directory: str | Path, tag: str) -> Bundle:
    """Read a bundle folder completely (every model loaded, every table read) or raise."""
    directory = Path(directory)
    manifest = read_manifest(directory, BUNDLE_KIND, BUNDLE_FORMAT)
    params = manifest["params"]
    versions = {part: manifest["models"].get(part) for part in MODEL_NAMES}
    recommender = pricing = None
    if (directory / RECOMMENDER_DIR).is_dir():
        from engine.recommend.registry import load_recommender

        recommender = load_recommender(directory / RECOMMENDER_DIR)
    if (directory / PRICING_DIR).is_dir():
        from engine.pricing.optimizer import PriceOptimizer

        pricing = PriceOptimizer.load(directory / PRICING_DIR, model_version=versions["pricing"])
    products = directory / PRODUCTS_FILE
    return Bundle(
        tag=tag,
        as_of=pd.Timestamp(params["as_of"]),
        versions=versions,
        customers=CustomerTable.read(str(directory / CUSTOMERS_FILE)),
        entry_tier=params["entry_tier"],
        recommender=recommender,
        pricing=pricing,
        catalogue=Catalogue.from_frame(pd.read_parquet(products)) if products.is_file() else None,
    )


@dataclass(frozen=True)
class ReloadOutcome:
    """One attempt to load a bundle: when, which, and the error if it failed."""

    at: datetime
    bundle: str
    ok: bool
    error: str | None = None


class BundleHolder:
    """The one reference to the served bundle. Readers take ``holder.current`` once per request and
    use that object throughout; :meth:`load` replaces it only after the new bundle is fully built."""

    def __init__(self, loader: Callable[[str], Bundle]) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self.current: Bundle | None = None
        self.last_attempt: ReloadOutcome | None = None

    def load(self, reference: str) -> ReloadOutcome:
        """Build the bundle ``reference`` names and swap it in; on failure keep the current one."""
        with self._lock:
            try:
                bundle = self._loader(reference)
            except Exception as error:  # any failure must leave the old bundle serving
                outcome = ReloadOutcome(datetime.now(timezone.utc), reference, False, f"{type(error).__name__}: {error}")
                logger.error("loading bundle %s failed, still serving %s: %s", reference,
                             self.current.tag if self.current else "nothing", outcome.error)
            else:
                self.current = bundle
                outcome = ReloadOutcome(bundle.loaded_at, bundle.tag, True)
                logger.info("serving bundle %s (models %s)", bundle.tag, bundle.versions)
            self.last_attempt = outcome
            return outcome
