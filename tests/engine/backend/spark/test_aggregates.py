"""The Spark reductions equal the local backend's exactly (same values, bits, dtypes and order)."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.backend import LocalBackend, use_backend
from engine.customers.features import FeatureSpec, customer_features
from engine.customers.tiers import TierConfig
from engine.customers.view import customer_view

pytestmark = pytest.mark.spark
AS_OF = pd.Timestamp("2024-10-01")


def test_purchase_aggregates_equal_local_exactly(backend, random_transactions):
    expected = LocalBackend().purchase_aggregates(random_transactions, AS_OF)
    pd.testing.assert_frame_equal(backend.purchase_aggregates(random_transactions, AS_OF), expected, check_exact=True)


@pytest.mark.parametrize("with_orders", [False, True])
def test_customer_days_equal_local_exactly(backend, random_transactions, with_orders):
    expected = LocalBackend().customer_days(random_transactions, AS_OF, with_orders)
    actual = backend.customer_days(random_transactions, AS_OF, with_orders)
    pd.testing.assert_frame_equal(actual, expected, check_exact=True)


def test_segments_and_points_tiers_equal_local_exactly(backend, random_transactions):
    tiers = TierConfig(basis="points", points_per_currency=2.0, points_per_order=10.0, window_days=90, grace_days=30)
    expected = customer_view(random_transactions, AS_OF, tiers=tiers)
    with use_backend(backend):
        actual = customer_view(random_transactions, AS_OF, tiers=tiers)
    pd.testing.assert_frame_equal(actual, expected, check_exact=True)
    assert expected["tier"].nunique() > 1  # the ladder is exercised, not everyone Bronze


def test_churn_features_and_btyd_summary_equal_local_exactly(backend, random_transactions):
    spec = FeatureSpec()
    expected = customer_features(random_transactions, AS_OF, spec)
    with use_backend(backend):
        actual = customer_features(random_transactions, AS_OF, spec)
    pd.testing.assert_frame_equal(actual.summary, expected.summary, check_exact=True)
    pd.testing.assert_frame_equal(actual.features, expected.features, check_exact=True)


def test_purchase_aggregates_are_kept_per_table_and_date_and_go_with_the_table(spark, random_transactions):
    import gc

    from engine.backend.spark.backend import SparkBackend

    backend, lines = SparkBackend(spark), random_transactions.copy()
    first = backend.purchase_aggregates(lines, AS_OF)
    first.iloc[0, :] = None  # a caller's change does not reach the kept frame
    again = backend.purchase_aggregates(lines, AS_OF)
    pd.testing.assert_frame_equal(again, LocalBackend().purchase_aggregates(lines, AS_OF), check_exact=True)
    assert len(backend._aggregates) == 1
    del lines
    gc.collect()
    assert backend._aggregates == {}
