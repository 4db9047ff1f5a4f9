"""The churn classifier on a small synthetic shop: fit, calibration, contributions, reasons, save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from scipy.stats import rankdata

from engine.customers.churn_gbm import ChurnClassifier, customer_folds
from engine.customers.evaluation import churn_rows
from engine.customers.features import FEATURES
from engine.customers.metrics import roc_auc
from engine.customers.reasons import group_effects
from engine.errors import EngineError, ModelFormatError, NotFittedError


def test_probabilities_rank_churners_and_match_the_validation_rate(churn_model, small_snapshots):
    data = small_snapshots
    rows = {row["model"]: row for row in churn_rows(data.test, churn_model)}
    assert set(rows) == {"lightgbm", "bgnbd", "pareto_nbd", "recency"}
    assert rows["lightgbm"]["auc"] > 0.8 and rows["recency"]["log_loss"] is None
    validation = churn_model.predict_proba(data.validation)
    assert np.all((validation > 0) & (validation < 1))
    # calibrated on cross-fitted training predictions: the held-out validation customers' mean
    # probability is their churn rate (they took no part in the calibration)
    assert validation.mean() == pytest.approx(data.validation["churned"].mean(), abs=0.05)
    assert churn_model.base_ in ("bgnbd", "pareto_nbd")


def test_the_base_log_odds_are_bounded_softly_keeping_their_order(small_snapshots):
    data = small_snapshots
    model = ChurnClassifier(base_clip=3.0).fit(data.train, data.train["churned"], data.validation, data.validation["churned"])
    base = (model.contributions(data.test)["base_model"] + model.base_reference_).to_numpy()
    raw = logit(np.clip(data.test[f"{model.base_}_p_no_purchase"].to_numpy(), 1e-6, 1 - 1e-6))
    assert np.abs(base).max() < 3.0 < np.abs(raw).max()
    assert base == pytest.approx(3.0 * np.tanh(raw / 3.0))
    assert np.array_equal(rankdata(base), rankdata(raw))  # the order kept, no ties made


def test_customer_folds_keep_a_customers_rows_together():
    index = pd.Index(["a", "b", "a", "c", "b", "d", "e", "f"])
    folds = customer_folds(index, 3, seed=1)
    assert folds[0] == folds[2] and folds[1] == folds[4] and set(folds) <= {0, 1, 2}
    assert np.array_equal(folds, customer_folds(index, 3, seed=1))


def test_a_baseline_estimator_is_the_calibrated_probabilistic_model(small_snapshots, tmp_path):
    data = small_snapshots
    baseline = ChurnClassifier(estimator="bgnbd").fit(data.train, data.train["churned"], data.validation, data.validation["churned"])
    assert baseline.booster_ is None and baseline.base_ == "bgnbd"
    probability = baseline.predict_proba(data.test)
    # Platt keeps the order: the same AUC as BG/NBD's own probability
    assert roc_auc(data.test["churned"], probability) == pytest.approx(roc_auc(data.test["churned"], data.test["bgnbd_p_no_purchase"]))
    contributions = baseline.contributions(data.test.head(5))
    assert (contributions[list(FEATURES)] == 0).all().all()
    baseline.save(tmp_path / "baseline")
    assert not (tmp_path / "baseline" / "booster.txt").exists()
    loaded = ChurnClassifier.load(tmp_path / "baseline")
    assert np.array_equal(loaded.predict_proba(data.test), probability)
    assert loaded.top_reasons(data.test.head(20)).equals(baseline.top_reasons(data.test.head(20)))


def test_contributions_add_up_to_the_log_odds(churn_model, small_snapshots):
    test = small_snapshots.test.head(50)
    contributions = churn_model.contributions(test)
    assert list(contributions.columns) == [*FEATURES, "bias", "base_model"]
    assert contributions.sum(axis=1).to_numpy() == pytest.approx(logit(churn_model.raw_probability(test)), abs=1e-6)


def test_reasons_name_their_direction_and_agree_with_the_contributions(churn_model, small_snapshots):
    test = small_snapshots.test.head(80)
    reasons = churn_model.top_reasons(test, k=2)
    effects = group_effects(churn_model.contributions(test).drop(columns="bias"))
    assert (reasons != "").mean() > 0.5
    for customer, text in reasons.items():
        parts = [part for part in text.split("; ") if part]
        assert len(parts) <= 2
        for part in parts:
            direction, _, fact = part.partition(" risk: ")
            assert direction in ("raises", "lowers") and fact and "=" not in fact
        pauses = [part for part in parts if "usual gap" in part or "purchase day so far" in part]
        for part in pauses:  # the pause group's effect carries the sign the reason names
            assert (effects.loc[customer, "pause"] > 0) == part.startswith("raises")


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
    with pytest.raises(EngineError, match="estimator must be"):
        ChurnClassifier(estimator="recency").fit(data.train, data.train["churned"], data.validation, data.validation["churned"])
    with pytest.raises(EngineError, match="base_model must be"):
        ChurnClassifier(base_model="sbb").fit(data.train, data.train["churned"], data.validation, data.validation["churned"])
