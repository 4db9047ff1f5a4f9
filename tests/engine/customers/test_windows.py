"""Out-of-time windows: where snapshots stand, held-out customers, and no leakage into the test."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.customers.features import FeatureSpec
from engine.customers.windows import AS_OF, WindowPlan, held_out_customers, labelled_snapshots, training_rows
from engine.errors import EngineError
from tests.engine.customers.conftest import HORIZON


def test_plan_stands_training_snapshots_before_the_test_horizon(small_shop):
    tx = small_shop.transactions
    plan = WindowPlan.for_data(tx, 56, train_windows=3, step_days=28)
    last_day = tx["timestamp"].max().normalize()
    assert plan.test_as_of == last_day + pd.Timedelta(days=1) - pd.Timedelta(days=56)
    assert plan.train_as_of == tuple(plan.test_as_of - pd.Timedelta(days=56 + 28 * k) for k in range(3))


def test_plan_drops_snapshots_before_the_data_and_refuses_impossible_windows(small_shop):
    tx = small_shop.transactions
    first = tx["timestamp"].min()
    plan = WindowPlan.for_data(tx, 56, test_as_of=first + pd.Timedelta(days=150), train_windows=5, step_days=28)
    # test - 56 - 28k for k = 0..4: the last two stand less than step_days after the first purchase
    assert len(plan.train_as_of) == 3 and min(plan.train_as_of) > first + pd.Timedelta(days=28)
    with pytest.raises(EngineError, match="runs past the data's end"):
        WindowPlan.for_data(tx, 56, test_as_of=tx["timestamp"].max() - pd.Timedelta(days=10))
    with pytest.raises(EngineError, match="no training window fits"):
        WindowPlan.for_data(tx, 56, test_as_of=first + pd.Timedelta(days=60))
    with pytest.raises(EngineError, match="train_windows and step_days"):
        WindowPlan.for_data(tx, 56, train_windows=0)


def test_held_out_customers_are_reproducible():
    customers = pd.Index([f"c{i}" for i in range(100)])
    chosen = held_out_customers(customers, 0.25, seed=4)
    assert len(chosen) == 25 and chosen.equals(held_out_customers(customers[::-1], 0.25, seed=4))
    assert not chosen.equals(held_out_customers(customers, 0.25, seed=5))
    with pytest.raises(EngineError, match="validation_fraction"):
        held_out_customers(customers, 1.0, seed=0)


def test_labelled_snapshots_keep_validation_customers_and_test_outcomes_out_of_training(small_snapshots):
    data = small_snapshots
    assert not set(data.validation.index) & set(data.train.index)
    assert set(data.validation[AS_OF]) == {data.plan.train_as_of[0]}
    assert set(data.train[AS_OF]) == set(data.plan.train_as_of)
    # every training outcome window ends by the start of the test window
    assert (data.train[AS_OF] + pd.Timedelta(days=HORIZON)).max() <= data.plan.test_as_of
    assert (data.test[AS_OF] == data.plan.test_as_of).all()
    # the test snapshot covers every customer with a purchase before the test date
    tx = data.test_snapshot.features.index
    assert len(data.test) == len(tx) and 0 < data.test["churned"].mean() < 1


def test_spec_horizon_must_match_the_plan(small_shop):
    plan = WindowPlan.for_data(small_shop.transactions, 56)
    with pytest.raises(EngineError, match="differs from the plan"):
        labelled_snapshots(small_shop.transactions, plan, FeatureSpec(horizon_days=28))


def test_a_plan_to_serve_uses_only_the_lines_before_its_as_of(small_shop):
    tx = small_shop.transactions
    as_of = tx["timestamp"].min() + pd.Timedelta(days=250)
    plan = WindowPlan.ending_at(tx, HORIZON, as_of, train_windows=3, step_days=28)
    assert plan.test_as_of == as_of
    assert plan.train_as_of == tuple(as_of - pd.Timedelta(days=HORIZON + 28 * k) for k in range(3))
    spec = FeatureSpec(horizon_days=HORIZON)
    train, validation = training_rows(tx, plan, spec, small_shop.products, 0.25, seed=0)
    # the lines from the as-of date on change nothing: a copy without them gives the same rows
    before = tx.loc[tx["timestamp"] < as_of]
    train_before, validation_before = training_rows(before, plan, spec, small_shop.products, 0.25, seed=0)
    pd.testing.assert_frame_equal(train, train_before)
    pd.testing.assert_frame_equal(validation, validation_before)
    assert (train[AS_OF] + pd.Timedelta(days=HORIZON)).max() == as_of
