"""CLV: discounting by hand, the model choice, the probabilistic level, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from engine.customers.btyd_data import DAYS_PER_MONTH, in_units
from engine.customers.clv import ClvModel, discounted_clv
from engine.customers.evaluation import clv_rows
from engine.errors import EngineError, ModelFormatError, NotFittedError
from tests.engine.customers.conftest import HORIZON


def test_discounting_by_hand(small_snapshots):
    snapshot = small_snapshots.test_snapshot
    model, summary = snapshot.models["bgnbd"], snapshot.summary
    spend = snapshot.features["gg_expected_spend"].to_numpy()
    month = in_units(DAYS_PER_MONTH, "weeks")
    undiscounted = discounted_clv(model, summary, spend, months=12, monthly_discount_rate=0.0)
    assert undiscounted == pytest.approx(model.expected_purchases(summary, 12 * month) * spend)
    one_month = discounted_clv(model, summary, spend, months=1, monthly_discount_rate=0.05)
    assert one_month == pytest.approx(model.expected_purchases(summary, month) * spend / 1.05)
    discounted = discounted_clv(model, summary, spend, months=12, monthly_discount_rate=0.01)
    assert np.all(discounted < undiscounted) and np.all(discounted > undiscounted / 1.01**12)
    with pytest.raises(EngineError, match="months"):
        discounted_clv(model, summary, spend, months=0)
    with pytest.raises(EngineError, match="monthly_discount_rate"):
        discounted_clv(model, summary, spend, monthly_discount_rate=1.2)


def test_choice_level_and_lifetime_value(clv_model, small_snapshots):
    data = small_snapshots
    assert set(clv_model.validation_gini_) == {"lightgbm", "bgnbd", "pareto_nbd"}
    assert clv_model.choice_ == max(clv_model.validation_gini_, key=clv_model.validation_gini_.get)
    test = data.test
    # LightGBM ranks; its total is the probabilistic model's over the customers given
    profile_total = test[f"{clv_model.profile_model_}_window_spend"].sum()
    assert clv_model.window_spend(test, "lightgbm").sum() == pytest.approx(profile_total)
    value = clv_model.lifetime_value(data.test_snapshot)
    assert np.all(np.isfinite(value)) and np.all(value >= 0)
    # 12 months of a customer's expected spend, discounted 1% a month, exceed 8 weeks of it
    window = clv_model.window_spend(test)
    assert np.all(value[window > 1] > window[window > 1])


def test_rows_mark_the_chosen_estimator(clv_model, small_snapshots):
    rows = clv_rows(small_snapshots.test, clv_model, HORIZON)
    assert [row["model"] for row in rows] == ["lightgbm", "bgnbd", "pareto_nbd", "historical_rate"]
    assert sum(row["chosen"] for row in rows) == 1
    assert all(row["actual_total"] == rows[0]["actual_total"] for row in rows)


def test_save_load_round_trip(clv_model, small_snapshots, tmp_path):
    clv_model.save(tmp_path / "clv", data_fingerprint="abc")
    loaded = ClvModel.load(tmp_path / "clv")
    snapshot = small_snapshots.test_snapshot
    assert np.array_equal(loaded.lifetime_value(snapshot), clv_model.lifetime_value(snapshot))
    assert (loaded.choice_, loaded.months, loaded.monthly_discount_rate) == (clv_model.choice_, 12, 0.01)
    with pytest.raises(ModelFormatError):
        ClvModel.load(tmp_path)


def test_errors(small_snapshots):
    data = small_snapshots
    with pytest.raises(NotFittedError):
        ClvModel().window_spend(data.test)
    with pytest.raises(EngineError, match="some spend"):
        ClvModel().fit(data.train, np.zeros(len(data.train)), data.validation, data.validation["spend"])


def test_a_constant_lightgbm_is_named_and_never_chosen(small_snapshots):
    data = small_snapshots
    # leaves need more rows than there are: LightGBM cannot split and predicts one constant
    model = ClvModel(min_child_samples=100_000).fit(data.train, data.train["spend"], data.validation, data.validation["spend"])
    assert model.choice_ != "lightgbm"
    assert len(model.warnings_) == 1 and "degenerate fit" in model.warnings_[0] and "constant" in model.warnings_[0]


def test_a_named_estimator_is_served_as_given(small_snapshots):
    data = small_snapshots
    model = ClvModel(estimator="pareto_nbd").fit(data.train, data.train["spend"], data.validation, data.validation["spend"])
    assert model.choice_ == "pareto_nbd"
    assert np.array_equal(model.window_spend(data.test), data.test["pareto_nbd_window_spend"].to_numpy())
