"""Scores of demand and price-response models, as free functions over arrays (in the style of the
CausalDemand benchmark): forecast error, counterfactual response error, elasticity error, sign accuracy."""

from __future__ import annotations

import numpy as np

from engine.errors import EngineError


def _arrays(*values: np.ndarray) -> list[np.ndarray]:
    arrays = [np.asarray(v, dtype=float) for v in values]
    if len({a.shape for a in arrays}) != 1:
        raise EngineError(f"arrays must have the same shape, got {[a.shape for a in arrays]}")
    return arrays


def wmape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Weighted mean absolute percentage error: sum |actual - predicted| / sum |actual|."""
    actual, predicted = _arrays(actual, predicted)
    total = np.abs(actual).sum()
    if total == 0:
        raise EngineError("wmape is undefined when every actual value is zero")
    return float(np.abs(actual - predicted).sum() / total)


def counterfactual_wmape(units: np.ndarray, true_response: np.ndarray, predicted_response: np.ndarray) -> float:
    """WMAPE of counterfactual units when the predicted relative change of units (``predicted_response``,
    e.g. 0.83 for -17%) is applied to the observed units, against the true relative change applied to
    the same units. Level errors of a model cannot hide (or excuse) its response errors."""
    units, true_response, predicted_response = _arrays(units, true_response, predicted_response)
    return wmape(units * true_response, units * predicted_response)


def elasticity_errors(true: np.ndarray, estimated: np.ndarray) -> dict[str, float]:
    """Mean and median absolute error, and mean error (bias), of elasticity estimates."""
    true, estimated = _arrays(true, estimated)
    error = estimated - true
    return {
        "elasticity_mae": float(np.mean(np.abs(error))),
        "elasticity_median_ae": float(np.median(np.abs(error))),
        "elasticity_bias": float(np.mean(error)),
    }


def sign_accuracy(predicted_response: np.ndarray, price_factor: float = 1.1) -> float:
    """Share of predicted responses to a price change that move units the other way (a rise in price
    lowers units): the only part of the truth known on real data."""
    (response,) = _arrays(predicted_response)
    if price_factor == 1:
        raise EngineError("price_factor must differ from 1")
    expected_sign = -np.sign(price_factor - 1)
    return float(np.mean(np.sign(response - 1) == expected_sign))


def interval_coverage(true: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of true values inside their interval [low, high] (95% intervals should cover about 0.95)."""
    true, low, high = _arrays(true, low, high)
    if true.size == 0:
        raise EngineError("interval coverage of no value is undefined")
    return float(np.mean((low <= true) & (true <= high)))
