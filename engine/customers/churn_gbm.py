"""Churn classifier: LightGBM on as-of customer features, boosted from the probabilistic model's own
churn probability and calibrated on a validation set, with the top reasons of each score from
LightGBM's exact feature contributions (``pred_contrib``).

The label is 1 for a customer with no purchase in the window after the snapshot. The boosting starts
from the log-odds of BG/NBD's or Pareto/NBD's P(no purchase in the window) (``base_model``; "auto"
picks the one with the lower validation log-loss): the trees learn where RFM, trend, returns, tier and
the rest correct the classic model, which keeps its strength on small data (few churners) and its
extrapolation to customers older than any seen in training. Saved as a LightGBM text model beside a
JSON manifest (parameters, feature spec, feature names, base model, calibrator).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit, logit

from engine.customers.calibration import CalibrationMethod, ProbabilityCalibrator
from engine.customers.features import FEATURE_LABELS, FEATURES, P_NO_PURCHASE, PURCHASE_MODELS, FeatureSpec, feature_matrix
from engine.customers.metrics import log_loss
from engine.errors import EngineError, NotFittedError
from engine.gbm import LightGBMSettings
from engine.io import read_manifest, write_manifest

_KIND = "churn_lightgbm"
_FORMAT_VERSION = 1
_BOOSTER_FILE = "booster.txt"
_EDGE = 1e-6
BASE = "base_model"
BaseChoice = Literal["auto", "bgnbd", "pareto_nbd", "none"]


def _labels(y: Any, name: str) -> np.ndarray:
    values = np.asarray(y, dtype=float)
    if not np.isin(values, (0, 1)).all():
        raise EngineError(f"{name} must hold only 0 and 1")
    if values.min() == values.max():
        raise EngineError(f"{name} holds one class only ({int(values[0])}); a churn model needs churners and stayers")
    return values


class ChurnClassifier(LightGBMSettings):
    """P(no purchase in the next ``spec.horizon_days``) from the features of :mod:`features`.

    ``fit(train, y, validation, y_validation)``: LightGBM boosted from ``base_model``'s log-odds with
    early stopping on the validation log-loss, then a ``calibration`` ("platt" or "isotonic") fitted on
    the validation predictions.
    """

    def __init__(
        self,
        spec: FeatureSpec | None = None,
        n_estimators: int = 600,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 40,
        feature_fraction: float = 0.8,
        bagging_fraction: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 50,
        base_model: BaseChoice = "auto",
        calibration: CalibrationMethod = "platt",
        seed: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.spec = spec
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.base_model = base_model
        self.calibration = calibration
        self.seed = seed
        self.n_jobs = n_jobs

    def _params(self) -> dict[str, Any]:
        return self._lightgbm_params("binary")

    def fit(
        self, train: pd.DataFrame, y: Any, validation: pd.DataFrame, y_validation: Any
    ) -> ChurnClassifier:
        names = list(FEATURES)
        x_train, x_valid = feature_matrix(train, names), feature_matrix(validation, names)
        y_train, y_valid = _labels(y, "y"), _labels(y_validation, "y_validation")
        if self.base_model not in ("auto", "none", *PURCHASE_MODELS):
            raise EngineError(f"base_model must be 'auto', 'none' or one of {list(PURCHASE_MODELS)}, got {self.base_model!r}")
        if self.base_model == "auto":
            losses = {name: log_loss(y_valid, x_valid[P_NO_PURCHASE.format(name)]) for name in PURCHASE_MODELS}
            self.base_ = min(losses, key=losses.get)
        else:
            self.base_ = None if self.base_model == "none" else self.base_model
        self.feature_names_ = names
        margin_train = self._margin(x_train)
        self.base_reference_ = float(margin_train.mean())
        booster = lgb.train(
            self._params(),
            lgb.Dataset(x_train, y_train, init_score=margin_train, free_raw_data=False),
            num_boost_round=self.n_estimators,
            valid_sets=[lgb.Dataset(x_valid, y_valid, init_score=self._margin(x_valid))],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        self.booster_ = booster
        self.spec_ = self.spec or FeatureSpec()
        self.best_iteration_ = int(booster.best_iteration or self.n_estimators)
        self.calibrator_ = ProbabilityCalibrator(self.calibration).fit(expit(self._log_odds(x_valid)), y_valid)
        return self

    def _check(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError("ChurnClassifier is not fitted; call fit(...) first")

    def _margin(self, x: pd.DataFrame) -> np.ndarray:
        """The base model's churn log-odds (zeros without a base model)."""
        if self.base_ is None:
            return np.zeros(len(x))
        return logit(np.clip(x[P_NO_PURCHASE.format(self.base_)].to_numpy(), _EDGE, 1 - _EDGE))

    def _log_odds(self, x: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(x, num_iteration=self.best_iteration_, raw_score=True) + self._margin(x)

    def raw_probability(self, features: pd.DataFrame) -> np.ndarray:
        """The boosted (uncalibrated) churn probability."""
        self._check()
        return expit(self._log_odds(feature_matrix(features, self.feature_names_)))

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of no purchase in the window, one per row of ``features``."""
        raw = self.raw_probability(features)
        return self.calibrator_.transform(raw)

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Each feature's contribution to each row's churn log-odds: LightGBM's exact SHAP values
        (``pred_contrib``) for the trees, and a ``base_model`` column for the probabilistic model's
        log-odds relative to its training mean; with ``bias`` they sum to the raw log-odds."""
        self._check()
        x = feature_matrix(features, self.feature_names_)
        values = self.booster_.predict(x, num_iteration=self.best_iteration_, pred_contrib=True)
        frame = pd.DataFrame(values, index=features.index, columns=[*self.feature_names_, "bias"])
        frame[BASE] = self._margin(x) - (self.base_reference_ if self.base_ else 0.0)
        frame["bias"] += self.base_reference_ if self.base_ else 0.0
        return frame

    def top_reasons(self, features: pd.DataFrame, k: int = 3) -> pd.Series:
        """The ``k`` features that push each customer's churn risk up the most, as text such as
        "days since last purchase = 142 (+0.84)"; customers with no risk-raising feature get ""."""
        contributions = self.contributions(features).drop(columns="bias")
        names = list(contributions.columns)
        shown = feature_matrix(features, self.feature_names_)
        if self.base_:
            shown = shown.assign(**{BASE: shown[P_NO_PURCHASE.format(self.base_)]})
        labels = [FEATURE_LABELS.get(P_NO_PURCHASE.format(self.base_) if n == BASE else n, n) for n in names]
        values, raw = contributions.to_numpy(), shown[names].to_numpy()
        order = np.argsort(-values, axis=1, kind="stable")[:, :k]
        texts = [
            "; ".join(f"{labels[j]} = {raw[row, j]:.4g} ({values[row, j]:+.2f})" for j in columns if values[row, j] > 0)
            for row, columns in enumerate(order)
        ]
        return pd.Series(texts, index=features.index, name="reasons")

    def feature_importance(self) -> pd.Series:
        """Total gain of each feature's splits, largest first."""
        self._check()
        gain = self.booster_.feature_importance("gain", iteration=self.best_iteration_)
        return pd.Series(gain, index=self.feature_names_, name="gain").sort_values(ascending=False)

    def save(self, directory: str | Path, data_fingerprint: str | None = None, extra: dict[str, Any] | None = None) -> Path:
        """Write the LightGBM text model and the manifest (with the feature spec and calibrator)."""
        self._check()
        params = {name: getattr(self, name) for name in (
            "n_estimators", "learning_rate", "num_leaves", "min_child_samples", "feature_fraction",
            "bagging_fraction", "reg_lambda", "early_stopping_rounds", "base_model", "calibration", "seed", "n_jobs")}
        directory = Path(directory)
        write_manifest(
            directory, _KIND, _FORMAT_VERSION, params, data_fingerprint,
            {"spec": self.spec_.model_dump(mode="json"), "feature_names": self.feature_names_,
             "best_iteration": self.best_iteration_, "base": self.base_, "base_reference": self.base_reference_,
             "calibrator": self.calibrator_.to_dict(), **(extra or {})},
        )
        self.booster_.save_model(str(directory / _BOOSTER_FILE), num_iteration=self.best_iteration_)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ChurnClassifier:
        manifest = read_manifest(directory, _KIND, _FORMAT_VERSION)
        spec = FeatureSpec.model_validate(manifest["spec"])
        model = cls(spec=spec, **manifest["params"])
        model.spec_ = spec
        model.booster_ = lgb.Booster(model_file=str(Path(directory) / _BOOSTER_FILE))
        model.feature_names_ = list(manifest["feature_names"])
        model.best_iteration_ = int(manifest["best_iteration"])
        model.base_ = manifest["base"]
        model.base_reference_ = float(manifest["base_reference"])
        model.calibrator_ = ProbabilityCalibrator.from_dict(manifest["calibrator"])
        return model
