"""Customer-value pipelines: churn risk and lifetime value, evaluated out of time.

data -> labelled snapshots (train windows, held-out validation customers, test window) -> LightGBM
churn classifier / CLV model -> metrics of the model and the baselines on the test window -> MLflow
(params, metrics, plots, registered ``crm-churn`` / ``crm-clv``, champion gate on the test AUC /
normalized Gini).

``prepare``, ``fit_churn`` and ``fit_clv`` do the work without MLflow (the notebook, the benchmark and
``crm churn-list`` call them); ``train_churn`` / ``train_clv`` wrap them in tracked runs;
``bench_customers`` writes the benchmark contract.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from engine.customers.aftersales import AfterSales
from engine.customers.calibration import CalibrationMethod
from engine.customers.churn_gbm import BaseChoice, ChurnClassifier, ChurnEstimator
from engine.customers.clv import ClvEstimator, ClvModel
from engine.customers.evaluation import (
    CHURN_BASELINES,
    CLV_BASELINES,
    band_report,
    churn_rows,
    churn_scores,
    clv_predictions,
    clv_rows,
)
from engine.customers.features import CHURNED, PURCHASE_MODELS, SPEND, FeatureSpec
from engine.customers.metrics import decile_calibration, normalized_gini, roc_auc
from engine.customers.scoring import RiskBands, score_customers
from engine.customers.view import default_as_of
from engine.customers.windows import LabelledSnapshots, WindowPlan, labelled_snapshots, training_rows
from engine.data.dataset import ShopData
from engine.errors import EngineError, ModelFormatError
from engine.io import MANIFEST

CHURN_MODEL, CLV_MODEL = "crm-churn", "crm-clv"
CHURN_EXPERIMENT, CLV_EXPERIMENT = "churn", "clv"
CHURN_METRIC, CLV_METRIC = "test_auc", "test_normalized_gini"


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


@dataclass(frozen=True)
class Protocol:
    """A benchmark protocol: where the test window starts and how long it lasts."""

    name: str
    as_of: date | None
    horizon_days: int
    description: str
    cuts: int = 3
    cut_step_days: int = 28


PROTOCOLS = {
    "cdnow": Protocol(
        "cdnow-26-weeks", date(1998, 1, 1), 181,
        "features from purchases up to 1997-12-31; outcome = any purchase / spend from 1998-01-01 to the end "
        "of the data, 1998-06-30 (the 26-week holdout of the literature); two more cuts 28 and 56 days earlier",
    ),
    "completejourney": Protocol(
        "completejourney-13-weeks", None, 91,
        "the last 13 weeks (91 days) of the data as outcome window; two more cuts 28 and 56 days earlier",
    ),
}


def protocol_for(source: str, config: ChurnConfig) -> Protocol:
    """The benchmark protocol of a source (by its kind), else the config's own windows."""
    kind = source.partition(":")[0]
    if kind in PROTOCOLS:
        return PROTOCOLS[kind]
    return Protocol("config", config.windows.as_of, config.features.horizon_days,
                    "windows and horizon from the config; cuts step_days apart", cut_step_days=config.windows.step_days)


def with_protocol(config: Any, protocol: Protocol) -> Any:
    """``config`` (churn or CLV) with the protocol's test as-of and horizon."""
    return config.model_copy(
        update={
            "features": config.features.model_copy(update={"horizon_days": protocol.horizon_days}),
            "windows": config.windows.model_copy(update={"as_of": protocol.as_of}),
        }
    )


# --- fitting without MLflow -----------------------------------------------------------------------


def prepare(shop: ShopData, features: FeatureSpec, windows: WindowSettings, seed: int) -> LabelledSnapshots:
    """Plan the windows on the shop and build every labelled snapshot."""
    plan = WindowPlan.for_data(
        shop.transactions, features.horizon_days, windows.as_of, windows.train_windows, windows.step_days
    )
    return labelled_snapshots(shop.transactions, plan, features, shop.products, windows.validation_fraction, seed,
                              AfterSales.of(shop))


@dataclass(frozen=True)
class TrainingRows:
    """The training and validation rows of a plan with no test window: what a model to serve as of
    ``plan.test_as_of`` is fitted on (every outcome ends by that date)."""

    plan: WindowPlan
    train: pd.DataFrame
    validation: pd.DataFrame


def prepare_to_serve(
    shop: ShopData, features: FeatureSpec, windows: WindowSettings, seed: int, as_of: str | pd.Timestamp | None = None
) -> TrainingRows:
    """The rows of a model that scores as of ``as_of`` (default: the day after the last line), built
    from the lines before it only, with the same windows a test window at ``as_of`` would have."""
    moment = pd.Timestamp(as_of) if as_of is not None else default_as_of(shop.transactions)
    plan = WindowPlan.ending_at(shop.transactions, features.horizon_days, moment, windows.train_windows, windows.step_days)
    train, validation = training_rows(
        shop.transactions, plan, features, shop.products, windows.validation_fraction, seed, AfterSales.of(shop)
    )
    return TrainingRows(plan, train, validation)


def churn_model(config: ChurnConfig, estimator: ChurnEstimator = "lightgbm") -> ChurnClassifier:
    """An unfitted churn classifier with ``config``'s features, settings and seed."""
    return ChurnClassifier(spec=config.features, seed=config.seed, estimator=estimator, **config.model.model_dump())


def clv_model(config: ClvConfig, estimator: ClvEstimator = "auto") -> ClvModel:
    """An unfitted CLV model with ``config``'s features, settings and seed."""
    return ClvModel(spec=config.features, months=config.months, monthly_discount_rate=config.monthly_discount_rate,
                    seed=config.seed, estimator=estimator, **config.model.model_dump())


def fit_churn(
    data: LabelledSnapshots | TrainingRows, config: ChurnConfig, estimator: ChurnEstimator = "lightgbm"
) -> ChurnClassifier:
    return churn_model(config, estimator).fit(data.train, data.train[CHURNED], data.validation, data.validation[CHURNED])


def fit_clv(data: LabelledSnapshots | TrainingRows, config: ClvConfig, estimator: ClvEstimator = "auto") -> ClvModel:
    return clv_model(config, estimator).fit(data.train, data.train[SPEND], data.validation, data.validation[SPEND])


# --- the baseline gate --------------------------------------------------------------------------------

SMALL_SAMPLE = 30  # fewer churners / stayers / buyers than this in a set that decides something is warned about


@dataclass(frozen=True)
class BaselineGate:
    """What the baseline gate serves: the model, or the best baseline it did not beat on the test
    window by ``margin_se`` paired-bootstrap standard errors; ``warnings`` name small samples and
    degenerate fits seen on the way."""

    served: str
    model_metric: float
    best_baseline: str
    baseline_metric: float
    gap_in_se: float
    reason: str
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "warnings": list(self.warnings)}


def _gate(rows: list[dict[str, Any]], model: str, metric: str, margin_se: float, fallback: str, what: str) -> tuple[str, str]:
    """The estimator to serve and why: ``model`` when its row beats its best baseline by ``margin_se``
    SEs, else ``fallback`` (the best baseline that yields what is served)."""
    row = next(r for r in rows if r["model"] == model)
    best = row["best_baseline"]
    baseline = next(r for r in rows if r["model"] == best)
    versus = (f"{model} {what} {row[metric]:.4f} vs {best} {baseline[metric]:.4f}: gap {row['gap']:+.4f} = "
              f"{row['gap_in_se']:+.1f} SE (required {margin_se:g})")
    if row["gap"] > 0 and row["gap_in_se"] >= margin_se:
        return model, f"{versus}; serving {model}"
    note = "" if fallback == best else f" ({best} yields no servable {what}; {fallback} is the best that does)"
    return fallback, f"{versus}; serving the baseline {fallback}{note}"


def churn_baseline_gate(
    data: LabelledSnapshots, model: ChurnClassifier, rows: list[dict[str, Any]], margin_se: float, bands: RiskBands
) -> BaselineGate:
    """Serve LightGBM only if its test AUC beats the best of recency / BG/NBD / Pareto/NBD by
    ``margin_se`` SEs; else the better-scoring probabilistic model (recency is a ranking without a
    probability, so it is never served itself)."""
    by_name = {row["model"]: row for row in rows}
    fallback = max(PURCHASE_MODELS, key=lambda name: by_name[name]["auc"])
    served, reason = _gate(rows, "lightgbm", "auc", margin_se, fallback, "AUC")
    row = by_name["lightgbm"]
    best = row["best_baseline"]
    return BaselineGate(served, row["auc"], best, by_name[best]["auc"], row["gap_in_se"], reason,
                        tuple(churn_warnings(data, model, bands)))


def churn_warnings(data: LabelledSnapshots, model: ChurnClassifier, bands: RiskBands) -> list[str]:
    """Small samples (churners or stayers in the validation or test set), a constant prediction, and
    high-risk customers left without reasons, each named."""
    warnings = []
    for name, frame in (("validation", data.validation), ("test", data.test)):
        churners = int(frame[CHURNED].sum())
        for label, count in (("churners", churners), ("stayers", len(frame) - churners)):
            if count < SMALL_SAMPLE:
                warnings.append(f"small sample: {count} {label} among the {len(frame):,} {name} customers; its figures are noisy")
    probability = model.predict_proba(data.test)
    if np.ptp(probability) < 1e-9:
        warnings.append(f"degenerate fit: the churn model gives every test customer the same probability ({probability[0]:.4f})")
    high = data.test.loc[bands.assign(probability) == "high"]
    if len(high):
        empty = int((model.top_reasons(high) == "").sum())
        if empty > len(high) / 2:
            warnings.append(f"empty reasons: {empty:,} of the {len(high):,} high-risk test customers get no reason")
    return warnings


def clv_baseline_gate(data: LabelledSnapshots, model: ClvModel, rows: list[dict[str, Any]], margin_se: float) -> BaselineGate:
    """Serve a validation-chosen LightGBM only if its test Gini beats the best of BG/NBD, Pareto/NBD
    and the historical rate by ``margin_se`` SEs; else the better probabilistic model (the historical
    rate has no time profile for a lifetime value). A probabilistic choice is served as chosen."""
    by_name = {row["model"]: row for row in rows}
    chosen = by_name[model.choice_]
    warnings = list(model.warnings_)
    buyers = int((data.test[SPEND] > 0).sum())
    if buyers < SMALL_SAMPLE:
        warnings.append(f"small sample: {buyers} of the {len(data.test):,} test customers spent anything; the Gini is noisy")
    if model.choice_ == "lightgbm":
        fallback = max(PURCHASE_MODELS, key=lambda name: by_name[name]["normalized_gini"])
        served, reason = _gate(rows, "lightgbm", "normalized_gini", margin_se, fallback, "normalized Gini")
    else:
        served, reason = model.choice_, f"validation chose {model.choice_} (Gini {model.validation_gini_[model.choice_]:.4f}); serving it"
    best = chosen["best_baseline"]
    return BaselineGate(served, chosen["normalized_gini"], best, by_name[best]["normalized_gini"], chosen["gap_in_se"],
                        reason, tuple(warnings))


def served_as_of(data: LabelledSnapshots) -> pd.Timestamp:
    """Where the model to serve stands after a run evaluated on ``data``: the end of its test window
    (the day after the last line unless the config moved the window earlier)."""
    return data.plan.test_as_of + pd.Timedelta(days=data.plan.horizon_days)


def serving_manifest(shop: ShopData, evaluated: LabelledSnapshots, served: TrainingRows) -> dict[str, Any]:
    """What a served churn/CLV model records beside its parameters: its data, the as-of it scores from
    (lines strictly before it were used) and the test window of the evidence it was promoted on."""
    return {
        "data_source": shop.source,
        "as_of": str(served.plan.test_as_of.date()),
        "train_as_of": [str(moment.date()) for moment in served.plan.train_as_of],
        "evaluated_as_of": str(evaluated.plan.test_as_of.date()),
    }


def _windows_summary(data: LabelledSnapshots) -> dict[str, Any]:
    plan = data.plan
    return {
        "test_as_of": str(plan.test_as_of.date()),
        "horizon_days": plan.horizon_days,
        "train_as_of": [str(moment.date()) for moment in plan.train_as_of],
        "rows": {"train": len(data.train), "validation": len(data.validation), "test": len(data.test)},
        "churn_rate": {
            "train": float(data.train[CHURNED].mean()),
            "validation": float(data.validation[CHURNED].mean()),
            "test": float(data.test[CHURNED].mean()),
        },
    }


def anchors(data: LabelledSnapshots) -> dict[str, Any]:
    """Fitted parameters and log-likelihoods of the probabilistic models as of the test date."""
    return {
        name: {"params": model.params_, "log_likelihood": model.log_likelihood_, "customers": model.n_customers_,
               "time_unit": getattr(model, "time_unit", None), "as_of": str(data.plan.test_as_of.date())}
        for name, model in data.test_snapshot.models.items()
    }


def _same_spec(champion: ChurnClassifier | ClvModel, data: LabelledSnapshots) -> None:
    if champion.spec_ != data.test_snapshot.spec:
        raise ModelFormatError(
            f"the champion scores a {champion.spec_.horizon_days}-day window in {champion.spec_.time_unit} "
            f"(features {champion.spec_.model_dump()}), this run {data.test_snapshot.spec.model_dump()}"
        )


def _comparable_champion(kind: type[ChurnClassifier] | type[ClvModel], folder: Path, data: LabelledSnapshots) -> Any:
    """The champion in ``folder``, ready to be scored on ``data``'s test window without look-ahead: as
    saved when it was fitted before that window, else its configuration refitted on this run's training
    rows (a served model fitted on data up to today has seen the window's outcomes, and would win any
    comparison on it)."""
    champion = kind.load(folder)
    _same_spec(champion, data)
    manifest = json.loads((folder / MANIFEST).read_text())
    seen_until = manifest.get("as_of")
    if seen_until is None or pd.Timestamp(seen_until) <= data.plan.test_as_of:
        return champion
    label = CHURNED if kind is ChurnClassifier else SPEND
    return kind(spec=champion.spec_, **manifest["params"]).fit(data.train, data.train[label], data.validation, data.validation[label])


def churn_rescorer(data: LabelledSnapshots) -> Callable[[Path], float]:
    """For the gate: a churn champion's AUC on this run's test window (refitted first when it has seen
    that window, see :func:`_comparable_champion`)."""

    def rescore(folder: Path) -> float:
        champion = _comparable_champion(ChurnClassifier, folder, data)
        return roc_auc(data.test[CHURNED], champion.predict_proba(data.test))

    return rescore


def clv_rescorer(data: LabelledSnapshots) -> Callable[[Path], float]:
    """For the gate: a CLV champion's normalized Gini (its chosen estimator) on this run's test window
    (refitted first when it has seen that window)."""

    def rescore(folder: Path) -> float:
        champion = _comparable_champion(ClvModel, folder, data)
        return normalized_gini(data.test[SPEND].clip(lower=0), champion.window_spend(data.test))

    return rescore


def _metric_rows(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {
        f"test.{row['model']}.{key}": value
        for row in rows
        for key, value in row.items()
        if isinstance(value, float)
    }


# --- MLflow pipelines -------------------------------------------------------------------------------


def _log_gate(gate: BaselineGate) -> None:
    """The baseline gate's decision in the active MLflow run: tags, the gap metric, and each warning
    printed too."""
    from training import tracking
    from training.console import console

    tracking.set_tags({"served_estimator": gate.served, "baseline_gate": gate.reason[:5000],
                     "warnings": " | ".join(gate.warnings)[:5000] or "none"})
    tracking.log_metrics({"baseline_gap_in_se": gate.gap_in_se})
    for warning in gate.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]")


def train_churn(shop: ShopData, config: ChurnConfig, out: Path) -> dict[str, Any]:
    """Fit, evaluate against the baselines, gate against the best baseline (serving it when LightGBM
    does not beat it significantly), log (metrics, band calibration, gain/lift and calibration plots),
    refit the served estimator up to the data's end, save, register ``crm-churn`` and gate it on the
    test AUC against the champion (re-scored on this run's test window)."""
    from engine.customers.plots import band_reliability_chart, calibration_chart, gain_chart
    from training import tracking
    from training.publish import publish

    with tracking.tracked_run(CHURN_EXPERIMENT, config, shop, config.seed):
        data = prepare(shop, config.features, config.windows, config.seed)
        model = fit_churn(data, config)
        rows = churn_rows(data.test, model)
        gate = churn_baseline_gate(data, model, rows, config.baseline_margin_se, config.risk_bands)
        _log_gate(gate)
        evidence = model if gate.served == "lightgbm" else fit_churn(data, config, gate.served)  # type: ignore[arg-type]
        test_auc = next(row["auc"] for row in rows if row["model"] == gate.served)
        validation_auc = roc_auc(data.validation[CHURNED], evidence.predict_proba(data.validation))
        y = data.test[CHURNED].to_numpy()
        served_probability = evidence.predict_proba(data.test)
        bands = band_report(y, served_probability, config.risk_bands)
        tracking.log_metrics(_metric_rows(rows))
        tracking.log_metrics({CHURN_METRIC: test_auc, "validation_auc": validation_auc, "best_iteration": model.best_iteration_,
                              "test_ece": bands["ece"], **{f"test_band.{b['band']}.{k}": b[k] for b in bands["bands"]
                                                          for k in ("mean_predicted", "realised_rate")}})
        tracking.set_tags({"base_model": str(model.base_), "test_as_of": str(data.plan.test_as_of.date())})
        scores = churn_scores(data.test, model)
        tracking.log_figure(gain_chart(y, scores), "churn_gain_lift")
        probabilities = {name: score for name, score in scores.items() if name != "recency"}
        tracking.log_figure(calibration_chart(y, probabilities), "churn_calibration")
        tracking.log_figure(band_reliability_chart(bands["bands"], f"Calibration by risk band ({gate.served})"), "churn_band_reliability")
        out.mkdir(parents=True, exist_ok=True)
        decile_calibration(y, served_probability).to_csv(out / "calibration_deciles.csv")
        pd.DataFrame(bands["bands"]).to_csv(out / "calibration_bands.csv", index=False)
        model.feature_importance().to_csv(out / "feature_importance.csv")
        for name in ("calibration_deciles.csv", "calibration_bands.csv", "feature_importance.csv"):
            tracking.log_artifact(out / name, "tables")
        served_rows = prepare_to_serve(shop, config.features, config.windows, config.seed, served_as_of(data))
        served = fit_churn(served_rows, config, gate.served)  # type: ignore[arg-type]
        model_dir = served.save(out / "model", shop.fingerprint(),
                                extra={**serving_manifest(shop, data, served_rows), "baseline_gate": gate.as_dict()})
        version, decision = publish(model_dir, CHURN_MODEL, CHURN_METRIC, test_auc,
                                    min_improvement=config.min_improvement, rescore=churn_rescorer(data))
    summary = {
        "windows": _windows_summary(data),
        "served_model": serving_manifest(shop, data, served_rows),
        "base_model": model.base_,
        "churn": rows,
        "baseline_gate": gate.as_dict(),
        "calibration": bands,
        "validation_auc": validation_auc,
        "registered_version": version,
        "gate": decision.as_dict(),
    }
    tracking.write_json(out / "summary.json", summary)
    return summary


def train_clv(shop: ShopData, config: ClvConfig, out: Path) -> dict[str, Any]:
    """Fit, evaluate against the baselines, gate a chosen LightGBM against the best baseline, log
    (metrics, CLV decile chart), refit the served estimator up to the data's end, save, register
    ``crm-clv`` and gate it on the test normalized Gini against the champion (re-scored here)."""
    from engine.customers.plots import clv_decile_chart
    from training import tracking
    from training.publish import publish

    with tracking.tracked_run(CLV_EXPERIMENT, config, shop, config.seed):
        data = prepare(shop, config.features, config.windows, config.seed)
        model = fit_clv(data, config)
        rows = clv_rows(data.test, model, data.plan.horizon_days)
        gate = clv_baseline_gate(data, model, rows, config.baseline_margin_se)
        _log_gate(gate)
        test_gini = next(row["normalized_gini"] for row in rows if row["model"] == gate.served)
        tracking.log_metrics(_metric_rows(rows))
        tracking.log_metrics({CLV_METRIC: test_gini, **{f"validation_gini.{k}": v for k, v in model.validation_gini_.items()}})
        tracking.set_tags({"chosen_estimator": model.choice_, "profile_model": model.profile_model_})
        actual = data.test[SPEND].clip(lower=0).to_numpy()
        predicted = clv_predictions(data.test, model, data.plan.horizon_days)
        for name in dict.fromkeys([model.choice_, gate.served, model.profile_model_]):
            tracking.log_figure(clv_decile_chart(actual, predicted[name], f"Spend in the test window by decile: {name}"), f"clv_deciles_{name}")
        served_rows = prepare_to_serve(shop, config.features, config.windows, config.seed, served_as_of(data))
        served = fit_clv(served_rows, config, gate.served)  # type: ignore[arg-type]
        model_dir = served.save(out / "model", shop.fingerprint(),
                                extra={**serving_manifest(shop, data, served_rows), "baseline_gate": gate.as_dict()})
        version, decision = publish(model_dir, CLV_MODEL, CLV_METRIC, test_gini,
                                    min_improvement=config.min_improvement, rescore=clv_rescorer(data))
    summary = {
        "windows": _windows_summary(data),
        "served_model": serving_manifest(shop, data, served_rows),
        "chosen": model.choice_,
        "validation_gini": model.validation_gini_,
        "clv": rows,
        "baseline_gate": gate.as_dict(),
        "registered_version": version,
        "gate": decision.as_dict(),
    }
    tracking.write_json(out / "summary.json", summary)
    return summary


# --- benchmark -------------------------------------------------------------------------------------


def cut_dates(shop: ShopData, protocol: Protocol) -> list[date | None]:
    """The test as-of of each out-of-time cut: the protocol's (None = the last horizon of the data),
    then every ``cut_step_days`` earlier."""
    first = WindowPlan.for_data(shop.transactions, protocol.horizon_days, protocol.as_of).test_as_of
    return [protocol.as_of] + [(first - pd.Timedelta(days=k * protocol.cut_step_days)).date() for k in range(1, protocol.cuts)]


def _bench_cut(shop: ShopData, churn_config: ChurnConfig, clv_config: ClvConfig) -> tuple[dict[str, Any], Any, Any]:
    """One cut: churn and CLV rows with their best baselines, both baseline gates, the served churn
    estimator's band calibration; and the labels with the served probabilities (for pooling bands)."""
    data = prepare(shop, churn_config.features, churn_config.windows, churn_config.seed)
    churn = fit_churn(data, churn_config)
    clv = fit_clv(data, clv_config)
    churn_table = churn_rows(data.test, churn)
    clv_table = clv_rows(data.test, clv, data.plan.horizon_days)
    churn_gate = churn_baseline_gate(data, churn, churn_table, churn_config.baseline_margin_se, churn_config.risk_bands)
    clv_gate = clv_baseline_gate(data, clv, clv_table, clv_config.baseline_margin_se)
    y = data.test[CHURNED].to_numpy()
    scores = churn_scores(data.test, churn)
    served = scores["lightgbm"] if churn_gate.served == "lightgbm" else fit_churn(data, churn_config, churn_gate.served).predict_proba(data.test)  # type: ignore[arg-type]
    result = {
        "cut": str(data.plan.test_as_of.date()),
        "windows": _windows_summary(data),
        "results": churn_table,
        "clv": clv_table,
        "churn_gate": churn_gate.as_dict(),
        "clv_gate": clv_gate.as_dict(),
        "calibration": {"lightgbm": band_report(y, scores["lightgbm"], churn_config.risk_bands),
                        "served": band_report(y, served, churn_config.risk_bands)},
        "chosen": {"churn_base_model": churn.base_, "clv": clv.choice_, "clv_validation_gini": clv.validation_gini_},
    }
    return result, (y, scores["lightgbm"], served), (data, churn, clv)


def across_cuts(cuts: list[dict[str, Any]], key: str, metric: str) -> list[dict[str, Any]]:
    """Per model: the metric's mean over cuts and its standard error (sd / sqrt(cuts)); the gap to the
    baseline best on average, its mean, the SE of the mean gap (the larger of the spread across cuts
    and the per-cut bootstrap SEs combined) and the mean gap in those SEs."""
    names = [row["model"] for row in cuts[0][key]]
    values = {name: np.array([next(r[metric] for r in cut[key] if r["model"] == name) for cut in cuts]) for name in names}
    baselines = [name for name in names if name in (CHURN_BASELINES if key == "results" else CLV_BASELINES)]
    n = len(cuts)
    summary = []
    for name in names:
        best = max((b for b in baselines if b != name), key=lambda b: values[b].mean())
        gaps = values[name] - values[best]
        per_cut = [paired_se(cut[key], name, best, metric) for cut in cuts]
        spread = float(gaps.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        se = max(spread, float(np.sqrt(np.sum(np.square(per_cut))) / n))
        summary.append({"model": name, f"mean_{metric}": float(values[name].mean()),
                        f"se_{metric}": float(values[name].std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
                        "best_baseline": best, "mean_gap": float(gaps.mean()), "gap_se": se,
                        "gap_in_se": float(gaps.mean() / se) if se > 0 else 0.0})
    return summary


def paired_se(rows: list[dict[str, Any]], name: str, baseline: str, metric: str) -> float:
    """The paired-bootstrap SE of ``name``'s gap to ``baseline`` on one cut (the row's own when that
    baseline is its best on the cut, else the larger of the two rows' SEs as a stand-in)."""
    row = next(r for r in rows if r["model"] == name)
    if row["best_baseline"] == baseline:
        return row["gap_se"]
    other = next(r for r in rows if r["model"] == baseline)
    return max(row["gap_se"], other["gap_se"])


def bench_customers(shop: ShopData, churn_config: ChurnConfig, clv_config: ClvConfig) -> dict[str, Any]:
    """The benchmark contract: churn and CLV rows (model and baselines, each with its best baseline
    and the gap in SEs) on each of the protocol's out-of-time cuts, their mean and SE across cuts, the
    baseline gates, band calibration per cut and pooled, the probabilistic models' anchors at the
    first cut, and the time to score every customer as of the data's end."""
    protocol = protocol_for(shop.source, churn_config)
    churn_config, clv_config = with_protocol(churn_config, protocol), with_protocol(clv_config, protocol)
    spec = churn_config.features
    if clv_config.features != spec:
        clv_config = clv_config.model_copy(update={"features": spec})
    cuts, pooled, first = [], [], None
    for moment in cut_dates(shop, protocol):
        windows = churn_config.windows.model_copy(update={"as_of": moment})
        cut, labels, fitted = _bench_cut(shop, churn_config.model_copy(update={"windows": windows}),
                                         clv_config.model_copy(update={"windows": windows}))
        cuts.append(cut)
        pooled.append(labels)
        first = first or fitted
    data, churn, clv = first
    y, lightgbm, served = (np.concatenate(parts) for parts in zip(*pooled))
    started = time.perf_counter()
    scores = score_customers(shop.transactions, churn, clv, products=shop.products, bands=churn_config.risk_bands,
                             aftersales=AfterSales.of(shop))
    scoring_seconds = time.perf_counter() - started
    return {
        "dataset": shop.source,
        "protocol": {"name": protocol.name, "description": protocol.description, **_windows_summary(data)},
        "churn": cuts[0]["results"],
        "clv": cuts[0]["clv"],
        "cuts": cuts,
        "across_cuts": {"churn": across_cuts(cuts, "results", "auc"), "clv": across_cuts(cuts, "clv", "normalized_gini")},
        "calibration_pooled": {"lightgbm": band_report(y, lightgbm, churn_config.risk_bands),
                               "served": band_report(y, served, churn_config.risk_bands)},
        "anchors": anchors(data),
        "chosen": cuts[0]["chosen"],
        "scoring": {"customers": len(scores), "seconds": scoring_seconds},
    }


# --- models for scoring ------------------------------------------------------------------------------


def check_not_after(
    manifest: dict[str, Any], model_name: str, as_of: pd.Timestamp, data_end: pd.Timestamp, remedy: str
) -> None:
    """Refuse a saved model that was fitted on lines from ``as_of`` on: scoring with it as of ``as_of``
    would look ahead. A model saved before as-of dates were recorded counts as fitted on all the lines
    before ``data_end`` (the day after the data's last line)."""
    seen_until = pd.Timestamp(manifest["as_of"]) if manifest.get("as_of") else data_end
    if seen_until > as_of:
        raise EngineError(
            f"{model_name} was fitted on the lines before {seen_until.date()}, after the as-of date {as_of.date()}: "
            f"scoring with it would look ahead; {remedy}"
        )


def champion_models(
    source: str, as_of: pd.Timestamp | None = None, data_end: pd.Timestamp | None = None
) -> tuple[ChurnClassifier, ClvModel] | None:
    """The ``crm-churn`` and ``crm-clv`` champions from the configured MLflow store, if both exist and
    were trained on ``source``; else None. With ``as_of``, champions fitted on lines from that date on
    are refused with an :class:`EngineError` (see :func:`check_not_after`; ``data_end`` defaults to
    ``as_of``)."""
    from training import tracking

    if tracking.champion_version(CHURN_MODEL) is None or tracking.champion_version(CLV_MODEL) is None:
        return None
    folders = {name: tracking.download_champion(name) for name in (CHURN_MODEL, CLV_MODEL)}
    manifests = {name: json.loads((folder / MANIFEST).read_text()) for name, folder in folders.items()}
    if {manifest.get("data_source") for manifest in manifests.values()} != {source}:
        return None
    if as_of is not None:
        data_end = as_of if data_end is None else data_end
        for name, manifest in manifests.items():
            check_not_after(manifest, name, as_of, data_end, "pass --refit to fit the models on the lines before the as-of date")
    return ChurnClassifier.load(folders[CHURN_MODEL]), ClvModel.load(folders[CLV_MODEL])


def fit_models(
    shop: ShopData, churn_config: ChurnConfig, clv_config: ClvConfig, as_of: str | pd.Timestamp | None = None
) -> tuple[ChurnClassifier, ClvModel]:
    """Fit both models (without MLflow) to score as of ``as_of`` (default: the day after the last
    line), on the lines before it only."""
    rows = prepare_to_serve(shop, churn_config.features, churn_config.windows, churn_config.seed, as_of)
    churn = fit_churn(rows, churn_config)
    same = (clv_config.features, clv_config.windows, clv_config.seed) == (churn_config.features, churn_config.windows, churn_config.seed)
    clv_training = rows if same else prepare_to_serve(shop, clv_config.features, clv_config.windows, clv_config.seed, as_of)
    return churn, fit_clv(clv_training, clv_config)
