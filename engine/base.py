"""The core every model of the engine inherits, as scikit-learn's ``BaseEstimator`` and RecTools'
``ModelBase`` serve theirs: parameters read one way (the constructor's signature), one fit check raising
:class:`~engine.errors.NotFittedError`, one ``repr``, and the manifest (kind + format version) that
``save``/``load`` write and check.

The estimator contract: ``__init__`` stores its arguments unchanged under the same names; ``fit``
validates and learns, setting attributes with a trailing underscore; everything that needs a fitted
model calls :meth:`EngineModel.check_is_fitted` first.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar, Self

from engine.errors import EngineError, NotFittedError
from engine.io import read_manifest, write_manifest

__all__ = ["EngineModel"]


class EngineModel:
    """Parameters, fit check, repr and manifest I/O shared by every model family.

    Subclasses set ``kind`` (the manifest's name of the model; models that are never saved alone may
    leave it unset), ``format_version`` and ``fitted_attribute`` (an attribute ``fit`` always sets).
    """

    kind: ClassVar[str]
    format_version: ClassVar[int] = 1
    fitted_attribute: ClassVar[str]

    @classmethod
    def param_names(cls) -> list[str]:
        """The constructor's parameter names, in order: what :meth:`get_params` returns."""
        signature = inspect.signature(cls.__init__)
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        return [name for name, parameter in signature.parameters.items() if name != "self" and parameter.kind not in variadic]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters and their current values (``cls(**model.get_params())`` is an
        unfitted copy)."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> Self:
        """Change constructor parameters (refit afterwards); an unknown name is an error naming it."""
        unknown = sorted(set(params) - set(self.param_names()))
        if unknown:
            raise EngineError(f"{type(self).__name__}: unknown parameter(s) {unknown}; accepted: {self.param_names()}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def is_fitted(self) -> bool:
        """True once ``fit`` (or ``load``) has run."""
        return hasattr(self, self.fitted_attribute)

    def check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` naming the model unless it is fitted."""
        if not self.is_fitted():
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(...) first")

    def __repr__(self) -> str:
        params = ", ".join(f"{name}={value!r}" for name, value in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def _write_manifest(
        self,
        directory: str | Path,
        params: dict[str, Any],
        data_fingerprint: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Path:
        """Create ``directory`` with this model's manifest (kind, format version, ``params``, data
        fingerprint, library versions, ``extra``); the model writes its own files beside it."""
        return write_manifest(directory, self.kind, self.format_version, params, data_fingerprint, extra)

    @classmethod
    def _read_manifest(cls, directory: str | Path) -> dict[str, Any]:
        """The manifest of a folder saved by this class, checked for its kind and format version (a
        mismatch is a :class:`~engine.errors.ModelFormatError` with a sentence, never a traceback)."""
        return read_manifest(directory, cls.kind, cls.format_version)
