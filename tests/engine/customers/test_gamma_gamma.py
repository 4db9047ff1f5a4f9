"""Gamma-Gamma: hand-computed likelihood, recovery from simulated spend, errors, save/load."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.customers.gamma_gamma import GammaGamma
from engine.errors import DataValidationError, EngineError, NotFittedError


def spend(x, m) -> pd.DataFrame:
    return pd.DataFrame({"frequency": np.asarray(x, float), "monetary": np.asarray(m, float)})


def test_log_likelihood_by_hand():
    model = GammaGamma()
    model.params_ = {"p": 2.0, "q": 3.0, "v": 10.0}
    # x = 2 purchases averaging 5: px = 4, density of the mean given p, q, v (Fader, Hardie & Lee 2005)
    expected = (
        math.lgamma(7) - math.lgamma(4) - math.lgamma(3) + 3 * math.log(10) + 3 * math.log(5)
        + 4 * math.log(2) - 7 * math.log(2 * 5 + 10)
    )
    assert model.log_likelihood(spend([2], [5.0]))[0] == pytest.approx(expected, rel=1e-12)


def test_expected_spend_shrinks_towards_the_population_mean():
    model = GammaGamma()
    model.params_ = {"p": 2.0, "q": 3.0, "v": 10.0}
    values = model.expected_spend(spend([0, 1, 50], [0, 40.0, 40.0]))
    population = 2 * 10 / (3 - 1)
    assert values[0] == pytest.approx(population)
    assert values[1] == pytest.approx(2 * (10 + 40) / (2 + 2))  # weighted towards 40 by one purchase
    assert population < values[1] < values[2] < 40


def test_recovers_parameters_of_simulated_spend():
    rng = np.random.default_rng(4)
    p, q, v, n = 6.0, 4.0, 15.0, 8000
    x = rng.integers(1, 12, n)
    nu = rng.gamma(q, 1 / v, n)
    means = np.array([rng.gamma(p, 1 / nu_i, k).mean() for nu_i, k in zip(nu, x)])
    fitted = GammaGamma().fit(spend(x, means))
    assert fitted.params_["p"] == pytest.approx(p, rel=0.1)
    # the population mean spend p v / (q - 1) is what CLV uses
    assert fitted.params_["p"] * fitted.params_["v"] / (fitted.params_["q"] - 1) == pytest.approx(p * v / (q - 1), rel=0.05)


def test_heavy_buyer_does_not_overflow():
    model = GammaGamma()
    model.params_ = {"p": 6.25, "q": 3.74, "v": 15.44}
    data = spend([500, 3], [35.0, 20.0])
    assert np.all(np.isfinite(model.log_likelihood(data)))
    assert model.expected_spend(data)[0] == pytest.approx(35.0, rel=0.01)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (spend([0, 0], [0, 0]), EngineError, "no customer has a repeat purchase"),
        (spend([1, 2], [10, -3]), DataValidationError, "not a positive number"),
        (spend([1, 2], [10, np.nan]), DataValidationError, "not a positive number"),
        (spend([1, 2], [10, 3]).drop(columns="monetary"), DataValidationError, "missing column"),
    ],
)
def test_degenerate_input_is_a_clear_error(data, error, message):
    with pytest.raises(error, match=message):
        GammaGamma().fit(data)


def test_infinite_mean_and_unfitted_are_errors():
    with pytest.raises(NotFittedError):
        GammaGamma().expected_spend(spend([1], [3]))
    model = GammaGamma()
    model.params_ = {"p": 2.0, "q": 0.9, "v": 10.0}
    with pytest.raises(EngineError, match="q=0.900 <= 1"):
        model.expected_spend(spend([1], [3]))


def test_save_load_round_trip(tmp_path):
    fitted = GammaGamma().fit(spend([1, 2, 3, 5, 1, 8], [10, 12, 30, 22, 5, 18]))
    fitted.save(tmp_path / "gg")
    loaded = GammaGamma.load(tmp_path / "gg")
    assert loaded.params_ == fitted.params_
    assert loaded.n_customers_ == 6
