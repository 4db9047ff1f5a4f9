"""Every elasticity estimator by its ``name``: build one from parameters (an unknown name or parameter is
an error naming it), as :mod:`engine.recommend.registry` does for recommenders."""

from __future__ import annotations

from typing import Any

from engine.errors import EngineError
from engine.pricing.base import ElasticityEstimator
from engine.pricing.dml import DoubleML, DoubleMLIV
from engine.pricing.fixed_effects import FixedEffectsLogLog
from engine.pricing.monotone_gbm import MonotoneGBM
from engine.pricing.naive import NaiveLogLog

__all__ = ["ESTIMATORS", "make_estimator"]

ESTIMATORS: dict[str, type[ElasticityEstimator]] = {
    cls.name: cls for cls in (NaiveLogLog, FixedEffectsLogLog, DoubleML, DoubleMLIV, MonotoneGBM)
}


def make_estimator(name: str, params: dict[str, Any] | None = None) -> ElasticityEstimator:
    """A new (unfitted) estimator ``name`` with ``params`` (JSON lists become tuples)."""
    if name not in ESTIMATORS:
        raise EngineError(f"unknown elasticity estimator {name!r}; known: {sorted(ESTIMATORS)}")
    estimator_class = ESTIMATORS[name]
    params = {key: tuple(value) if isinstance(value, list) else value for key, value in (params or {}).items()}
    unknown = sorted(set(params) - set(estimator_class.param_names()))
    if unknown:
        raise EngineError(f"{name}: unknown parameter(s) {unknown}; accepted: {estimator_class.param_names()}")
    return estimator_class(**params)
