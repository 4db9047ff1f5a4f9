"""Probability calibration fitted on a validation set the classifier never trained on.

- ``platt``: a logistic regression on the classifier's log-odds (two numbers). It keeps the order of
  the scores, so the AUC is unchanged, and it is stable on small validation sets (the default).
- ``isotonic``: a monotone step function (pool-adjacent-violators); more flexible, needs more data,
  and turns distinct scores into ties.
- ``beta``: beta calibration (Kull, Silva Filho & Flach 2017), a logistic regression on ln p and
  -ln(1 - p) (three numbers, slopes kept >= 0 so the order holds): unlike Platt it can bend where
  Platt's single slope over-extrapolates, in the tails where few customers are.

Both are stored as plain numbers (JSON), never pickles.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from scipy import optimize
from scipy.special import expit, logit

from engine.base import EngineModel
from engine.errors import EngineError

CalibrationMethod = Literal["platt", "isotonic", "beta"]
_EDGE = 1e-6  # calibrated probabilities stay inside [_EDGE, 1 - _EDGE]


class ProbabilityCalibrator(EngineModel):
    """Maps raw probabilities to calibrated ones: ``fit(raw, y)`` then ``transform(raw)``."""

    fitted_attribute = "coef_"

    def __init__(self, method: CalibrationMethod = "platt") -> None:
        self.method = method

    def fit(self, raw: np.ndarray, y: np.ndarray) -> ProbabilityCalibrator:
        raw, y = np.asarray(raw, dtype=float), np.asarray(y, dtype=float)
        if self.method not in ("platt", "isotonic", "beta"):
            raise EngineError(f"calibration method must be 'platt', 'isotonic' or 'beta', got {self.method!r}")
        if len(raw) != len(y) or len(raw) == 0:
            raise EngineError(f"calibration needs equal, non-zero numbers of scores and labels ({len(raw)}, {len(y)})")
        if y.min() == y.max():
            raise EngineError("the calibration set holds only one class; it cannot calibrate probabilities")
        if self.method == "platt":
            self.coef_ = _platt(_log_odds(raw)[:, None], y)
        elif self.method == "beta":
            self.coef_ = _platt(_beta_inputs(raw), y, nonnegative=True)
        else:
            from sklearn.isotonic import IsotonicRegression

            isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
            self.coef_ = [isotonic.X_thresholds_.tolist(), isotonic.y_thresholds_.tolist()]
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        self.check_is_fitted()
        raw = np.asarray(raw, dtype=float)
        if self.method in ("platt", "beta"):
            inputs = _log_odds(raw)[:, None] if self.method == "platt" else _beta_inputs(raw)
            calibrated = expit(inputs @ np.asarray(self.coef_[:-1]) + self.coef_[-1])
        else:
            x, y = self.coef_
            calibrated = np.interp(raw, x, y)
        return np.clip(calibrated, _EDGE, 1 - _EDGE)

    def to_dict(self) -> dict[str, Any]:
        self.check_is_fitted()
        return {"method": self.method, "coef": self.coef_}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> ProbabilityCalibrator:
        calibrator = cls(payload["method"])
        calibrator.coef_ = payload["coef"]
        return calibrator


def _log_odds(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(p, _EDGE, 1 - _EDGE))


def _beta_inputs(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EDGE, 1 - _EDGE)
    return np.column_stack([np.log(p), -np.log1p(-p)])


def _platt(z: np.ndarray, y: np.ndarray, nonnegative: bool = False) -> list[float]:
    """Slopes (one per column of ``z``) and intercept of P(y=1) = sigmoid(z @ slopes + intercept) by
    maximum likelihood, with Platt's smoothed targets so that a separable calibration set does not
    send them to infinity; ``nonnegative`` bounds the slopes at 0 (an order-keeping map)."""
    positives = y.sum()
    negatives = len(y) - positives
    target = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    columns = z.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p = expit(z @ theta[:-1] + theta[-1])
        p = np.clip(p, 1e-15, 1 - 1e-15)
        value = -np.sum(target * np.log(p) + (1 - target) * np.log1p(-p))
        residual = p - target
        return float(value), np.r_[residual @ z, residual.sum()]

    bounds = [(0.0, None) if nonnegative else (None, None)] * columns + [(None, None)]
    result = optimize.minimize(loss, np.r_[np.ones(columns), 0.0], jac=True, method="L-BFGS-B", bounds=bounds)
    return result.x.tolist()
