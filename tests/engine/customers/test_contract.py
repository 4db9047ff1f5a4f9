"""Every customer model passes the engine's estimator contract, and the family's registry loads each
saved one by the kind its manifest declares."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.customers.bgnbd import BGNBD
from engine.customers.calibration import ProbabilityCalibrator
from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.clv import ClvModel
from engine.customers.gamma_gamma import GammaGamma
from engine.customers.pareto_nbd import ParetoNBD
from engine.customers.registry import MODELS, load_customer_model
from engine.errors import ModelFormatError
from tests.engine.contract import EngineModelContract


class TestChurnClassifier(EngineModelContract):
    def make_model(self):
        return ChurnClassifier(n_estimators=20)

    def use_unfitted(self, model):
        return model.predict_proba(pd.DataFrame())


class TestClvModel(EngineModelContract):
    def make_model(self):
        return ClvModel(months=6)

    def use_unfitted(self, model):
        return model.save("unused")


class TestBGNBD(EngineModelContract):
    def make_model(self):
        return BGNBD(time_unit="days")

    def use_unfitted(self, model):
        return model.save("unused")


class TestParetoNBD(TestBGNBD):
    def make_model(self):
        return ParetoNBD()


class TestGammaGamma(EngineModelContract):
    def make_model(self):
        return GammaGamma(max_iterations=100)

    def use_unfitted(self, model):
        return model.save("unused")


class TestProbabilityCalibrator(EngineModelContract):
    def make_model(self):
        return ProbabilityCalibrator("beta")

    def use_unfitted(self, model):
        return model.transform([0.5])


def test_the_registry_loads_a_saved_model_by_its_kind(churn_model, clv_model, tmp_path):
    assert set(MODELS) == {"churn_lightgbm", "clv", "bgnbd", "pareto_nbd", "gamma_gamma"}
    for model in (churn_model, clv_model):
        loaded = load_customer_model(model.save(tmp_path / model.kind))
        assert type(loaded) is type(model) and loaded.get_params() == model.get_params()


def test_the_registry_refuses_another_familys_model(tmp_path):
    (tmp_path / "manifest.json").write_text('{"kind": "als"}')
    with pytest.raises(ModelFormatError, match="not a customer model"):
        load_customer_model(tmp_path)
