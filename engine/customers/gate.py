"""The baseline gate: a churn or CLV model is served only when it beats the best of its baselines on
the test window by a margin in paired-bootstrap standard errors; otherwise the best servable baseline
is, with the reason. Small samples and degenerate fits (a constant prediction, empty reasons) are
named in its warnings. :func:`gated_models` runs the same gates for ``crm churn-list --refit``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.clv import ClvModel
from engine.customers.config import ChurnConfig, ClvConfig
from engine.customers.evaluation import churn_rows, clv_rows
from engine.customers.features import CHURNED, PURCHASE_MODELS, SPEND
from engine.customers.fitting import fit_churn, fit_clv, fit_models, prepare
from engine.customers.metrics import log_loss, wilson_interval
from engine.customers.scoring import CHURN_PROBABILITY, EXPECTED_CLV, RISK_BAND, TOP_REASONS, RiskBands
from engine.customers.windows import LabelledSnapshots, WindowPlan
from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.errors import EngineError

Config = TypeVar("Config", ChurnConfig, ClvConfig)
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


def _gate(
    rows: list[dict[str, Any]], model: str, metric: str, margin_se: float, fallback: str, what: str, why: str = ""
) -> tuple[str, str]:
    """The estimator to serve and why: ``model`` when its row beats its best baseline by ``margin_se``
    SEs, else ``fallback``: the best baseline that yields what is served, or the one ``why`` names
    the reason for."""
    row = next(r for r in rows if r["model"] == model)
    best = row["best_baseline"]
    baseline = next(r for r in rows if r["model"] == best)
    versus = (f"{model} {what} {row[metric]:.4f} vs {best} {baseline[metric]:.4f}: gap {row['gap']:+.4f} = "
              f"{row['gap_in_se']:+.1f} SE (required {margin_se:g})")
    if row["gap"] > 0 and row["gap_in_se"] >= margin_se:
        return model, f"{versus}; serving {model}"
    note = f" ({why})" if why else "" if fallback == best else f" ({best} yields no servable {what}; {fallback} is the best that does)"
    return fallback, f"{versus}; serving the baseline {fallback}{note}"


def churn_baseline_gate(
    data: LabelledSnapshots, model: ChurnClassifier, rows: list[dict[str, Any]], margin_se: float, bands: RiskBands
) -> BaselineGate:
    """Serve LightGBM only if its test AUC beats the best of recency / BG/NBD / Pareto/NBD by
    ``margin_se`` SEs; else the probabilistic model whose calibrated probability has the lower
    log-loss on the test window (recency is a ranking without a probability, so it is never served
    itself; the two models rank about alike, and what is served is a probability)."""
    by_name = {row["model"]: row for row in rows}
    y = data.test[CHURNED].to_numpy()
    losses = {name: log_loss(y, baseline(data, model, name).predict_proba(data.test)) for name in PURCHASE_MODELS}
    fallback = min(losses, key=losses.__getitem__)
    ranked = " vs ".join(f"{name} {loss:.4f}" for name, loss in sorted(losses.items(), key=lambda item: item[1]))
    served, reason = _gate(rows, "lightgbm", "auc", margin_se, fallback, "AUC",
                           f"the lower held-out log-loss of the calibrated probabilistic models: {ranked}")
    row = by_name["lightgbm"]
    best = row["best_baseline"]
    return BaselineGate(served, row["auc"], best, by_name[best]["auc"], row["gap_in_se"], reason,
                        tuple(churn_warnings(data, model, bands)))


def baseline(data: LabelledSnapshots, model: ChurnClassifier, name: str) -> ChurnClassifier:
    """The calibrated probabilistic baseline ``name`` with ``model``'s settings, fitted on ``data``."""
    return ChurnClassifier(**{**model.get_params(), "estimator": name}).fit(
        data.train, data.train[CHURNED], data.validation, data.validation[CHURNED])


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
    high = data.test.loc[bands.assign_population(probability) == "high"]
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


@dataclass(frozen=True)
class GatedModels:
    """Churn and CLV models to score as of a date, each the estimator its baseline gate chose on the
    last window before that date; ``warnings`` name what the user should know (small samples,
    degenerate fits, a shortened gate window, calibration drift)."""

    churn: ChurnClassifier
    clv: ClvModel
    churn_gate: BaselineGate
    clv_gate: BaselineGate
    warnings: tuple[str, ...]


def gate_horizon(transactions: pd.DataFrame, config: ChurnConfig | ClvConfig, as_of: pd.Timestamp) -> int:
    """The outcome window of the gate before ``as_of``: the config's horizon when its test window
    ``[as_of - horizon, as_of)`` and a training snapshot before that fit after the data's start, else
    the longest shorter one down to half the horizon (early in a shop's life: Complete Journey starts
    on 2017-01-01, so a 90-day gate needs an as-of after mid-July). Without room even for that, an
    error naming the history missing: the models to serve would not fit either, and a choice made
    without a held-out window is not a gate."""
    horizon, windows = config.features.horizon_days, config.windows
    for days in range(horizon, max(1, horizon // 2) - 1, -1):
        try:
            WindowPlan.for_data(transactions, days, as_of - pd.Timedelta(days=days), windows.train_windows, windows.step_days)
        except EngineError:
            continue
        return days
    first = transactions[Columns.timestamp].min().normalize()
    needed = 2 * max(1, horizon // 2) + windows.step_days + 1
    raise EngineError(
        f"no held-out window fits before {as_of.date()}: a gate on at least a {max(1, horizon // 2)}-day window needs "
        f"{needed} days of history before the as-of date, and the data starts {first.date()} "
        f"({(as_of - first).days} days); use a later --as-of, or a shorter features.horizon_days"
    )


def _held_out(shop: ShopData, config: Config, as_of: pd.Timestamp) -> tuple[LabelledSnapshots, Config, str]:
    """The labelled snapshots with the test window ``[as_of - h, as_of)`` (``h``: :func:`gate_horizon`),
    the config they were built with, and a note when ``h`` is shorter than the config's horizon."""
    days = gate_horizon(shop.transactions, config, as_of)
    start = (as_of - pd.Timedelta(days=days)).date()
    gated = config.model_copy(update={"features": config.features.model_copy(update={"horizon_days": days}),
                                      "windows": config.windows.model_copy(update={"as_of": start})})
    note = ("" if days == config.features.horizon_days else
            f"gated on the {days}-day window from {start}: the {config.features.horizon_days}-day one does not fit "
            f"after the data's start; the served model keeps the {config.features.horizon_days}-day horizon")
    return prepare(shop, gated.features, gated.windows, gated.seed), gated, note


def gate_before(
    shop: ShopData, churn_config: ChurnConfig, clv_config: ClvConfig, as_of: pd.Timestamp
) -> tuple[BaselineGate, BaselineGate, list[str]]:
    """The churn and CLV baseline gates of ``crm train churn|clv`` with the test window ``[as_of -
    h, as_of)`` (``h`` the config's horizon, or the longest that fits: :func:`gate_horizon`): only
    lines before ``as_of`` are used. The warnings name small samples, degenerate fits, a shortened
    gate window and how far the served churn estimator's mean probability was from the realised rate
    on that window (the drift its calibration could not see)."""
    data, gated, note = _held_out(shop, churn_config, as_of)
    model = fit_churn(data, gated)
    churn_gate = churn_baseline_gate(data, model, churn_rows(data.test, model), gated.baseline_margin_se, gated.risk_bands)
    served = served_churn(data, model, churn_gate)
    warnings = [note] if note else []
    warnings += [*churn_gate.warnings, *drift_warnings(data, served)]
    data, gated_clv, note = _held_out(shop, clv_config, as_of)
    clv = fit_clv(data, gated_clv)
    clv_gate = clv_baseline_gate(data, clv, clv_rows(data.test, clv, data.plan.horizon_days), gated_clv.baseline_margin_se)
    warnings += ([note] if note and note not in warnings else []) + list(clv_gate.warnings)
    return churn_gate, clv_gate, warnings


def served_churn(data: LabelledSnapshots, model: ChurnClassifier, gate: BaselineGate) -> ChurnClassifier:
    """The churn estimator ``gate`` serves, fitted on ``data``: ``model`` itself, or the baseline."""
    return model if gate.served == "lightgbm" else baseline(data, model, gate.served)


def drift_warnings(data: LabelledSnapshots, served: ChurnClassifier) -> list[str]:
    """A warning when the served churn estimator's mean probability on the held-out test window lies
    outside the 95% interval of the realised churn rate: the rate moved between the windows the
    calibration saw and the next one, by about as much as the band rates served may be off."""
    y = data.test[CHURNED].to_numpy()
    churners = np.array([y.sum()])
    low, high = wilson_interval(churners, np.array([len(y)]))
    predicted = float(served.predict_proba(data.test).mean())
    if low[0] <= predicted <= high[0]:
        return []
    return [f"calibration drift: on the held-out window from {data.plan.test_as_of.date()} the served {served.estimator} "
            f"predicted {predicted:.3f} mean churn against {y.mean():.3f} realised (95% interval {low[0]:.3f}-{high[0]:.3f}), "
            f"as the churn rate moved from {data.train[CHURNED].mean():.3f} in its training windows; served band rates "
            f"may be off by about {abs(predicted - y.mean()):.2f}"]


def gated_models(shop: ShopData, churn_config: ChurnConfig, clv_config: ClvConfig, as_of: pd.Timestamp) -> GatedModels:
    """What ``crm train churn|clv`` would serve as of ``as_of``, without MLflow: each model's baseline
    gate on the last window before ``as_of`` (:func:`gate_before`), then the served estimators fitted
    on the lines before ``as_of``; the served churn model's degenerate outputs are warned about too."""
    churn_gate, clv_gate, warnings = gate_before(shop, churn_config, clv_config, as_of)
    churn, clv = fit_models(shop, churn_config, clv_config, as_of, churn_gate.served, clv_gate.served)  # type: ignore[arg-type]
    return GatedModels(churn, clv, churn_gate, clv_gate, tuple(warnings))


def scoring_warnings(scores: pd.DataFrame, bands: RiskBands | None = None) -> list[str]:
    """Degenerate outputs of a scored customer table, each named: one churn probability or one CLV for
    everyone, and high-risk customers most of whom get no reason; with ``bands``, a band too small to
    list that was merged into the one below."""
    warnings = bands.merged(scores) if bands is not None else []
    for column, what in ((CHURN_PROBABILITY, "churn probability"), (EXPECTED_CLV, "expected CLV")):
        values = scores[column].to_numpy(dtype=float)
        if len(values) > 1 and np.ptp(values) < 1e-9:
            warnings.append(f"degenerate fit: every customer gets the same {what} ({values[0]:.4g})")
    high = scores.loc[scores[RISK_BAND] == "high", TOP_REASONS]
    empty = int((high == "").sum())
    if len(high) and empty > len(high) / 2:
        warnings.append(f"empty reasons: {empty:,} of the {len(high):,} high-risk customers get no reason")
    return warnings
