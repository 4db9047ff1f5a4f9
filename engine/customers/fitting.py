"""Fitting churn and CLV models without MLflow: plan the out-of-time windows on a shop, build the
labelled snapshots, fit the models with a config's settings and seed, and fit the models to serve as
of a date on the lines before it only. The notebook, the benchmark, ``crm churn-list`` and the MLflow
pipelines of ``training/`` all call these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from engine.customers.aftersales import AfterSales
from engine.customers.churn_gbm import ChurnClassifier, ChurnEstimator
from engine.customers.clv import ClvEstimator, ClvModel
from engine.customers.config import ChurnConfig, ClvConfig, WindowSettings
from engine.customers.features import CHURNED, SPEND, FeatureSpec
from engine.customers.view import default_as_of
from engine.customers.windows import LabelledSnapshots, WindowPlan, labelled_snapshots, training_rows
from engine.data.dataset import ShopData


def prepare(shop: ShopData, features: FeatureSpec, windows: WindowSettings, seed: int) -> LabelledSnapshots:
    """Plan the windows on the shop and build every labelled snapshot."""
    plan = WindowPlan.for_data(
        shop.transactions, features.horizon_days, windows.as_of, windows.train_windows, windows.step_days
    )
    return labelled_snapshots(shop.transactions, plan, features, shop.products, windows.validation_fraction, seed,
                              AfterSales.of(shop))


@dataclass(frozen=True)
class TrainingRows:
    """The training and validation rows of a plan with no test window: what a model to serve as of
    ``plan.test_as_of`` is fitted on (every outcome ends by that date)."""

    plan: WindowPlan
    train: pd.DataFrame
    validation: pd.DataFrame


def prepare_to_serve(
    shop: ShopData, features: FeatureSpec, windows: WindowSettings, seed: int, as_of: str | pd.Timestamp | None = None
) -> TrainingRows:
    """The rows of a model that scores as of ``as_of`` (default: the day after the last line), built
    from the lines before it only, with the same windows a test window at ``as_of`` would have."""
    moment = pd.Timestamp(as_of) if as_of is not None else default_as_of(shop.transactions)
    plan = WindowPlan.ending_at(shop.transactions, features.horizon_days, moment, windows.train_windows, windows.step_days)
    train, validation = training_rows(
        shop.transactions, plan, features, shop.products, windows.validation_fraction, seed, AfterSales.of(shop)
    )
    return TrainingRows(plan, train, validation)


def churn_model(config: ChurnConfig, estimator: ChurnEstimator = "lightgbm") -> ChurnClassifier:
    """An unfitted churn classifier with ``config``'s features, settings and seed."""
    return ChurnClassifier(spec=config.features, seed=config.seed, estimator=estimator, **config.model.model_dump())


def clv_model(config: ClvConfig, estimator: ClvEstimator = "auto") -> ClvModel:
    """An unfitted CLV model with ``config``'s features, settings and seed."""
    return ClvModel(spec=config.features, months=config.months, monthly_discount_rate=config.monthly_discount_rate,
                    seed=config.seed, estimator=estimator, **config.model.model_dump())


def fit_churn(
    data: LabelledSnapshots | TrainingRows, config: ChurnConfig, estimator: ChurnEstimator = "lightgbm"
) -> ChurnClassifier:
    return churn_model(config, estimator).fit(data.train, data.train[CHURNED], data.validation, data.validation[CHURNED])


def fit_clv(data: LabelledSnapshots | TrainingRows, config: ClvConfig, estimator: ClvEstimator = "auto") -> ClvModel:
    return clv_model(config, estimator).fit(data.train, data.train[SPEND], data.validation, data.validation[SPEND])


def fit_models(
    shop: ShopData,
    churn_config: ChurnConfig,
    clv_config: ClvConfig,
    as_of: str | pd.Timestamp | None = None,
    churn_estimator: ChurnEstimator = "lightgbm",
    clv_estimator: ClvEstimator = "auto",
) -> tuple[ChurnClassifier, ClvModel]:
    """Fit both models (without MLflow) to score as of ``as_of`` (default: the day after the last
    line), on the lines before it only, as the given estimators (what a baseline gate chose)."""
    rows = prepare_to_serve(shop, churn_config.features, churn_config.windows, churn_config.seed, as_of)
    churn = fit_churn(rows, churn_config, churn_estimator)
    same = (clv_config.features, clv_config.windows, clv_config.seed) == (churn_config.features, churn_config.windows, churn_config.seed)
    clv_training = rows if same else prepare_to_serve(shop, clv_config.features, clv_config.windows, clv_config.seed, as_of)
    return churn, fit_clv(clv_training, clv_config, clv_estimator)


def served_as_of(data: LabelledSnapshots) -> pd.Timestamp:
    """Where the model to serve stands after a run evaluated on ``data``: the end of its test window
    (the day after the last line unless the config moved the window earlier)."""
    return data.plan.test_as_of + pd.Timedelta(days=data.plan.horizon_days)


def windows_summary(data: LabelledSnapshots) -> dict[str, Any]:
    """The plan of ``data`` (test and training as-of dates, horizon), its row counts and churn rates."""
    plan = data.plan
    return {
        "test_as_of": str(plan.test_as_of.date()),
        "horizon_days": plan.horizon_days,
        "train_as_of": [str(moment.date()) for moment in plan.train_as_of],
        "rows": {"train": len(data.train), "validation": len(data.validation), "test": len(data.test)},
        "churn_rate": {
            "train": float(data.train[CHURNED].mean()),
            "validation": float(data.validation[CHURNED].mean()),
            "test": float(data.test[CHURNED].mean()),
        },
    }
