"""Typed settings of the churn and CLV pipelines (``configs/churn.yaml``, ``configs/clv.yaml``): the
features, the out-of-time windows, LightGBM, calibration, risk bands and the gates' margins."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from engine.customers.calibration import CalibrationMethod
from engine.customers.churn_gbm import BaseChoice
from engine.customers.features import FeatureSpec
from engine.customers.scoring import RiskBands


class WindowSettings(BaseModel):
    """Where the out-of-time windows stand (see :mod:`engine.customers.windows`)."""

    model_config = ConfigDict(extra="forbid")
    as_of: date | None = Field(None, description="start of the test window; default: the last horizon of the data")
    train_windows: int = Field(3, ge=1, description="training snapshots, one every step_days before the test window's horizon")
    step_days: int = Field(28, ge=1)
    validation_fraction: float = Field(0.25, gt=0, lt=1, description="customers held out for early stopping, calibration and choice")


class GBMSettings(BaseModel):
    """LightGBM settings shared by the churn and CLV models."""

    model_config = ConfigDict(extra="forbid")
    n_estimators: int = Field(600, ge=1, description="maximum boosting rounds (early stopping on validation)")
    learning_rate: float = Field(0.03, gt=0)
    num_leaves: int = Field(15, ge=2)
    min_child_samples: int = Field(40, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    early_stopping_rounds: int = Field(50, ge=1)
    n_jobs: int = Field(1, ge=1, description="LightGBM threads; one is fastest on customer tables of thousands of rows, and OpenMP threads spin badly on a busy machine")


class ChurnSettings(GBMSettings):
    base_model: BaseChoice = Field("auto", description="probabilistic model the boosting starts from (auto: lower training log-loss)")
    base_clip: float = Field(4.0, gt=0, description="the boosting starts from the base log-odds bounded softly to +-base_clip (base_clip tanh(z / base_clip))")
    calibration: CalibrationMethod = Field("beta", description="beta (default) | platt | isotonic; fitted on cross-fitted training predictions")
    calibration_folds: int = Field(3, ge=2, description="cross-fitted boosters whose out-of-fold predictions calibrate")


class ClvSettings(GBMSettings):
    tweedie_variance_power: float = Field(1.5, gt=1, lt=2)


class ChurnConfig(BaseModel):
    """``configs/churn.yaml``."""

    model_config = ConfigDict(extra="forbid")
    default_file: ClassVar[str] = "churn.yaml"
    seed: int = 0
    features: FeatureSpec = Field(default_factory=FeatureSpec, description="horizon_days = the churn window N")
    windows: WindowSettings = Field(default_factory=WindowSettings)
    model: ChurnSettings = Field(default_factory=ChurnSettings)
    risk_bands: RiskBands = Field(default_factory=RiskBands)
    min_improvement: float = Field(0.0, ge=0, description="the gate: required gain in test AUC over the champion")
    baseline_margin_se: float = Field(
        2.0, ge=0, description="the gate: LightGBM is served only if its test AUC beats the best baseline's by this many standard errors"
    )


class ClvConfig(BaseModel):
    """``configs/clv.yaml``."""

    model_config = ConfigDict(extra="forbid")
    default_file: ClassVar[str] = "clv.yaml"
    seed: int = 0
    features: FeatureSpec = Field(default_factory=FeatureSpec, description="horizon_days = the window the models predict")
    windows: WindowSettings = Field(default_factory=WindowSettings)
    model: ClvSettings = Field(default_factory=ClvSettings)
    months: int = Field(12, ge=1, description="CLV horizon")
    monthly_discount_rate: float = Field(0.01, ge=0, lt=1)
    min_improvement: float = Field(0.0, ge=0, description="the gate: required gain in test normalized Gini")
    baseline_margin_se: float = Field(
        2.0, ge=0, description="the gate: a chosen LightGBM is served only if its test Gini beats the best baseline's by this many standard errors"
    )
