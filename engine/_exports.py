"""Lazy public names for the engine's packages: ``from engine import ChurnClassifier`` imports the
defining module on first use (PEP 562), so importing the package does no work (no LightGBM or implicit
import for a command that only reads a CSV)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def exports_by_module(modules: dict[str, list[str]]) -> dict[str, str]:
    """``{module: [names]}`` -> ``{name: module}``."""
    return {name: module for module, names in modules.items() for name in names}


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose public ``name`` lives in module ``exports[name]``."""

    def getattr_(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    def dir_() -> list[str]:
        return sorted(exports)

    return getattr_, dir_
