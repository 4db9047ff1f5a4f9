"""Monitoring of the churn and CLV champions: feature and prediction drift since their latest training
snapshot, and their realised performance once the horizon has passed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.customers.features import CHURNED, SPEND, window_outcomes
from engine.customers.metrics import normalized_gini
from engine.errors import EngineError
from engine.monitoring import realised
from engine.monitoring.drift import drift_table, psi_numeric
from engine.monitoring.plots import distribution_chart, drift_chart
from engine.monitoring.thresholds import MonitorConfig, above, below, drift_breaches
from training.monitor.sections import Champion, Section, SnapshotCache


def monitor_customer_model(champion: Champion, now: pd.Timestamp, cache: SnapshotCache, config: MonitorConfig) -> Section:
    """Feature and prediction drift of a churn or CLV champion between its latest training snapshot and
    now; for churn, the realised AUC / log-loss / calibration of its predictions made at its as-of once
    the horizon has passed; for CLV, the realised normalized Gini of its window spend."""
    from engine.customers.churn_gbm import ChurnClassifier
    from engine.customers.clv import ClvModel

    is_churn = champion.name == "crm-churn"
    model = ChurnClassifier.load(champion.folder) if is_churn else ClvModel.load(champion.folder)
    predict = model.predict_proba if is_churn else model.window_spend
    section = Section(champion.name, champion.version, "ok")
    train_as_of = champion.manifest.get("train_as_of") or []
    if not train_as_of:
        raise EngineError(f"{champion.name} v{champion.version}: its manifest records no train_as_of; retrain it with this engine")
    reference_at = pd.Timestamp(train_as_of[0])
    reference, current = cache.get(reference_at, model.spec_), cache.get(now, model.spec_)
    drift = config.drift
    section.drift = drift_table(reference.features, current.features, drift.bins, drift.epsilon, model.feature_names_)
    prediction = "churn_probability" if is_churn else "window_spend"
    before, after = predict(reference.features), predict(current.features)
    section.prediction_drift = pd.DataFrame([{"feature": prediction, "kind": "numeric", "psi": psi_numeric(before, after, drift.bins, drift.epsilon),
                                              "reference_rows": len(before), "current_rows": len(after),
                                              "reference_mean": float(np.mean(before)), "current_mean": float(np.mean(after))}])
    section.breaches += drift_breaches(champion.name, section.drift, drift)
    section.breaches += drift_breaches(champion.name, section.prediction_drift, drift, "prediction_drift")
    section.details = {"reference_as_of": str(reference_at.date()), "current_as_of": str(now.date()),
                       "features_moving": section.drift.loc[section.drift["psi"] > drift.feature_psi_warn, "feature"].tolist()}
    section.figures[f"{champion.name}_feature_psi"] = drift_chart(section.drift, drift.feature_psi_warn, drift.feature_psi,
                                                                   f"{champion.name} v{champion.version}: feature drift")
    section.figures[f"{champion.name}_prediction"] = distribution_chart(before, after, f"{champion.name}: {prediction}", drift.bins)
    section.details["realised"] = _customer_outcomes(champion, model, now, cache, config, section, is_churn)
    return section


def _customer_outcomes(champion: Champion, model: Any, now: pd.Timestamp, cache: SnapshotCache, config: MonitorConfig,
                       section: Section, is_churn: bool) -> dict[str, Any]:
    """The champion's predictions made at its as-of against what happened in the horizon after it."""
    as_of = pd.Timestamp(champion.manifest.get("as_of") or champion.trained_until)
    horizon = model.spec_.horizon_days
    observable = as_of + pd.Timedelta(days=horizon)
    if observable > now:
        return {"status": "pending", "predicted_at": str(as_of.date()), "observable_from": str(observable.date()),
                "reason": f"the {horizon}-day horizon after {as_of.date()} ends after the data ({now.date()})"}
    snapshot = cache.get(as_of, model.spec_)
    outcomes = window_outcomes(cache.shop.transactions, as_of, horizon, snapshot.features.index)
    result: dict[str, Any] = {"status": "observed", "predicted_at": str(as_of.date()), "horizon_days": horizon}
    if is_churn:
        result.update(realised.churn_realised(outcomes[CHURNED].to_numpy(), model.predict_proba(snapshot.features)))
        thresholds = config.churn
        if result["customers"] >= thresholds.min_customers:
            section.breaches += below(champion.name, "performance", "realised_auc", result["auc"], thresholds.min_auc)
            if champion.metric_value is not None and champion.metric == "test_auc":
                result["recorded_auc"] = champion.metric_value
                section.breaches += below(champion.name, "performance", "realised_auc_vs_recorded", result["auc"],
                                          champion.metric_value - thresholds.max_auc_drop)
            section.breaches += above(champion.name, "performance", "realised_ece", result["ece"], thresholds.max_ece)
    else:
        spend = outcomes[SPEND].clip(lower=0).to_numpy()
        result.update({"customers": len(spend), "normalized_gini": normalized_gini(spend, model.window_spend(snapshot.features)),
                       "recorded_normalized_gini": champion.metric_value})
    return result
