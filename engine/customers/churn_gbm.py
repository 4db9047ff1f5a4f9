"""Churn classifier: LightGBM on as-of customer features, boosted from the probabilistic model's own
churn probability and calibrated on cross-fitted predictions, with reasons of each score from
LightGBM's exact feature contributions (``pred_contrib``) phrased by :mod:`reasons`.

The label is 1 for a customer with no purchase in the window after the snapshot. The boosting starts
from the log-odds of BG/NBD's or Pareto/NBD's P(no purchase in the window) (``base_model``), softly
bounded to +-``base_clip`` (``base_clip * tanh(z / base_clip)``: the order is kept, no ties): the trees learn where recency against the customer's own gaps, trend, returns, tier and
the rest correct the classic model. Unclipped, a base log-odds of +-13.8 (a probability of 1e-6 from
the end) is a head start that a few hundred small trees and a calibration cannot pull back.

Three decisions, three separate sets of labels, so that none is tuned on the noise of another:

- the base model ("auto") is chosen by log-loss on the *training* rows: the probabilistic models are
  fitted without labels, so their training log-loss is an honest estimate;
- early stopping uses the *validation* customers (held out of every training snapshot);
- the calibration is fitted on *cross-fitted* predictions of the training rows (``calibration_folds``
  boosters, each fitted without the fold's customers with the early-stopped number of rounds), so it
  sees thousands of labels instead of the few dozen churners of the validation set.

``estimator`` other than "lightgbm" makes the classifier the calibrated probabilistic baseline itself
(no trees): how the gate serves a baseline that the boosted model did not beat, behind the same class,
files and serving code. Saved as a LightGBM text model (when boosted) beside a JSON manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, cast

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit, logit

from engine.base import EngineModel
from engine.customers.calibration import CalibrationMethod, ProbabilityCalibrator
from engine.customers.features import P_NO_PURCHASE, PURCHASE_MODELS, FeatureSpec, feature_matrix, model_features
from engine.customers.metrics import log_loss
from engine.customers.reasons import phrase_reasons
from engine.errors import EngineError
from engine.gbm import LightGBMSettings

_KIND = "churn_lightgbm"
_FORMAT_VERSION = 2
_BOOSTER_FILE = "booster.txt"
_EDGE = 1e-6
BASE = "base_model"
BaseChoice = Literal["auto", "bgnbd", "pareto_nbd", "none"]
ChurnEstimator = Literal["lightgbm", "bgnbd", "pareto_nbd"]
ESTIMATORS: tuple[str, ...] = ("lightgbm", *PURCHASE_MODELS)


def _labels(y: Any, name: str) -> np.ndarray:
    values = np.asarray(y, dtype=float)
    if not np.isin(values, (0, 1)).all():
        raise EngineError(f"{name} must hold only 0 and 1")
    if values.min() == values.max():
        raise EngineError(f"{name} holds one class only ({int(values[0])}); a churn model needs churners and stayers")
    return values


def customer_folds(index: pd.Index, folds: int, seed: int) -> np.ndarray:
    """Fold 0..folds-1 of each row, the same for every row of a customer (a customer's snapshots
    never sit on both sides of a cross-fit), drawn reproducibly with ``seed``."""
    customers = np.sort(index.astype(str).unique())
    draw = np.random.default_rng(seed).permutation(len(customers)) % folds
    return pd.Series(draw, index=customers).reindex(index.astype(str)).to_numpy()


class ChurnClassifier(EngineModel, LightGBMSettings):
    """P(no purchase in the next ``spec.horizon_days``) from the features of :mod:`features`.

    ``fit(train, y, validation, y_validation)``: see the module docstring for which labels decide
    what. ``estimator`` "bgnbd" / "pareto_nbd" serves that model's calibrated probability instead.
    """

    kind = _KIND
    format_version = _FORMAT_VERSION
    fitted_attribute = "calibrator_"

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
        base_clip: float = 4.0,
        calibration: CalibrationMethod = "beta",
        calibration_folds: int = 3,
        estimator: ChurnEstimator = "lightgbm",
        seed: int = 0,
        n_jobs: int = 1,
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
        self.base_clip = base_clip
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.estimator = estimator
        self.seed = seed
        self.n_jobs = n_jobs

    def _params(self) -> dict[str, Any]:
        return self._lightgbm_params("binary")

    def _validate(self) -> None:
        if self.base_model not in ("auto", "none", *PURCHASE_MODELS):
            raise EngineError(f"base_model must be 'auto', 'none' or one of {list(PURCHASE_MODELS)}, got {self.base_model!r}")
        if self.estimator not in ESTIMATORS:
            raise EngineError(f"estimator must be one of {list(ESTIMATORS)}, got {self.estimator!r}")
        if not self.base_clip > 0:
            raise EngineError(f"base_clip must be > 0 (log-odds), got {self.base_clip}")
        if self.calibration_folds < 2:
            raise EngineError(f"calibration_folds must be >= 2, got {self.calibration_folds}")

    def fit(
        self, train: pd.DataFrame, y: Any, validation: pd.DataFrame, y_validation: Any
    ) -> ChurnClassifier:
        self._validate()
        names = model_features(train)
        x_train, x_valid = feature_matrix(train, names), feature_matrix(validation, names)
        y_train, y_valid = _labels(y, "y"), _labels(y_validation, "y_validation")
        self.feature_names_ = names
        self.spec_ = self.spec or FeatureSpec()
        if self.estimator != "lightgbm":
            self.base_: str | None = self.estimator
        elif self.base_model == "auto":
            losses = {name: log_loss(y_train, x_train[P_NO_PURCHASE.format(name)]) for name in PURCHASE_MODELS}
            self.base_ = min(losses, key=losses.__getitem__)
        else:
            self.base_ = None if self.base_model == "none" else self.base_model
        margin_train = self._margin(x_train)
        self.base_reference_ = float(margin_train.mean())
        if self.estimator != "lightgbm":
            # the baseline has no supervised part but the calibration: every labelled row calibrates it
            self.booster_, self.best_iteration_ = None, 0
            margin = np.r_[margin_train, self._margin(x_valid)]
            self.calibrator_ = ProbabilityCalibrator(self.calibration).fit(expit(margin), np.r_[y_train, y_valid])
            return self
        booster = lgb.train(
            self._params(),
            lgb.Dataset(x_train, y_train, init_score=margin_train, free_raw_data=False),
            num_boost_round=self.n_estimators,
            valid_sets=[lgb.Dataset(x_valid, y_valid, init_score=self._margin(x_valid))],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        self.booster_ = booster
        self.best_iteration_ = int(booster.best_iteration or self.n_estimators)
        out_of_fold = self._cross_fitted(x_train, y_train, margin_train)
        self.calibrator_ = ProbabilityCalibrator(self.calibration).fit(expit(out_of_fold), y_train)
        return self

    def _cross_fitted(self, x: pd.DataFrame, y: np.ndarray, margin: np.ndarray) -> np.ndarray:
        """Out-of-fold raw log-odds of every training row: boosters with the early-stopped number of
        rounds, each fitted without one fold of customers and scoring that fold."""
        folds = customer_folds(x.index, self.calibration_folds, self.seed)
        out = np.empty(len(x))
        for fold in range(self.calibration_folds):
            held = folds == fold
            if y[~held].min() == y[~held].max():
                raise EngineError(f"calibration fold {fold} leaves one class only to train on; use fewer calibration_folds")
            booster = lgb.train(
                self._params(),
                lgb.Dataset(x.loc[~held], y[~held], init_score=margin[~held]),
                num_boost_round=self.best_iteration_,
            )
            out[held] = booster.predict(x.loc[held], raw_score=True) + margin[held]
        return out

    def _margin(self, x: pd.DataFrame) -> np.ndarray:
        """The base model's churn log-odds (zeros without a base model); as the boosting's start they
        are bounded softly to +-``base_clip``, which keeps their order; a baseline estimator keeps them
        whole (its calibration alone maps them, so its ranking is the probabilistic model's)."""
        if self.base_ is None:
            return np.zeros(len(x))
        odds = logit(np.clip(x[P_NO_PURCHASE.format(self.base_)].to_numpy(), _EDGE, 1 - _EDGE))
        if self.estimator != "lightgbm":
            return odds
        return self.base_clip * np.tanh(odds / self.base_clip)

    def _log_odds(self, x: pd.DataFrame) -> np.ndarray:
        if self.booster_ is None:
            return self._margin(x)
        return self.booster_.predict(x, num_iteration=self.best_iteration_, raw_score=True) + self._margin(x)

    def raw_probability(self, features: pd.DataFrame) -> np.ndarray:
        """The boosted (uncalibrated) churn probability."""
        self.check_is_fitted()
        return expit(self._log_odds(feature_matrix(features, self.feature_names_)))

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of no purchase in the window, one per row of ``features``."""
        raw = self.raw_probability(features)
        return self.calibrator_.transform(raw)

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Each feature's contribution to each row's churn log-odds: LightGBM's exact SHAP values
        (``pred_contrib``) for the trees (zeros for a baseline estimator), and a ``base_model`` column
        for the probabilistic model's log-odds relative to its training mean; with ``bias`` they sum to
        the raw log-odds."""
        self.check_is_fitted()
        x = feature_matrix(features, self.feature_names_)
        if self.booster_ is None:
            values = np.zeros((len(x), len(self.feature_names_) + 1))
        else:
            values = cast(np.ndarray, self.booster_.predict(x, num_iteration=self.best_iteration_, pred_contrib=True))
        frame = pd.DataFrame(values, index=features.index, columns=[*self.feature_names_, "bias"])
        frame[BASE] = self._margin(x) - (self.base_reference_ if self.base_ else 0.0)
        frame["bias"] += self.base_reference_ if self.base_ else 0.0
        return frame

    def top_reasons(self, features: pd.DataFrame, k: int = 3, explain: np.ndarray | None = None) -> pd.Series:
        """Up to ``k`` reasons per customer in a marketer's words, each naming its direction, e.g.
        "raises risk: no purchase for 45 days, 3.0x their usual gap of 15 days" (see
        :func:`reasons.phrase_reasons`); "" when no reason is large and intuitive enough, except on
        rows where ``explain`` is true (those above low risk), which say why none is."""
        return phrase_reasons(self.contributions(features).drop(columns="bias"), features, k, explain=explain)

    def feature_importance(self) -> pd.Series:
        """Total gain of each feature's splits, largest first."""
        self.check_is_fitted()
        if self.booster_ is None:
            return pd.Series(0.0, index=self.feature_names_, name="gain")
        gain = self.booster_.feature_importance("gain", iteration=self.best_iteration_)
        return pd.Series(gain, index=self.feature_names_, name="gain").sort_values(ascending=False)

    def save(self, directory: str | Path, data_fingerprint: str | None = None, extra: dict[str, Any] | None = None) -> Path:
        """Write the LightGBM text model and the manifest (with the feature spec and calibrator)."""
        self.check_is_fitted()
        params = {name: value for name, value in self.get_params().items() if name != "spec"}  # spec: below
        directory = Path(directory)
        self._write_manifest(
            directory, params, data_fingerprint,
            {"spec": self.spec_.model_dump(mode="json"), "feature_names": self.feature_names_,
             "best_iteration": self.best_iteration_, "base": self.base_, "base_reference": self.base_reference_,
             "calibrator": self.calibrator_.to_dict(), **(extra or {})},
        )
        if self.booster_ is not None:
            self.booster_.save_model(str(directory / _BOOSTER_FILE), num_iteration=self.best_iteration_)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ChurnClassifier:
        manifest = cls._read_manifest(directory)
        spec = FeatureSpec.model_validate(manifest["spec"])
        model = cls(spec=spec, **manifest["params"])
        model.spec_ = spec
        booster = Path(directory) / _BOOSTER_FILE
        model.booster_ = lgb.Booster(model_file=str(booster)) if model.estimator == "lightgbm" else None
        model.feature_names_ = list(manifest["feature_names"])
        model.best_iteration_ = int(manifest["best_iteration"])
        model.base_ = manifest["base"]
        model.base_reference_ = float(manifest["base_reference"])
        model.calibrator_ = ProbabilityCalibrator.from_dict(manifest["calibrator"])
        return model
