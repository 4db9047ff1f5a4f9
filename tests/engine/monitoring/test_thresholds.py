"""Breaches name the model, the feature or metric, the value and the threshold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from engine.monitoring.thresholds import Breach, DriftThresholds, MonitorConfig, above, below, drift_breaches


def test_above_and_below_name_what_crossed() -> None:
    (breach,) = above("crm-churn", "feature_drift", "recency_days", 0.31, 0.25)
    assert breach == Breach("crm-churn", "feature_drift", "recency_days", 0.31, 0.25, "above")
    assert breach.message() == "crm-churn: feature_drift recency_days = 0.3100 is above the threshold 0.2500"
    assert above("crm-churn", "feature_drift", "recency_days", 0.25, 0.25) == []
    assert below("crm-recommender", "performance", "hit_rate@10", 0.1, 0.2)[0].direction == "below"
    assert below("crm-recommender", "performance", "hit_rate@10", None, 0.2) == []


def test_drift_breaches_judge_only_enough_rows() -> None:
    table = pd.DataFrame({"feature": ["a", "b", "c"], "psi": [0.9, 0.3, 0.1],
                          "reference_rows": [500, 500, 500], "current_rows": [20, 500, 500]})
    breaches = drift_breaches("crm-clv", table, DriftThresholds(min_rows=100))
    assert [(b.model, b.name, b.value) for b in breaches] == [("crm-clv", "b", 0.3)]
    predicted = drift_breaches("crm-clv", table, DriftThresholds(min_rows=1, prediction_psi=0.5), "prediction_drift")
    assert [(b.kind, b.name) for b in predicted] == [("prediction_drift", "a")]
    assert drift_breaches("crm-clv", table, DriftThresholds(min_rows=1, ignore_features=["a"])) == [
        Breach("crm-clv", "feature_drift", "b", 0.3, 0.25, "above")
    ]


def test_the_config_refuses_a_misspelt_key() -> None:
    with pytest.raises(ValidationError, match="feature_psy"):
        MonitorConfig.model_validate({"drift": {"feature_psy": 0.2}})


def test_the_shipped_config_is_valid() -> None:
    from training.config import load_config

    config = load_config(Path(__file__).resolve().parents[3] / "configs" / "monitor.yaml", MonitorConfig)
    assert config.drift.feature_psi == 0.25 and config.recommender.task == "repeat"
