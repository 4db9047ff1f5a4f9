"""The BentoML model store side of the bundle: store a checked bundle folder as a new ``crm-bundle``
version, find, verify and prune the stored versions. Every stored bundle is verified against its
manifest (sizes and SHA-256 of every file) before it is reused and when the store is pruned: a damaged
or partial bundle is never reused, never counted among the bundles kept, and is deleted first.
The store itself is reached through :mod:`training.model_store` (BentoML's public API; ``bentoml_home``
names another store than ``$BENTOML_HOME``'s).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelFormatError
from serving.bundle import verify_bundle
from serving.settings import BUNDLE_NAME
from training import model_store


@dataclass(frozen=True)
class StoredBundle:
    """One stored ``crm-bundle`` version: its tag, folder and the metadata it was stored with."""

    tag: str
    path: Path
    metadata: dict[str, Any]


def store_bundle(directory: Path, metadata: dict[str, Any], bentoml_home: Path | None = None) -> str:
    """Copy a checked bundle folder into the BentoML model store as a new ``crm-bundle`` version, and
    verify the stored copy (a copy that does not verify is deleted, and the error names the part)."""
    tag = model_store.create(BUNDLE_NAME, directory, metadata, bentoml_home)
    try:
        verify_bundle(stored_path(tag, bentoml_home), tag)
    except ModelFormatError:
        model_store.delete([tag], bentoml_home)
        raise
    return tag


def damage(model: Any) -> str | None:
    """Why a stored bundle (anything with ``path`` and ``tag``) cannot be served (a missing or damaged
    part, named), or None if it is whole."""
    try:
        verify_bundle(Path(model.path), str(model.tag))
    except ModelFormatError as error:
        return str(error)
    return None


def stored_path(tag: str, bentoml_home: Path | None = None) -> Path:
    """The folder of a stored bundle version."""
    return model_store.folder(tag, bentoml_home)


def stored_bundles(bentoml_home: Path | None = None) -> list[StoredBundle]:
    """Every stored ``crm-bundle`` version, newest first."""
    return [StoredBundle(tag, Path(path), metadata) for tag, path, metadata in model_store.versions(BUNDLE_NAME, bentoml_home)]


def prune_bundles(keep: int, bentoml_home: Path | None = None) -> list[str]:
    """Keep the ``keep`` newest bundle versions that verify; delete the damaged ones first, then the
    older whole ones (a running service keeps what it has loaded). Returns the deleted tags."""
    stored = stored_bundles(bentoml_home)
    damaged = [model for model in stored if damage(model) is not None]
    whole = [model for model in stored if model not in damaged]
    removed = [model.tag for model in [*damaged, *whole[keep:]]]
    if removed:
        model_store.delete(removed, bentoml_home)
    return removed
