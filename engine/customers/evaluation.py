"""Out-of-time evaluation of churn and CLV models against the baselines, on the test snapshot.

Rows follow the benchmark contract: one per model or baseline with the churn metrics (auc, pr_auc,
log_loss, top_decile_lift) or the CLV metrics (normalized_gini, mae, spearman, decile_mape,
predicted_total, actual_total), and beside them the best baseline other than the row itself (by AUC /
normalized Gini on the same window), the gap to it and that gap in paired-bootstrap standard errors.
Baselines: recency alone and the probabilistic models for churn; the probabilistic models and the
customer's historical spending rate for CLV.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pandas as pd

from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.clv import ClvChoice, ClvModel
from engine.customers.features import CHURNED, P_NO_PURCHASE, PURCHASE_MODELS, SPEND
from engine.customers.metrics import (
    band_calibration,
    evaluate_churn,
    evaluate_clv,
    expected_calibration_error,
    normalized_gini,
    paired_bootstrap_se,
    roc_auc,
)
from engine.customers.scoring import RiskBands

CHURN_BASELINES = ("recency", *PURCHASE_MODELS)
CLV_BASELINES = (*PURCHASE_MODELS, "historical_rate")


def churn_scores(test: pd.DataFrame, churn: ChurnClassifier) -> dict[str, np.ndarray]:
    """Churn score of every test customer by the model and each baseline (higher = riskier)."""
    scores = {"lightgbm": churn.predict_proba(test)}
    scores.update({name: test[P_NO_PURCHASE.format(name)].to_numpy() for name in PURCHASE_MODELS})
    scores["recency"] = test["recency_days"].to_numpy()
    return scores


def churn_rows(
    test: pd.DataFrame, churn: ChurnClassifier, candidates: dict[str, np.ndarray] | None = None
) -> list[dict[str, Any]]:
    """Churn metrics of the model, the baselines and any other ``candidates`` (name -> churn
    probability of each test row, e.g. the gap hazard); recency is a score, not a probability, so its
    log_loss is None."""
    y = test[CHURNED].to_numpy()
    scores = {**churn_scores(test, churn), **(candidates or {})}
    gaps = versus_best_baseline(roc_auc, y, scores, CHURN_BASELINES)
    return [
        {"model": name, **evaluate_churn(y, score, is_probability=name != "recency"), **gaps[name]}
        for name, score in scores.items()
    ]


def versus_best_baseline(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    baselines: tuple[str, ...],
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """For each score: the best of ``baselines`` other than itself by ``metric``, the gap to it, the
    paired-bootstrap standard error of that gap and the gap in standard errors (positive = better)."""
    values = {name: metric(y, score) for name, score in scores.items()}
    result = {}
    for name, score in scores.items():
        best = max((b for b in baselines if b != name and b in scores), key=values.__getitem__)
        gap = values[name] - values[best]
        se = paired_bootstrap_se(metric, y, score, scores[best], seed=seed)
        result[name] = {"best_baseline": best, "gap": gap, "gap_se": se, "gap_in_se": gap / se if se > 0 else 0.0}
    return result


def band_report(y: np.ndarray, probability: np.ndarray, bands: RiskBands) -> dict[str, Any]:
    """ECE and the per-band reliability table (low, medium, high; a high band under
    ``bands.min_customers`` merged into medium, as served) of churn probabilities, with whether the bands' realised
    rates rise with the band."""
    table = band_calibration(y, probability, bands.assign_population(probability)).reindex(["low", "medium", "high"]).dropna(how="all")
    rates = table["realised_rate"].to_numpy()
    return {
        "ece": expected_calibration_error(y, probability),
        "monotone": bool(np.all(np.diff(rates) > 0)),
        "bands": [{"band": band, **{k: (bool(v) if k == "within_ci" else float(v)) for k, v in row.items()}}
                  for band, row in table.iterrows()],
    }


def clv_predictions(test: pd.DataFrame, clv: ClvModel, horizon_days: int) -> dict[str, np.ndarray]:
    """Predicted spend in the test window by each estimator and the historical-rate baseline (net
    spend so far per day of tenure, times the window)."""
    predictions = {name: clv.window_spend(test, cast(ClvChoice, name)) for name in ("lightgbm", *PURCHASE_MODELS)}
    rate = test["monetary"].clip(lower=0) / test["tenure_days"].clip(lower=1)
    predictions["historical_rate"] = (rate * horizon_days).to_numpy()
    return predictions


def clv_rows(test: pd.DataFrame, clv: ClvModel, horizon_days: int) -> list[dict[str, Any]]:
    """CLV metrics against the actual spend of the window (negative net spend counted as 0); the row
    of the estimator chosen on validation has ``chosen: true``."""
    actual = test[SPEND].clip(lower=0).to_numpy()
    predictions = clv_predictions(test, clv, horizon_days)
    gaps = versus_best_baseline(normalized_gini, actual, predictions, CLV_BASELINES)
    return [
        {"model": name, **evaluate_clv(actual, predicted), "chosen": name == clv.choice_, **gaps[name]}
        for name, predicted in predictions.items()
    ]
