"""Platt, beta and isotonic calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit

from engine.customers.calibration import ProbabilityCalibrator
from engine.errors import EngineError, NotFittedError


@pytest.fixture
def overconfident():
    """Raw probabilities twice as extreme (in log-odds) as the truth that generated the labels."""
    rng = np.random.default_rng(0)
    true = rng.uniform(0.05, 0.95, 20000)
    y = (rng.random(20000) < true).astype(float)
    return expit(2 * logit(true)), y, true


def test_platt_undoes_a_log_odds_distortion_and_keeps_the_order(overconfident):
    raw, y, true = overconfident
    calibrated = ProbabilityCalibrator("platt").fit(raw, y).transform(raw)
    assert np.abs(calibrated - true).max() < 0.03
    assert (np.diff(calibrated[np.argsort(raw)]) >= 0).all()


def test_isotonic_is_monotone_and_close(overconfident):
    raw, y, true = overconfident
    calibrator = ProbabilityCalibrator("isotonic").fit(raw, y)
    calibrated = calibrator.transform(raw)
    assert (np.diff(calibrated[np.argsort(raw)]) >= -1e-12).all()
    assert np.mean(np.abs(calibrated - true)) < 0.03


def test_beta_bends_where_platt_cannot():
    """Labels from a beta-calibration map (different bends at the two tails): beta recovers it,
    Platt's single slope misses it in the upper tail, and the order is kept."""
    rng = np.random.default_rng(1)
    raw = rng.uniform(0.01, 0.995, 20000)
    true = expit(1.0 * np.log(raw) + 0.3 * -np.log1p(-raw) - 0.8)
    y = (rng.random(20000) < true).astype(float)
    beta = ProbabilityCalibrator("beta").fit(raw, y)
    calibrated = beta.transform(raw)
    assert np.abs(calibrated - true).max() < 0.03
    assert np.abs(ProbabilityCalibrator("platt").fit(raw, y).transform(raw) - true).max() > 0.05
    assert (np.diff(calibrated[np.argsort(raw)]) >= 0).all() and len(beta.to_dict()["coef"]) == 3


@pytest.mark.parametrize("method", ["platt", "isotonic", "beta"])
def test_round_trip_and_bounds(overconfident, method):
    raw, y, _ = overconfident
    calibrator = ProbabilityCalibrator(method).fit(raw, y)
    again = ProbabilityCalibrator.from_dict(calibrator.to_dict())
    assert np.array_equal(again.transform(raw), calibrator.transform(raw))
    extremes = calibrator.transform(np.array([0.0, 1e-12, 1.0]))
    assert np.all((extremes > 0) & (extremes < 1))


def test_errors():
    with pytest.raises(NotFittedError):
        ProbabilityCalibrator().transform(np.array([0.5]))
    with pytest.raises(EngineError, match="only one class"):
        ProbabilityCalibrator().fit(np.array([0.2, 0.4]), np.array([1, 1]))
    with pytest.raises(EngineError, match="'platt', 'isotonic' or 'beta'"):
        ProbabilityCalibrator("sigmoid").fit(np.array([0.2, 0.4]), np.array([0, 1]))
