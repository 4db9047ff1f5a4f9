"""Everything the service answers from, as one immutable bundle, and the holder that swaps bundles.

A bundle is a folder (stored in the BentoML model store by ``crm serve import``, so a built Bento
carries it and runs without the MLflow registry)::

    manifest.json       kind, format, as_of, data source and fingerprint, the registry version of each model,
                        and every other file of the bundle with its size and SHA-256
    recommender/        the recommender champion's engine model folder (if trained)
    challenger/         a challenger recommender served beside it in an experiment (optional; the manifest's
                        ``experiment`` names it, see :mod:`serving.experiments`)
    pricing/            the pricing champion's engine model folder (if trained)
    customers.parquet   per customer: RFM, segment, tier, churn probability and band, expected CLV, reasons
    products.parquet    product -> category (for the category filter and the answers)
    timeline.parquet    per customer and month: spend and orders (the console's purchase timeline)

The manifest's ``evaluation`` holds each champion's test figures against its baselines (the console's
models page).

:func:`verify_bundle` checks every listed file against the manifest, so a bundle with a part missing
(a deleted ``recommender/``) or damaged (one changed byte) is refused with a message naming the part,
before anything reads it. :func:`load_bundle` verifies, then reads all of it or raises; :class:`BundleHolder` builds a new bundle completely and
only then swaps one reference, so a request that picked up the old bundle finishes on it, and a bundle
that fails to load leaves the old one serving (the failure is kept for the status endpoint and logged).
"""

from __future__ import annotations

import hashlib
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
from engine.io import MANIFEST, read_manifest, write_manifest
from serving.customer_table import CustomerTable
from serving.experiments import Experiment
from serving.timeline import PurchaseTimeline

logger = logging.getLogger("crm.serving")

BUNDLE_KIND = "crm-serving-bundle"
BUNDLE_FORMAT = 2  # 2: the manifest lists every file with its size and SHA-256
RECOMMENDER_DIR = "recommender"
CHALLENGER_DIR = "challenger"
PRICING_DIR = "pricing"
CUSTOMERS_FILE = "customers.parquet"
PRODUCTS_FILE = "products.parquet"
TIMELINE_FILE = "timeline.parquet"
# the capability of each part of a bundle -> its registered MLflow model name
MODEL_NAMES = {"recommender": "crm-recommender", "churn": "crm-churn", "clv": "crm-clv", "pricing": "crm-pricing"}
_CHUNK = 1 << 20


class BundleIntegrityError(ModelFormatError):
    """A bundle's files do not match its manifest: a part is missing or damaged (the message names it)."""


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
    timeline: PurchaseTimeline | None = None
    evaluation: dict[str, Any] = field(default_factory=dict)
    challenger: Any | None = None
    experiment: Experiment | None = None
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
    timeline: pd.DataFrame | None = None,
    evaluation: dict[str, Any] | None = None,
    challenger_dir: str | Path | None = None,
    experiment: Experiment | None = None,
) -> Path:
    """Write a bundle folder: copy the model folders in, write the tables and the manifest. A
    challenger recommender goes with an ``experiment`` and a champion recommender (all three or none)."""
    directory = Path(directory)
    unknown = set(versions) - set(MODEL_NAMES)
    if unknown:
        raise ModelFormatError(f"versions has unknown parts {sorted(unknown)}; expected {sorted(MODEL_NAMES)}")
    if (challenger_dir is None) != (experiment is None) or (experiment is not None and recommender_dir is None):
        raise ModelFormatError("a challenger recommender needs an experiment and a champion recommender, and an experiment needs both")
    for source, name in ((recommender_dir, RECOMMENDER_DIR), (pricing_dir, PRICING_DIR), (challenger_dir, CHALLENGER_DIR)):
        if source is not None:
            shutil.copytree(source, directory / name, dirs_exist_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    customers.to_parquet(directory / CUSTOMERS_FILE)
    if products is not None:
        products[[Columns.item, Columns.category]].to_parquet(directory / PRODUCTS_FILE, index=False)
    if timeline is not None:
        timeline.to_parquet(directory / TIMELINE_FILE, index=False)
    write_manifest(
        directory,
        BUNDLE_KIND,
        BUNDLE_FORMAT,
        params={"as_of": str(as_of), "entry_tier": entry_tier, "data_source": data_source},
        data_fingerprint=data_fingerprint,
        extra={"models": {part: versions.get(part) for part in MODEL_NAMES}, "files": _checksums(directory),
               "evaluation": evaluation or {},
               **({"experiment": experiment.model_dump()} if experiment else {})},
    )
    return directory


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _checksums(directory: Path) -> dict[str, dict[str, Any]]:
    """Every file under ``directory`` except the manifest: relative POSIX path -> size and SHA-256."""
    return {
        path.relative_to(directory).as_posix(): {"size": path.stat().st_size, "sha256": _digest(path)}
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.relative_to(directory).as_posix() != MANIFEST
    }


def _part(relative: str) -> str:
    """The part of the bundle a file belongs to: its top-level folder or file name."""
    return relative.split("/", 1)[0]


def verify_bundle(directory: str | Path, tag: str) -> dict[str, Any]:
    """Check a bundle folder against its manifest and return the manifest, or raise
    :class:`BundleIntegrityError` naming the missing or damaged parts.

    Every file the manifest lists must exist with its size and SHA-256; files it does not list (such as
    the BentoML store's own ``model.yaml``) are never read, so they are ignored. Messages name the bundle
    by ``tag`` and its files by their path inside the bundle (no server paths)."""
    directory = Path(directory)
    if not (directory / MANIFEST).is_file():
        raise BundleIntegrityError(f"bundle {tag} is incomplete: its {MANIFEST} is missing")
    try:
        manifest = read_manifest(directory, BUNDLE_KIND, BUNDLE_FORMAT)
    except ModelFormatError as error:  # the same reason, naming the bundle instead of the folder
        raise BundleIntegrityError(str(error).replace(str(directory), f"bundle {tag}")) from None
    listed = manifest.get("files")
    if not _lists_files(listed):
        raise BundleIntegrityError(f"bundle {tag}: its {MANIFEST} does not list the bundle's files (damaged, or "
                                   "written before bundles carried checksums: run `crm serve import` again)")
    missing: dict[str, list[str]] = {}
    damaged: dict[str, list[str]] = {}
    for relative, expected in listed.items():
        path = directory / relative
        if not path.is_file():
            missing.setdefault(_part(relative), []).append(relative)
        elif path.stat().st_size != expected["size"] or _digest(path) != expected["sha256"]:
            damaged.setdefault(_part(relative), []).append(relative)
    problems = [
        f"part {part!r} is missing {_files(files, listed, part)}" for part, files in sorted(missing.items())
    ] + [f"part {part!r} is damaged ({', '.join(files)} changed: size or SHA-256 differs)" for part, files in sorted(damaged.items())]
    if problems:
        state = "incomplete" if missing else "damaged"
        raise BundleIntegrityError(f"bundle {tag} is {state}, refused: {'; '.join(problems)}")
    return manifest


def _lists_files(listed: Any) -> bool:
    """Whether a manifest's ``files`` entry is a file list this module wrote: relative paths inside the
    bundle (no ``..``) with a size and a checksum, the customer table among them."""
    return (
        isinstance(listed, dict)
        and CUSTOMERS_FILE in listed
        and all(
            isinstance(entry, dict) and {"size", "sha256"} <= entry.keys()
            and not Path(relative).is_absolute() and ".." not in Path(relative).parts
            for relative, entry in listed.items()
        )
    )


def _files(files: list[str], listed: dict[str, Any], part: str) -> str:
    """``(2 of 7 files: a, b)``: how much of a part is missing, with the first few names."""
    total = sum(_part(relative) == part for relative in listed)
    shown = ", ".join(files[:3]) + (", ..." if len(files) > 3 else "")
    return f"({len(files)} of {total} files: {shown})"


def load_bundle(directory: str | Path, tag: str) -> Bundle:
    """Verify a bundle folder against its manifest, then read it completely (every model loaded, every
    table read) or raise. Only the parts the manifest lists are read."""
    directory = Path(directory)
    manifest = verify_bundle(directory, tag)
    params = manifest["params"]
    versions = {part: manifest["models"].get(part) for part in MODEL_NAMES}
    parts = {_part(relative) for relative in manifest["files"]}
    recommender = pricing = challenger = experiment = None
    if RECOMMENDER_DIR in parts:
        from engine.recommend.registry import load_recommender

        recommender = load_recommender(directory / RECOMMENDER_DIR)
    if manifest.get("experiment") is not None or CHALLENGER_DIR in parts:
        experiment, challenger = _experiment(manifest, parts, directory, tag)
    if PRICING_DIR in parts:
        from engine.pricing.optimizer import PriceOptimizer

        pricing = PriceOptimizer.load(directory / PRICING_DIR, model_version=versions["pricing"])
    return Bundle(
        tag=tag,
        as_of=pd.Timestamp(params["as_of"]),
        versions=versions,
        customers=CustomerTable.read(str(directory / CUSTOMERS_FILE)),
        entry_tier=params["entry_tier"],
        recommender=recommender,
        pricing=pricing,
        catalogue=Catalogue.from_frame(pd.read_parquet(directory / PRODUCTS_FILE)) if PRODUCTS_FILE in parts else None,
        timeline=PurchaseTimeline.read(str(directory / TIMELINE_FILE)) if TIMELINE_FILE in parts else None,
        evaluation=manifest.get("evaluation") or {},
        challenger=challenger,
        experiment=experiment,
    )


def _experiment(manifest: dict[str, Any], parts: set[str], directory: Path, tag: str) -> tuple[Experiment, Any]:
    """The bundle's experiment and its challenger recommender, or BundleIntegrityError naming what is off."""
    from pydantic import ValidationError

    from engine.recommend.registry import load_recommender

    if not {CHALLENGER_DIR, RECOMMENDER_DIR} <= parts or manifest.get("experiment") is None:
        raise BundleIntegrityError(f"bundle {tag}: an experiment needs its {CHALLENGER_DIR}/ and {RECOMMENDER_DIR}/ "
                                   f"parts and the manifest's experiment entry; one of them is missing")
    try:
        experiment = Experiment.model_validate(manifest["experiment"])
    except ValidationError as error:
        raise BundleIntegrityError(f"bundle {tag}: its experiment entry is not valid ({error})") from None
    return experiment, load_recommender(directory / CHALLENGER_DIR)


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
