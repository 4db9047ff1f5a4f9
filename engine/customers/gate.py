"""The baseline gate: a churn or CLV model is served only when it beats the best of its baselines on
the test window by a margin in paired-bootstrap standard errors; otherwise the best servable baseline
is, with the reason. Small samples and degenerate fits (a constant prediction, empty reasons) are
named in its warnings."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.clv import ClvModel
from engine.customers.features import CHURNED, PURCHASE_MODELS, SPEND
from engine.customers.scoring import RiskBands
from engine.customers.windows import LabelledSnapshots

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
