"""Metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import EngineError
from engine.pricing.metrics import counterfactual_wmape, elasticity_errors, sign_accuracy, wmape


def test_wmape_by_hand():
    assert wmape([10, 20, 0], [12, 15, 1]) == pytest.approx((2 + 5 + 1) / 30)
    with pytest.raises(EngineError):
        wmape([0, 0], [1, 1])
    with pytest.raises(EngineError):
        wmape([1, 2], [1])


def test_counterfactual_wmape_applies_responses_to_the_same_units():
    units = np.array([10.0, 30.0])
    true = 1.1 ** np.array([-2.0, -1.0])
    assert counterfactual_wmape(units, true, true) == 0.0
    predicted = 1.1 ** np.array([-1.0, -1.0])
    expected = abs(10 * (predicted[0] - true[0])) / (10 * true[0] + 30 * true[1])
    assert counterfactual_wmape(units, true, predicted) == pytest.approx(expected)


def test_elasticity_errors_and_sign_accuracy():
    errors = elasticity_errors(np.array([-2.0, -1.0, -3.0]), np.array([-1.5, -1.0, -4.0]))
    assert errors == pytest.approx({"elasticity_mae": 0.5, "elasticity_median_ae": 0.5, "elasticity_bias": -1 / 6})
    # a price rise should lower units: responses below 1 are right, 1 (no change) and above are wrong
    assert sign_accuracy(np.array([0.9, 0.95, 1.0, 1.2]), 1.1) == 0.5
    assert sign_accuracy(np.array([1.1, 0.9]), 0.9) == 0.5
    with pytest.raises(EngineError):
        sign_accuracy(np.array([1.0]), 1.0)


def test_interval_coverage_counts_the_truths_inside_their_intervals():
    from engine.pricing.metrics import interval_coverage

    assert interval_coverage(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 2.0, 3.5, 0.0]), np.array([2.0, 2.0, 4.0, 3.0])) == 0.5
    with pytest.raises(EngineError):
        interval_coverage(np.array([]), np.array([]), np.array([]))
