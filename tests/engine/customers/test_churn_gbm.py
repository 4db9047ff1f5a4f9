"""The churn classifier on a small synthetic shop: fit, calibration, contributions, reasons, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logit

from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.evaluation import churn_rows
from engine.customers.features import FEATURES
from engine.errors import EngineError, ModelFormatError, NotFittedError


def test_probabilities_rank_churners_and_match_the_validation_rate(churn_model, small_snapshots):
    data = small_snapshots
    rows = {row["model"]: row for row in churn_rows(data.test, churn_model)}
    assert set(rows) == {"lightgbm", "bgnbd", "pareto_nbd", "recency"}
    assert rows["lightgbm"]["auc"] > 0.8 and rows["recency"]["log_loss"] is None
    validation = churn_model.predict_proba(data.validation)
    assert np.all((validation > 0) & (validation < 1))
    # Platt calibration on the validation customers: their mean probability is their churn rate
    assert validation.mean() == pytest.approx(data.validation["churned"].mean(), abs=0.03)
    assert churn_model.base_ in ("bgnbd", "pareto_nbd")


def test_contributions_add_up_to_the_log_odds(churn_model, small_snapshots):
    test = small_snapshots.test.head(50)
    contributions = churn_model.contributions(test)
    assert list(contributions.columns) == [*FEATURES, "bias", "base_model"]
    assert contributions.sum(axis=1).to_numpy() == pytest.approx(logit(churn_model.raw_probability(test)), abs=1e-6)


def test_reasons_name_features_that_raise_the_risk(churn_model, small_snapshots):
    test = small_snapshots.test.head(50)
    reasons = churn_model.top_reasons(test, k=2)
    contributions = churn_model.contributions(test).drop(columns="bias")
    for customer, text in reasons.items():
        parts = [part for part in text.split("; ") if part]
        assert len(parts) == min(2, int((contributions.loc[customer] > 0).sum()))
        assert all(part.endswith(")") and "(+" in part for part in parts)


def test_save_load_round_trip(churn_model, small_snapshots, tmp_path):
    churn_model.save(tmp_path / "churn", data_fingerprint="abc", extra={"data_source": "synthetic"})
    loaded = ChurnClassifier.load(tmp_path / "churn")
    test = small_snapshots.test
    assert np.array_equal(loaded.predict_proba(test), churn_model.predict_proba(test))
    assert loaded.spec_ == churn_model.spec_ and loaded.base_ == churn_model.base_
    assert loaded.top_reasons(test.head(5)).equals(churn_model.top_reasons(test.head(5)))
    with pytest.raises(ModelFormatError):
        ChurnClassifier.load(tmp_path)


def test_without_base_model_and_with_isotonic(small_snapshots):
    data = small_snapshots
    model = ChurnClassifier(base_model="none", calibration="isotonic").fit(
        data.train, data.train["churned"], data.validation, data.validation["churned"]
    )
    assert model.base_ is None and "base_model" in model.contributions(data.test.head(3))
    assert np.all(model.contributions(data.test.head(3))["base_model"] == 0)


def test_errors(small_snapshots):
    data = small_snapshots
    with pytest.raises(NotFittedError):
        ChurnClassifier().predict_proba(data.test)
    with pytest.raises(EngineError, match="one class only"):
        ChurnClassifier().fit(data.train, np.zeros(len(data.train)), data.validation, data.validation["churned"])
    with pytest.raises(EngineError, match="missing column"):
        ChurnClassifier().fit(data.train.drop(columns="tenure_days"), data.train["churned"], data.validation, data.validation["churned"])
    with pytest.raises(EngineError, match="base_model must be"):
        ChurnClassifier(base_model="sbb").fit(data.train, data.train["churned"], data.validation, data.validation["churned"])
