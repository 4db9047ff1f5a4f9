"""Typed pipeline configs read from YAML: a misspelt key is an error that names it."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from engine.errors import EngineError

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class ConfigError(EngineError):
    """A config file is missing, is not YAML, or breaks its schema (the message names the keys)."""


def load_config(path: str | Path | None, model: type[ConfigT]) -> ConfigT:
    """Read ``path`` into ``model`` (defaults if ``path`` is None)."""
    if path is None:
        return model()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    try:
        return model.model_validate(content)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"{path}: {problems}") from error
