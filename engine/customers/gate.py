"""The baseline gate: a churn or CLV model is served only when it beats the best of its baselines on
the test window by a margin in paired-bootstrap standard errors; otherwise the best servable baseline
is, with the reason. Small samples and degenerate fits (a constant prediction, empty reasons) are
named in its warnings. :func:`gated_models` runs the same gates for ``crm churn-list --refit``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.clv import ClvModel
from engine.customers.config import ChurnConfig, ClvConfig
from engine.customers.evaluation import churn_rows, clv_rows
from engine.customers.features import CHURNED, PURCHASE_MODELS, SPEND
from engine.customers.fitting import fit_churn, fit_clv, fit_models, prepare
from engine.customers.scoring import CHURN_PROBABILITY, EXPECTED_CLV, RISK_BAND, TOP_REASONS, RiskBands
from engine.customers.windows import LabelledSnapshots
from engine.data.dataset import ShopData
from engine.errors import EngineError

FALLBACK = "bgnbd"  # served when no window before the as-of date is left to gate on
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


@dataclass(frozen=True)
class GatedModels:
    """Churn and CLV models to score as of a date, each the estimator its baseline gate chose on the
    last window before that date; ``warnings`` name what the user should know (small samples,
    degenerate fits, a gate that could not run)."""

    churn: ChurnClassifier
    clv: ClvModel
    churn_gate: BaselineGate | None
    clv_gate: BaselineGate | None
    warnings: tuple[str, ...]


def _held_out(shop: ShopData, config: ChurnConfig | ClvConfig, as_of: pd.Timestamp, label: str) -> tuple[LabelledSnapshots | None, str]:
    """The labelled snapshots with the test window ``[as_of - horizon, as_of)``, or None and a warning
    naming why none fits."""
    start = (as_of - pd.Timedelta(days=config.features.horizon_days)).date()
    try:
        return prepare(shop, config.features, config.windows.model_copy(update={"as_of": start}), config.seed), ""
    except EngineError as error:
        return None, f"no {label} gate: no held-out window fits before {as_of.date()} ({error}); serving {FALLBACK}"


def gate_before(
    shop: ShopData, churn_config: ChurnConfig, clv_config: ClvConfig, as_of: pd.Timestamp
) -> tuple[BaselineGate | None, BaselineGate | None, list[str]]:
    """The churn and CLV baseline gates of ``crm train churn|clv`` with the test window ``[as_of -
    horizon, as_of)``: only lines before ``as_of`` are used. Without room for that window, no gate
    (None) and a warning; the probabilistic baseline is then served."""
    churn_gate = clv_gate = None
    data, warning = _held_out(shop, churn_config, as_of, "churn")
    if data is not None:
        model = fit_churn(data, churn_config)
        churn_gate = churn_baseline_gate(data, model, churn_rows(data.test, model), churn_config.baseline_margin_se,
                                         churn_config.risk_bands)
    warnings = [warning] if warning else list(churn_gate.warnings if churn_gate else ())
    data, warning = _held_out(shop, clv_config, as_of, "CLV")
    if data is not None:
        clv = fit_clv(data, clv_config)
        clv_gate = clv_baseline_gate(data, clv, clv_rows(data.test, clv, data.plan.horizon_days), clv_config.baseline_margin_se)
    warnings += [warning] if warning else list(clv_gate.warnings if clv_gate else ())
    return churn_gate, clv_gate, warnings


def gated_models(shop: ShopData, churn_config: ChurnConfig, clv_config: ClvConfig, as_of: pd.Timestamp) -> GatedModels:
    """What ``crm train churn|clv`` would serve as of ``as_of``, without MLflow: each model's baseline
    gate on the last window before ``as_of`` (:func:`gate_before`), then the served estimators fitted
    on the lines before ``as_of``; the served churn model's degenerate outputs are warned about too."""
    churn_gate, clv_gate, warnings = gate_before(shop, churn_config, clv_config, as_of)
    churn_estimator = churn_gate.served if churn_gate else FALLBACK
    clv_estimator = clv_gate.served if clv_gate else FALLBACK
    churn, clv = fit_models(shop, churn_config, clv_config, as_of, churn_estimator, clv_estimator)  # type: ignore[arg-type]
    return GatedModels(churn, clv, churn_gate, clv_gate, tuple(warnings))


def scoring_warnings(scores: pd.DataFrame) -> list[str]:
    """Degenerate outputs of a scored customer table, each named: one churn probability or one CLV for
    everyone, and high-risk customers most of whom get no reason."""
    warnings = []
    for column, what in ((CHURN_PROBABILITY, "churn probability"), (EXPECTED_CLV, "expected CLV")):
        values = scores[column].to_numpy(dtype=float)
        if len(values) > 1 and np.ptp(values) < 1e-9:
            warnings.append(f"degenerate fit: every customer gets the same {what} ({values[0]:.4g})")
    high = scores.loc[scores[RISK_BAND] == "high", TOP_REASONS]
    empty = int((high == "").sum())
    if len(high) and empty > len(high) / 2:
        warnings.append(f"empty reasons: {empty:,} of the {len(high):,} high-risk customers get no reason")
    return warnings
