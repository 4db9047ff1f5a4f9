"""Every saved customer model by its ``kind``: load any of them from its folder (dispatching on the kind
its manifest declares), as :mod:`engine.recommend.registry` does for recommenders."""

from __future__ import annotations

from pathlib import Path

from engine.base import EngineModel
from engine.customers.bgnbd import BGNBD
from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.clv import ClvModel
from engine.customers.gamma_gamma import GammaGamma
from engine.customers.pareto_nbd import ParetoNBD
from engine.errors import ModelFormatError
from engine.io import manifest_kind

__all__ = ["MODELS", "load_customer_model"]

MODELS: dict[str, type[EngineModel]] = {
    model.kind: model for model in (ChurnClassifier, ClvModel, BGNBD, ParetoNBD, GammaGamma)
}


def load_customer_model(path: str | Path) -> EngineModel:
    """Load any saved customer model (churn, CLV, BG/NBD, Pareto/NBD, Gamma-Gamma)."""
    kind = manifest_kind(path)
    if kind not in MODELS:
        raise ModelFormatError(f"{path} holds a {kind!r} model, not a customer model; known: {sorted(MODELS)}")
    model_class = MODELS[kind]
    return model_class.load(path)  # type: ignore[attr-defined]
