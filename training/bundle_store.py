"""The BentoML model store side of the bundle: store a checked bundle folder as a new ``crm-bundle``
version, find, verify and prune the stored versions. Every stored bundle is verified against its
manifest (sizes and SHA-256 of every file) before it is reused and when the store is pruned: a damaged
or partial bundle is never reused, never counted among the bundles kept, and is deleted first.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from engine.errors import ModelFormatError
from serving.bundle import verify_bundle
from serving.settings import BUNDLE_NAME


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

