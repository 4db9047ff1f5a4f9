"""Save/load conventions for every engine model: a folder with a JSON manifest beside its arrays.

The manifest names the model kind and format version, its parameters, the fingerprint of the data it
was fitted on and the library versions, so that loading the wrong thing fails with a sentence, not a
pickle traceback. Arrays go to ``.npz`` (loaded with ``allow_pickle=False``), LightGBM models to their
text format, tables to parquet.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from engine.errors import ModelFormatError

MANIFEST = "manifest.json"
_LIBRARIES = ("crm-engine", "numpy", "scipy", "pandas", "implicit", "lightgbm")


def library_versions() -> dict[str, str]:
    """Versions of Python and the numeric libraries, recorded with every saved model and run."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_manifest(
    directory: str | Path,
    kind: str,
    format_version: int,
    params: dict[str, Any],
    data_fingerprint: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Create ``directory`` and write its manifest; the caller writes the model's own files beside it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {
        "kind": kind,
        "format_version": format_version,
        "params": params,
        "data_fingerprint": data_fingerprint,
        "versions": library_versions(),
        **(extra or {}),
    }
    path = directory / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, default=str))
    return path


def read_manifest(directory: str | Path, kind: str | tuple[str, ...], format_version: int) -> dict[str, Any]:
    """Read and check a manifest: it must exist and name an expected kind and this format version."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ModelFormatError(f"{directory} is not a saved engine model (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ModelFormatError(f"{path} is not valid JSON: {error}") from error
    kinds = (kind,) if isinstance(kind, str) else kind
    if manifest.get("kind") not in kinds:
        raise ModelFormatError(f"{directory} holds a {manifest.get('kind')!r} model, expected one of {kinds}")
    if manifest.get("format_version") != format_version:
        raise ModelFormatError(
            f"{directory} was saved in format {manifest.get('format_version')} of {manifest['kind']!r}; "
            f"this engine reads format {format_version} (saved with {manifest.get('versions')})"
        )
    return manifest


def manifest_kind(directory: str | Path) -> str:
    """The ``kind`` a saved model folder declares (checked again, fully, by the model's ``load``)."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ModelFormatError(f"{directory} is not a saved engine model (no {MANIFEST})")
    try:
        return str(json.loads(path.read_text()).get("kind"))
    except json.JSONDecodeError as error:
        raise ModelFormatError(f"{path} is not valid JSON: {error}") from error
