"""Fixtures of the customer-value tests: a small synthetic shop (Pareto/NBD visits) and its labelled
out-of-time snapshots, built once per session."""

from __future__ import annotations

import pytest

from engine.customers.features import FeatureSpec
from engine.customers.windows import LabelledSnapshots, WindowPlan, labelled_snapshots
from engine.data.dataset import ShopData
from engine.data.synthetic import SyntheticShopConfig, generate_shop

HORIZON = 56


@pytest.fixture(scope="session")
def small_shop() -> ShopData:
    """About 360 customers over 60 weeks, 20 products in 3 categories."""
    return generate_shop(SyntheticShopConfig(seed=3, n_customers=400, n_products=20, n_categories=3, n_weeks=60, acquisition_weeks=13))


@pytest.fixture(scope="session")
def small_snapshots(small_shop) -> LabelledSnapshots:
    spec = FeatureSpec(horizon_days=HORIZON)
    plan = WindowPlan.for_data(small_shop.transactions, HORIZON, train_windows=3, step_days=28)
    return labelled_snapshots(small_shop.transactions, plan, spec, small_shop.products, 0.25, seed=0)


@pytest.fixture(scope="session")
def churn_model(small_snapshots):
    from engine.customers.churn_gbm import ChurnClassifier

    data = small_snapshots
    return ChurnClassifier(spec=data.test_snapshot.spec).fit(
        data.train, data.train["churned"], data.validation, data.validation["churned"]
    )


@pytest.fixture(scope="session")
def clv_model(small_snapshots):
    from engine.customers.clv import ClvModel

    data = small_snapshots
    return ClvModel(spec=data.test_snapshot.spec).fit(data.train, data.train["spend"], data.validation, data.validation["spend"])
