"""Customer lifetime value: expected discounted revenue over a horizon.

Two estimators of a customer's spend in the window after a snapshot:

- probabilistic: BG/NBD or Pareto/NBD expected purchases x Gamma-Gamma expected spend per purchase
  (the ``*_window_spend`` features);
- LightGBM with a Tweedie objective (a point mass at zero plus a skewed positive part, as customer
  spend is) on the same as-of features.

:class:`ClvModel` fits the LightGBM model and picks, on the validation customers, whichever of the
three ranks spend best (normalized Gini). LightGBM learns from earlier snapshots, when customers were
younger and bought more (CDNOW's cohort spends a third less in 1998 than in its first half-year), so
its level drifts; its predictions are therefore reconciled to the total of the best probabilistic
model over the snapshot, which is refitted as of each date and extrapolates that ageing: LightGBM
ranks, the probabilistic model sets the level. The lifetime value over ``months`` with a monthly
discount rate is the window spend times that probabilistic model's time profile (its discounted
horizon value over its window value): how a customer's buying fades and is discounted month by month.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, cast

import lightgbm as lgb
import numpy as np
import pandas as pd

from engine.base import EngineModel
from engine.customers.btyd_base import PurchaseCountModel
from engine.customers.btyd_data import DAYS_PER_MONTH, in_units
from engine.customers.features import (
    EXPECTED_SPEND,
    PURCHASE_MODELS,
    WINDOW_SPEND,
    FeatureSpec,
    Snapshot,
    feature_matrix,
    model_features,
)
from engine.customers.metrics import normalized_gini
from engine.errors import EngineError
from engine.gbm import LightGBMSettings

ClvChoice = Literal["lightgbm", "bgnbd", "pareto_nbd"]
ClvEstimator = Literal["auto", "lightgbm", "bgnbd", "pareto_nbd"]
_CONSTANT = 1e-9  # relative spread under which a prediction counts as constant
_KIND = "clv"
_FORMAT_VERSION = 1
_BOOSTER_FILE = "booster.txt"


def discounted_clv(
    purchases: PurchaseCountModel,
    summary: pd.DataFrame,
    spend_per_purchase: np.ndarray,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
) -> np.ndarray:
    """Sum over months m = 1..``months`` of expected purchases in month m x spend per purchase /
    (1 + rate)^m: expected revenue discounted at the end of each month."""
    if months < 1:
        raise EngineError(f"months must be >= 1, got {months}")
    if not 0 <= monthly_discount_rate < 1:
        raise EngineError(f"monthly_discount_rate must be in [0, 1), got {monthly_discount_rate}")
    month = in_units(DAYS_PER_MONTH, purchases.time_unit)
    cumulative = np.column_stack(
        [np.zeros(len(summary))] + [purchases.expected_purchases(summary, m * month) for m in range(1, months + 1)]
    )
    discount = (1 + monthly_discount_rate) ** -np.arange(1, months + 1)
    return np.diff(cumulative, axis=1) @ discount * np.asarray(spend_per_purchase)


class ClvModel(EngineModel, LightGBMSettings):
    """Expected spend in the window after a snapshot, and discounted CLV over ``months``."""

    kind = _KIND
    format_version = _FORMAT_VERSION
    fitted_attribute = "booster_"

    def __init__(
        self,
        spec: FeatureSpec | None = None,
        months: int = 12,
        monthly_discount_rate: float = 0.01,
        n_estimators: int = 600,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 40,
        feature_fraction: float = 0.8,
        bagging_fraction: float = 0.8,
        reg_lambda: float = 1.0,
        tweedie_variance_power: float = 1.5,
        early_stopping_rounds: int = 50,
        estimator: ClvEstimator = "auto",
        seed: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.spec = spec
        self.months = months
        self.monthly_discount_rate = monthly_discount_rate
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.reg_lambda = reg_lambda
        self.tweedie_variance_power = tweedie_variance_power
        self.early_stopping_rounds = early_stopping_rounds
        self.estimator = estimator
        self.seed = seed
        self.n_jobs = n_jobs

    def _params(self) -> dict[str, Any]:
        return self._lightgbm_params("tweedie", tweedie_variance_power=self.tweedie_variance_power)

    def fit(self, train: pd.DataFrame, spend: Any, validation: pd.DataFrame, validation_spend: Any) -> ClvModel:
        """Fit LightGBM on ``train`` (target: window spend, negatives clipped to 0) with early stopping
        on ``validation``, then choose the estimator with the best validation Gini ("auto"; a LightGBM
        that predicts one constant spend is never chosen and is named in ``warnings_``) or take the one
        given as ``estimator`` (how the gate serves a probabilistic baseline)."""
        if self.estimator not in ("auto", "lightgbm", *PURCHASE_MODELS):
            raise EngineError(f"estimator must be 'auto', 'lightgbm' or one of {list(PURCHASE_MODELS)}, got {self.estimator!r}")
        names = model_features(train)
        target = np.clip(np.asarray(spend, dtype=float), 0, None)
        valid_target = np.clip(np.asarray(validation_spend, dtype=float), 0, None)
        if target.sum() <= 0 or valid_target.sum() <= 0:
            raise EngineError("CLV needs some spend in both the training and the validation windows")
        booster = lgb.train(
            self._params(),
            lgb.Dataset(feature_matrix(train, names), target, free_raw_data=False),
            num_boost_round=self.n_estimators,
            valid_sets=[lgb.Dataset(feature_matrix(validation, names), valid_target)],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        self.booster_ = booster
        self.feature_names_ = names
        self.spec_ = self.spec or FeatureSpec()
        self.best_iteration_ = int(booster.best_iteration or self.n_estimators)
        self.validation_gini_ = {
            name: normalized_gini(valid_target, self._window_spend(validation, name))
            for name in ("lightgbm", *PURCHASE_MODELS)
        }
        self.warnings_: list[str] = []
        candidates = dict(self.validation_gini_)
        predicted = self._window_spend(validation, "lightgbm")
        if np.ptp(predicted) <= _CONSTANT * max(float(np.abs(predicted).max()), 1.0):
            candidates.pop("lightgbm")
            self.warnings_.append(
                f"degenerate fit: the CLV LightGBM predicts one constant spend ({predicted[0]:.4g}) for every validation "
                f"customer ({len(train):,} training rows, {int((target > 0).sum()):,} with spend, "
                f"{self.best_iteration_} rounds); it is not chosen"
            )
        chosen = max(candidates, key=candidates.__getitem__) if self.estimator == "auto" else self.estimator
        self.choice_: ClvChoice = chosen  # type: ignore[assignment]
        self.profile_model_ = max(PURCHASE_MODELS, key=lambda name: self.validation_gini_[name])
        return self

    def _window_spend(self, features: pd.DataFrame, name: str) -> np.ndarray:
        if name == "lightgbm":
            return cast(np.ndarray, self.booster_.predict(feature_matrix(features, self.feature_names_), num_iteration=self.best_iteration_))
        return feature_matrix(features, [WINDOW_SPEND.format(name)]).to_numpy()[:, 0]

    def window_spend(self, features: pd.DataFrame, estimator: ClvChoice | None = None) -> np.ndarray:
        """Expected spend in the ``spec.horizon_days`` after the snapshot, by the chosen estimator (or
        the one named). LightGBM's are scaled to the probabilistic total over the rows given: pass
        every customer of a snapshot, then select."""
        self.check_is_fitted()
        name = estimator or self.choice_
        spend = self._window_spend(features, name)
        if name == "lightgbm":
            total = self._window_spend(features, self.profile_model_).sum()
            spend = spend * (total / spend.sum() if spend.sum() > 0 else 1.0)
        return spend

    def lifetime_value(self, snapshot: Snapshot) -> np.ndarray:
        """Discounted expected revenue over ``months`` for every customer of ``snapshot``."""
        self.check_is_fitted()
        purchases = snapshot.models[self.profile_model_]
        if not isinstance(purchases, PurchaseCountModel):
            raise EngineError(f"snapshot model {self.profile_model_!r} is not a purchase-count model")
        features = snapshot.features
        spend = features[EXPECTED_SPEND].to_numpy()
        horizon = discounted_clv(purchases, snapshot.summary, spend, self.months, self.monthly_discount_rate)
        window = features[WINDOW_SPEND.format(self.profile_model_)].to_numpy()
        profile = np.divide(horizon, window, out=np.full(len(window), np.nan), where=window > 0)
        # customers whose window value underflows to 0 have no profile; their CLV is 0 as well
        return np.nan_to_num(self.window_spend(features) * profile, nan=0.0)

    def save(self, directory: str | Path, data_fingerprint: str | None = None, extra: dict[str, Any] | None = None) -> Path:
        self.check_is_fitted()
        params = {name: value for name, value in self.get_params().items() if name != "spec"}  # spec: below
        directory = Path(directory)
        self._write_manifest(
            directory, params, data_fingerprint,
            {"spec": self.spec_.model_dump(mode="json"), "feature_names": self.feature_names_,
             "best_iteration": self.best_iteration_, "choice": self.choice_, "profile_model": self.profile_model_,
             "validation_gini": self.validation_gini_, "warnings": self.warnings_, **(extra or {})},
        )
        self.booster_.save_model(str(directory / _BOOSTER_FILE), num_iteration=self.best_iteration_)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ClvModel:
        manifest = cls._read_manifest(directory)
        spec = FeatureSpec.model_validate(manifest["spec"])
        model = cls(spec=spec, **manifest["params"])
        model.spec_ = spec
        model.booster_ = lgb.Booster(model_file=str(Path(directory) / _BOOSTER_FILE))
        model.feature_names_ = list(manifest["feature_names"])
        model.best_iteration_ = int(manifest["best_iteration"])
        model.choice_ = manifest["choice"]
        model.profile_model_ = manifest["profile_model"]
        model.validation_gini_ = dict(manifest["validation_gini"])
        model.warnings_ = list(manifest.get("warnings", []))
        return model

