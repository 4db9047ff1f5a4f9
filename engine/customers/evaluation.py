"""Out-of-time evaluation of churn and CLV models against the baselines, on the test snapshot.

Rows follow the benchmark contract: one per model or baseline with the churn metrics (auc, pr_auc,
log_loss, top_decile_lift) or the CLV metrics (normalized_gini, mae, spearman, decile_mape,
predicted_total, actual_total). Baselines: recency alone and the probabilistic models for churn; the
probabilistic models and the customer's historical spending rate for CLV.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.clv import ClvModel
from engine.customers.features import CHURNED, P_NO_PURCHASE, PURCHASE_MODELS, SPEND
from engine.customers.metrics import evaluate_churn, evaluate_clv


def churn_scores(test: pd.DataFrame, churn: ChurnClassifier) -> dict[str, np.ndarray]:
    """Churn score of every test customer by the model and each baseline (higher = riskier)."""
    scores = {"lightgbm": churn.predict_proba(test)}
    scores.update({name: test[P_NO_PURCHASE.format(name)].to_numpy() for name in PURCHASE_MODELS})
    scores["recency"] = test["recency_days"].to_numpy()
    return scores


def churn_rows(test: pd.DataFrame, churn: ChurnClassifier) -> list[dict[str, Any]]:
    """Churn metrics of the model and the baselines; recency is a score, not a probability, so its
    log_loss is None."""
    y = test[CHURNED].to_numpy()
    return [
        {"model": name, **evaluate_churn(y, score, is_probability=name != "recency")}
        for name, score in churn_scores(test, churn).items()
    ]


def clv_predictions(test: pd.DataFrame, clv: ClvModel, horizon_days: int) -> dict[str, np.ndarray]:
    """Predicted spend in the test window by each estimator and the historical-rate baseline (net
    spend so far per day of tenure, times the window)."""
    predictions = {name: clv.window_spend(test, name) for name in ("lightgbm", *PURCHASE_MODELS)}
    rate = test["monetary"].clip(lower=0) / test["tenure_days"].clip(lower=1)
    predictions["historical_rate"] = (rate * horizon_days).to_numpy()
    return predictions


def clv_rows(test: pd.DataFrame, clv: ClvModel, horizon_days: int) -> list[dict[str, Any]]:
    """CLV metrics against the actual spend of the window (negative net spend counted as 0); the row
    of the estimator chosen on validation has ``chosen: true``."""
    actual = test[SPEND].clip(lower=0).to_numpy()
    return [
        {"model": name, **evaluate_clv(actual, predicted), "chosen": name == clv.choice_}
        for name, predicted in clv_predictions(test, clv, horizon_days).items()
    ]
