"""Small champions in a temporary MLflow registry, and bundles built from them, for the serving tests.

The models are fitted directly with the engine on a small synthetic shop (seconds), registered with
``training.tracking`` and promoted to ``champion`` the same way the pipelines do it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from pydantic import BaseModel

from engine.data.dataset import ShopData
from engine.data.synthetic import SyntheticShopConfig, generate_shop
from serving.bundle import MODEL_NAMES
from training import tracking

API_KEY = "test-key-0123"
EXPERIMENT = "serving-tests"
_MLFLOW_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


class _TestConfig(BaseModel):
    purpose: str = "serving tests"


def small_shop(seed: int = 3) -> ShopData:
    """About 300 customers, 60 products in 8 categories, 40 weeks (under a second to generate)."""
    return generate_shop(SyntheticShopConfig(seed=seed, n_customers=300, n_products=60, n_weeks=40))


@contextmanager
def temporary_registry(folder: Path) -> Iterator[str]:
    """Point MLflow at a fresh SQLite store in ``folder`` for the duration, then back."""
    previous = mlflow.get_tracking_uri()
    variables = {name: os.environ.get(name) for name in _MLFLOW_VARIABLES}  # MLflow writes these
    uri = tracking.configure(f"sqlite:///{folder}/mlflow.db")
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:  # artifacts in the folder, not in ./mlruns
        mlflow.create_experiment(EXPERIMENT, artifact_location=(folder / "artifacts").as_uri())
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(previous)
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def register_champion(part: str, model_dir: Path, shop: ShopData, metric: float) -> str:
    """Register ``model_dir`` as a new version of the part's model and promote it if it is better."""
    with tracking.tracked_run(EXPERIMENT, _TestConfig(), shop, seed=0):
        version = tracking.register_model(model_dir, MODEL_NAMES[part], "test_metric", metric)
        tracking.promote_if_better(MODEL_NAMES[part], version, "test_metric", metric)
    return version


def train_recommender(shop: ShopData, folder: Path, metric: float = 0.5) -> str:
    """A small ALS recommender, saved and registered; returns its registry version."""
    from engine.recommend.als import ALSRecommender

    model = ALSRecommender(factors=8, iterations=5, num_threads=1).fit(shop.transactions)
    model.save(folder, data_fingerprint=shop.fingerprint())
    return register_champion("recommender", folder, shop, metric)


def fit_pricing(shop: ShopData, folder: Path) -> Path:
    """A price optimizer on fixed-effects elasticities, saved in ``folder``."""
    from engine.pricing.facts import product_facts
    from engine.pricing.fixed_effects import FixedEffectsLogLog
    from engine.pricing.optimizer import PriceOptimizer
    from engine.pricing.panel import shop_panel

    panel = shop_panel(shop)
    elasticities = FixedEffectsLogLog().fit(panel).elasticity_table()
    optimizer = PriceOptimizer().fit(elasticities, product_facts(panel, elasticities["elasticity"]))
    return optimizer.save(folder, data_fingerprint=shop.fingerprint())


def train_pricing(shop: ShopData, folder: Path, metric: float = 0.5) -> str:
    """:func:`fit_pricing`, registered; returns its version."""
    return register_champion("pricing", fit_pricing(shop, folder), shop, metric)


def train_customer_value(shop: ShopData, folder: Path, metric: float = 0.5) -> tuple[str, str]:
    """Churn and CLV models fitted with their pipeline's defaults, saved and registered; their versions."""
    from engine.customers.config import ChurnConfig, ClvConfig
    from engine.customers.fitting import fit_models

    churn, clv = fit_models(shop, ChurnConfig(), ClvConfig())
    churn.save(folder / "churn", data_fingerprint=shop.fingerprint())
    clv.save(folder / "clv", data_fingerprint=shop.fingerprint())
    return (register_champion("churn", folder / "churn", shop, metric), register_champion("clv", folder / "clv", shop, metric))
