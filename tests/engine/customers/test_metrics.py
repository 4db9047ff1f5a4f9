"""Churn and CLV metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.customers import metrics
from engine.errors import EngineError

Y = np.array([1, 0, 1, 0, 1])
S = np.array([0.9, 0.8, 0.4, 0.4, 0.2])


def test_auc_counts_ties_as_half():
    # positive/negative pairs: (0.9>0.8) (0.9>0.4) (0.4=0.4 -> 1/2), the rest lost: 2.5 of 6
    assert metrics.roc_auc(Y, S) == pytest.approx(2.5 / 6)
    assert metrics.roc_auc(Y, -S) == pytest.approx(1 - 2.5 / 6)


def test_average_precision_enters_ties_together():
    # thresholds 0.9 (P=1, R=1/3), 0.8 (no recall gain), 0.4 (P=2/4, R=2/3), 0.2 (P=3/5, R=1)
    assert metrics.pr_auc(Y, S) == pytest.approx(1 / 3 * 1 + 1 / 3 * 0.5 + 1 / 3 * 0.6)


def test_log_loss_by_hand():
    assert metrics.log_loss([1, 0], [0.8, 0.3]) == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    assert math.isfinite(metrics.log_loss([1], [0.0]))  # clipped, not infinite


def test_top_decile_lift():
    y = np.zeros(20)
    y[[3, 7, 11, 15, 19]] = 1  # churn rate 1/4
    score = np.arange(20.0)  # the top 2 are rows 19 and 18: one churner -> rate 1/2, lift 2
    assert metrics.top_decile_lift(y, score) == pytest.approx(2.0)
    assert metrics.top_decile_lift(y, np.where(y == 1, 1.0, 0.0)) == pytest.approx(4.0)


def test_decile_calibration_and_gain_curve():
    table = metrics.decile_calibration([0, 0, 1, 1], [0.1, 0.2, 0.6, 0.9], bins=2)
    assert table["customers"].tolist() == [2, 2]
    assert table["mean_predicted"].tolist() == pytest.approx([0.15, 0.75])
    assert table["observed_rate"].tolist() == [0.0, 1.0]
    gains = metrics.gain_curve([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8])
    assert gains["share_of_churners"].tolist() == [0.5, 1.0, 1.0, 1.0]
    assert gains["lift"].iloc[1] == pytest.approx(2.0)


def test_normalized_gini_by_hand():
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    # ordered by prediction: 1, 3, 4, 2 -> cumulative 1, 4, 8, 10: (23/10 - 5/2)/4 = -0.05;
    # perfect order 4, 3, 2, 1 -> (30/10 - 5/2)/4 = 0.125
    assert metrics.normalized_gini(actual, [0.4, 0.1, 0.3, 0.2]) == pytest.approx(-0.05 / 0.125)
    assert metrics.normalized_gini(actual, actual * 3 + 1) == pytest.approx(1.0)


def test_normalized_gini_averages_ties_whatever_the_row_order():
    # a two-way tie on top holding 10 and 0 counts as 5 and 5
    value = metrics.normalized_gini([10.0, 0.0, 4.0, 0.0], [1.0, 1.0, 0.5, 0.0])
    swapped = metrics.normalized_gini([0.0, 10.0, 4.0, 0.0], [1.0, 1.0, 0.5, 0.0])
    perfect = (10 / 14 + 14 / 14 + 2 - 5 / 2) / 4  # cumulative 10, 14, 14, 14
    assert value == swapped == pytest.approx(((5 + 10 + 14 + 14) / 14 - 5 / 2) / 4 / perfect)


def test_decile_mape_by_hand():
    # bins by prediction: {1, 1} -> actual mean 1 (error 0); {5, 5} -> actual mean 7 (error 2/7)
    assert metrics.decile_mape([0.0, 2.0, 4.0, 10.0], [1.0, 1.0, 5.0, 5.0], bins=2) == pytest.approx(1 / 7)
    # a decile that spent nothing is left out (no percentage error exists for it)
    assert metrics.decile_mape([0.0, 0.0, 4.0, 10.0], [1.0, 1.0, 5.0, 5.0], bins=2) == pytest.approx(2 / 7)


def test_clv_summary_metrics():
    result = metrics.evaluate_clv([0.0, 2.0, 4.0, 10.0], [1.0, 1.0, 5.0, 6.0])
    assert result["mae"] == pytest.approx((1 + 1 + 1 + 4) / 4)
    assert result["spearman"] == pytest.approx(np.corrcoef([1, 2, 3, 4], [1.5, 1.5, 3, 4])[0, 1])
    assert (result["predicted_total"], result["actual_total"]) == (13.0, 16.0)


def test_churn_summary_has_no_log_loss_for_scores():
    result = metrics.evaluate_churn(Y, S * 100, is_probability=False)
    assert result["log_loss"] is None and result["auc"] == pytest.approx(2.5 / 6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: metrics.roc_auc([1, 1], [0.2, 0.3]), "only 1s"),
        (lambda: metrics.roc_auc([1, 2], [0.2, 0.3]), "only 0 and 1"),
        (lambda: metrics.roc_auc([1, 0], [0.2]), "equal length"),
        (lambda: metrics.roc_auc([1, 0], [0.2, np.nan]), "non-finite"),
        (lambda: metrics.log_loss([1, 0], [0.2, 1.3]), r"\[0, 1\]"),
        (lambda: metrics.normalized_gini([0.0, 0.0], [1.0, 2.0]), "positive total"),
        (lambda: metrics.mae([], []), "empty"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(EngineError, match=message):
        call()


def test_auc_and_average_precision_agree_with_scikit_learn_on_tied_random_data():
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    score = np.round(rng.random(500) + 0.3 * y, 1)  # coarse scores: many ties
    assert metrics.roc_auc(y, score) == pytest.approx(roc_auc_score(y, score))
    assert metrics.pr_auc(y, score) == pytest.approx(average_precision_score(y, score))


def test_expected_calibration_error_by_hand():
    # two equal-count bins: predicted 0.1 (observed 0/2) and 0.8 (observed 1/2)
    y = np.array([0, 0, 1, 0])
    p = np.array([0.1, 0.1, 0.8, 0.8])
    assert metrics.expected_calibration_error(y, p, bins=2) == pytest.approx((0.1 + 0.3) / 2)


def test_wilson_interval_and_band_calibration():
    low, high = metrics.wilson_interval(np.array([0, 5]), np.array([10, 10]))
    assert low[0] == 0 and high[0] == pytest.approx(0.2775, abs=1e-4)  # 0 of 10: not [0, 0]
    assert (low[1], high[1]) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    y = np.array([0] * 8 + [1] * 2 + [1] * 9 + [0])
    p = np.r_[np.full(10, 0.2), np.full(10, 0.3)]
    table = metrics.band_calibration(y, p, np.r_[["low"] * 10, ["high"] * 10])
    assert table.loc["low", "realised_rate"] == 0.2 and bool(table.loc["low", "within_ci"])
    assert table.loc["high", "realised_rate"] == 0.9 and not bool(table.loc["high", "within_ci"])


def test_paired_bootstrap_se_of_a_gap():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    score = y + rng.normal(0, 1.0, 400)
    assert metrics.paired_bootstrap_se(metrics.roc_auc, y, score, score) == 0  # a score against itself: no noise
    other = y + rng.normal(0, 1.5, 400)
    se = metrics.paired_bootstrap_se(metrics.roc_auc, y, score, other, resamples=100)
    assert 0.005 < se < 0.06
