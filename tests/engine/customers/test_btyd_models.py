"""BG/NBD and Pareto/NBD: one contract suite run by both (inheritance), plus each model's likelihood
against a direct numerical evaluation of its defining integral on tiny data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from engine.customers.bgnbd import BGNBD
from engine.customers.btyd_base import PurchaseCountModel
from engine.customers.pareto_nbd import ParetoNBD, log_integral
from engine.errors import DataValidationError, EngineError, ModelFormatError, NotFittedError
from tests.engine.customers.btyd_simulation import simulate_bgnbd, simulate_pareto_nbd


def summary(x, t_x, age, unit: str | None = "weeks") -> pd.DataFrame:
    frame = pd.DataFrame({"frequency": np.asarray(x, float), "recency": np.asarray(t_x, float), "T": np.asarray(age, float)})
    if unit:
        frame.attrs["time_unit"] = unit
    return frame


def with_params(model: PurchaseCountModel, params) -> PurchaseCountModel:
    model.params_ = dict(zip(model.fitted_names, map(float, params)))
    return model


TINY = summary([0, 1, 3, 7, 2], [0, 4.0, 20.5, 30.0, 31.0], [35.0, 30.0, 36.0, 38.0, 31.0])
HEAVY = summary([500, 500, 0], [38.0, 20.0, 0.0], [39.0, 39.0, 39.0])


class PurchaseCountContract:
    """What every purchase-count model must do; subclasses set ``model_class``, ``truth``, ``simulate``."""

    model_class: type[PurchaseCountModel]
    truth: tuple[float, float, float, float]
    simulate = None

    def test_recovers_parameters_of_simulated_customers(self):
        data = type(self).simulate(*self.truth, n=6000, seed=3)
        fitted = self.model_class().fit(data)
        true_model = with_params(self.model_class(), self.truth)
        # the MLE must beat the truth on its own sample, and land close to it
        assert fitted.log_likelihood_ >= true_model.log_likelihood(data).sum() - 1e-6
        r, alpha = fitted.params_["r"], fitted.params_["alpha"]
        assert r / alpha == pytest.approx(self.truth[0] / self.truth[1], rel=0.15)  # mean purchase rate
        assert r == pytest.approx(self.truth[0], rel=0.25)
        # and predict the next 20 weeks like the true model does
        assert fitted.expected_purchases(data, 20).sum() == pytest.approx(
            true_model.expected_purchases(data, 20).sum(), rel=0.1
        )

    def test_predictions_are_probabilities_and_counts(self):
        model = with_params(self.model_class(), self.truth)
        p_alive, p_none = model.p_alive(TINY), model.p_no_purchase(TINY, 10)
        assert np.all((p_alive > 0) & (p_alive <= 1)) and np.all((p_none > 0) & (p_none < 1))
        # a longer window can only make "no purchase" less likely and expected purchases larger
        assert np.all(model.p_no_purchase(TINY, 30) < p_none)
        assert np.all(model.expected_purchases(TINY, 30) > model.expected_purchases(TINY, 10))
        assert np.allclose(model.p_no_purchase(TINY, 0), 1) and np.allclose(model.expected_purchases(TINY, 0), 0)

    @pytest.mark.parametrize("swap", [False, True])
    def test_no_overflow_with_500_purchases(self, swap):
        params = np.array(self.truth)
        if swap:  # the other scale ordering (Pareto/NBD alpha < beta vs alpha >= beta)
            params[[1, 3]] = params[[3, 1]]
        model = with_params(self.model_class(), params)
        values = [model.log_likelihood(HEAVY), model.p_alive(HEAVY), model.p_no_purchase(HEAVY, 10),
                  model.expected_purchases(HEAVY, 10)]
        assert all(np.all(np.isfinite(v)) for v in values)
        # the steady buyer (last purchase a week ago) is far more likely alive than the one gone 19 weeks
        assert values[1][0] > values[1][1]
        assert values[3][0] > values[3][1] and np.all(values[2] <= 1)

    def test_fit_with_a_heavy_buyer_is_finite(self):
        data = pd.concat([type(self).simulate(*self.truth, n=300, seed=5), HEAVY.iloc[:1]], ignore_index=True)
        fitted = self.model_class().fit(data)
        assert np.isfinite(fitted.log_likelihood_) and all(np.isfinite(v) for v in fitted.params_.values())

    def test_save_load_round_trip(self, tmp_path):
        fitted = self.model_class().fit(type(self).simulate(*self.truth, n=500, seed=9))
        fitted.save(tmp_path / "m", data_fingerprint="abc")
        loaded = self.model_class.load(tmp_path / "m")
        assert loaded.params_ == fitted.params_ and loaded.time_unit == fitted.time_unit
        assert np.allclose(loaded.p_no_purchase(TINY, 5), fitted.p_no_purchase(TINY, 5))

    def test_loading_another_kind_fails(self, tmp_path):
        other = BGNBD if self.model_class is ParetoNBD else ParetoNBD
        other().fit(simulate_bgnbd(0.5, 6.0, 0.8, 2.5, n=300, seed=2)).save(tmp_path / "m")
        with pytest.raises(ModelFormatError, match="expected"):
            self.model_class.load(tmp_path / "m")

    def test_unfitted_model_raises(self):
        with pytest.raises(NotFittedError, match="fit"):
            self.model_class().p_alive(TINY)

    @pytest.mark.parametrize(
        ("data", "error", "message"),
        [
            (summary([], [], []), EngineError, "no customers"),
            (summary([0, 0], [0, 0], [3, 5]), EngineError, "repeat purchase"),
            (summary([1, 2], [5, 12], [4, 20]), DataValidationError, "T is not finite and >= recency"),
            (summary([1.5, 2], [1, 2], [4, 20]), DataValidationError, "frequency is not a non-negative whole"),
            (summary([-1, 2], [1, 2], [4, 20]), DataValidationError, "frequency"),
            (summary([1, np.nan], [1, 2], [4, 20]), DataValidationError, "frequency"),
            (summary([0, 2], [3, 2], [4, 20]), DataValidationError, "0 for a customer without repeat"),
            (summary([1, 2], [1, 2], [4, 20], unit="days"), EngineError, "rebuild it with time_unit='weeks'"),
            (summary([1, 2], [1, 2], [4, 20]).drop(columns="T"), DataValidationError, r"missing column\(s\) \['T'\]"),
        ],
    )
    def test_degenerate_input_is_a_clear_error(self, data, error, message):
        with pytest.raises(error, match=message):
            self.model_class().fit(data)

    def test_unknown_time_unit_and_bad_horizon(self):
        with pytest.raises(EngineError, match="time_unit must be one of"):
            self.model_class(time_unit="months").fit(TINY)
        with pytest.raises(EngineError, match="horizon"):
            with_params(self.model_class(), self.truth).p_no_purchase(TINY, -1)


class TestBGNBD(PurchaseCountContract):
    model_class = BGNBD
    truth = (0.5, 6.0, 0.8, 2.5)
    simulate = staticmethod(simulate_bgnbd)

    def test_likelihood_matches_direct_integration(self):
        r, alpha, a, b = self.truth
        model = with_params(BGNBD(), self.truth)
        log_norm = r * math.log(alpha) - math.lgamma(r) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
        for x, t_x, age in zip(TINY["frequency"], TINY["recency"], TINY["T"]):
            # individual likelihood given (rate, p), integrated over gamma(rate) and beta(p)
            def integrand(lam, p, x=x, t_x=t_x, age=age):
                alive = (1 - p) ** x * math.exp(-lam * age)
                dead = p * (1 - p) ** (x - 1) * math.exp(-lam * t_x) if x > 0 else 0.0
                prior = math.exp(log_norm + (r - 1) * math.log(lam) - alpha * lam + (a - 1) * math.log(p) + (b - 1) * math.log1p(-p))
                return lam**x * (alive + dead) * prior

            value, _ = integrate.dblquad(integrand, 0, 1, 0, 10, epsabs=1e-12, epsrel=1e-8)
            assert model.log_likelihood(summary([x], [t_x], [age]))[0] == pytest.approx(math.log(value), abs=1e-5)

    def test_expected_purchases_of_a_heavy_buyer_match_direct_integration(self):
        # E[Y(t) | alive, rate, p] = (1 - exp(-rate p t)) / p over the posterior gamma(r+x, alpha+T) and
        # beta(a, b+x); integrating the rate out leaves a one-dimensional integral over p
        r, alpha, a, b = self.truth
        model = with_params(BGNBD(), self.truth)
        t = 10.0
        for x, t_x, age in zip(HEAVY["frequency"], HEAVY["recency"], HEAVY["T"]):
            row = summary([x], [t_x], [age])

            def integrand(p, x=x, age=age):
                return (1 - ((alpha + age) / (alpha + age + p * t)) ** (r + x)) / p * stats.beta.pdf(p, a, b + x)

            value, _ = integrate.quad(integrand, 0, 1, limit=200, points=[1e-3, 1e-2])
            assert model.expected_purchases(row, t)[0] == pytest.approx(model.p_alive(row)[0] * value, rel=1e-7)

    def test_flat_ridge_of_homogeneous_dropout_still_fits(self):
        # these 300 customers are best explained by one dropout probability for everyone (a, b -> inf
        # along a/(a+b) fixed): the likelihood is a flat ridge, and the fit must still land on it
        fitted = BGNBD().fit(simulate_bgnbd(0.5, 6.0, 0.8, 2.5, n=300, seed=2))
        a, b = fitted.params_["a"], fitted.params_["b"]
        assert a > 10 and a / (a + b) == pytest.approx(0.096, abs=0.01)
        assert np.all(np.isfinite(fitted.p_no_purchase(TINY, 10)))

    def test_degenerate_fit_falls_back_to_integration_over_the_dropout_probability(self):
        # parameters of a fit on three customers, where scipy's hyp2f1 returns NaN
        r, alpha, a, b = 3.083e4, 1.627e5, 347.5, 1297.0
        model = with_params(BGNBD(), (r, alpha, a, b))
        row, t = summary([2], [10.0], [30.0]), 12.9

        def integrand(p):
            return (1 - ((alpha + 30) / (alpha + 30 + p * t)) ** (r + 2)) / p * stats.beta.pdf(p, a, b + 2)

        mean = a / (a + b + 2)
        value, _ = integrate.quad(integrand, 0, 1, points=[mean / 2, mean, 2 * mean], limit=200)
        assert model.expected_purchases(row, t)[0] == pytest.approx(model.p_alive(row)[0] * value, rel=1e-6)

    def test_customer_without_repeat_purchase_is_alive(self):
        # a known property of BG/NBD (dropout happens only after a purchase)
        assert with_params(BGNBD(), self.truth).p_alive(summary([0], [0], [30]))[0] == 1.0


class TestParetoNBD(PurchaseCountContract):
    model_class = ParetoNBD
    truth = (0.6, 8.0, 0.7, 12.0)
    simulate = staticmethod(simulate_pareto_nbd)

    @pytest.mark.parametrize("params", [(0.6, 8.0, 0.7, 12.0), (0.6, 12.0, 0.7, 8.0)])
    @pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")  # accuracy is asserted
    def test_likelihood_matches_direct_integration(self, params):
        r, alpha, s, beta = params
        model = with_params(ParetoNBD(), params)
        log_norm = r * math.log(alpha) - math.lgamma(r) + s * math.log(beta) - math.lgamma(s)
        for x, t_x, age in zip(TINY["frequency"], TINY["recency"], TINY["T"]):
            def integrand(lam, mu, x=x, t_x=t_x, age=age):
                total = lam + mu
                individual = math.exp(-total * age) + mu / total * (math.exp(-total * t_x) - math.exp(-total * age))
                prior = math.exp(log_norm + (r - 1) * math.log(lam) - alpha * lam + (s - 1) * math.log(mu) - beta * mu)
                return lam**x * individual * prior

            value, _ = integrate.dblquad(integrand, 0, 3, 0, 10, epsabs=1e-12, epsrel=1e-8)
            assert model.log_likelihood(summary([x], [t_x], [age]))[0] == pytest.approx(math.log(value), abs=1e-5)

    @pytest.mark.parametrize(
        ("rho", "s", "alpha", "beta", "lo", "hi"),
        [
            (400.6, 0.6, 1000.0, 0.1, 0.0, 39.0),  # where scipy's hyp2f1 returns NaN
            (500.6, 0.6, 10.0, 3.0, 38.0, 39.0),
            (500.6, 0.6, 3.0, 10.0, 20.0, 39.0),
            (1.4, 160.0, 1.4, 1.9e5, 0.0, 39.0),  # near-homogeneous dropout (Complete Journey)
            (0.05, 0.05, 0.01, 0.01, 0.0, 1000.0),
            (2.0, 1.0, 5.0, 5.0, 10.0, 10.0),  # empty interval
        ],
    )
    def test_log_integral_matches_adaptive_quadrature(self, rho, s, alpha, beta, lo, hi):
        def integrand(u):  # scaled by its value at lo
            return math.exp(-rho * math.log((alpha + u) / (alpha + lo)) - (s + 1) * math.log((beta + u) / (beta + lo)))

        scale = min(alpha, beta) / (rho + s + 1)  # break the interval where the integrand changes
        points = [lo] + [lo + scale * (2.0**k - 1) for k in range(1, 60) if lo + scale * (2.0**k - 1) < hi] + [hi]
        value = sum(integrate.quad(integrand, a, b, epsabs=0, epsrel=1e-13)[0] for a, b in zip(points, points[1:]))
        expected = math.log(value) - rho * math.log(alpha + lo) - (s + 1) * math.log(beta + lo) if value else -math.inf
        assert log_integral(np.array([rho]), s, alpha, beta, np.array([lo]), np.array([hi]))[0] == pytest.approx(expected, abs=1e-7)

    def test_window_churn_matches_simulation(self):
        # P(no purchase in the next 15 weeks) vs the frequency in customers simulated past T
        rng = np.random.default_rng(11)
        r, alpha, s, beta = self.truth
        n, age, horizon = 40000, 30.0, 15.0
        rate, lifetime = rng.gamma(r, 1 / alpha, n), rng.exponential(1 / rng.gamma(s, 1 / beta, n))
        calibration = rng.poisson(rate * np.minimum(lifetime, age))
        future = rng.poisson(rate * np.clip(lifetime - age, 0, horizon))
        # condition on customers with no repeat purchase in calibration (recency 0, one summary row)
        observed = (future[calibration == 0] == 0).mean()
        model = with_params(ParetoNBD(), self.truth)
        assert model.p_no_purchase(summary([0], [0], [age]), horizon)[0] == pytest.approx(observed, abs=0.01)
