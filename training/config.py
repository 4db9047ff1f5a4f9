"""Typed pipeline configs read from YAML: a misspelt key is an error that names it.

The default of every pipeline ships inside the package (``training/defaults/*.yaml``, the same files as
the checkout's ``configs/``, which the package links to) and is read with :mod:`importlib.resources`
when no ``--config`` is given, so an installed wheel behaves like the checkout from any folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from engine.errors import EngineError

ConfigT = TypeVar("ConfigT", bound=BaseModel)
DEFAULTS_PACKAGE = "training"
DEFAULTS_FOLDER = "defaults"


class ConfigError(EngineError):
    """A config file is missing, is not YAML, or breaks its schema (the message names the keys)."""


def default_config_text(name: str) -> str:
    """The text of the packaged default config ``name`` (e.g. ``churn.yaml``)."""
    resource = resources.files(DEFAULTS_PACKAGE).joinpath(DEFAULTS_FOLDER, name)
    if not resource.is_file():
        raise ConfigError(f"packaged default config not found: {DEFAULTS_FOLDER}/{name} (a broken install?)")
    return resource.read_text(encoding="utf-8")


def load_config(path: str | Path | None, model: type[ConfigT]) -> ConfigT:
    """Read ``path`` into ``model``; without a path, the model's packaged default file
    (its ``default_file`` class attribute), else the model's field defaults."""
    if path is None:
        default_file: str | None = getattr(model, "default_file", None)
        if default_file is None:
            return model()
        return parse_config(default_config_text(default_file), f"(default) {default_file}", model)
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    return parse_config(path.read_text(), str(path), model)


def parse_config(text: str, origin: str, model: type[ConfigT]) -> ConfigT:
    """Validate YAML ``text`` (read from ``origin``, named in errors) into ``model``."""
    try:
        content = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{origin} is not valid YAML: {error}") from error
    if not isinstance(content, dict):
        raise ConfigError(f"{origin}: expected a mapping of keys at the top level")
    try:
        return model.model_validate(content)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"{origin}: {problems}") from error
