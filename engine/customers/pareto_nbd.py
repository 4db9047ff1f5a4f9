"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987): purchases follow a Poisson process with a
gamma-distributed rate (r, alpha) while active; lifetimes are exponential with a gamma-distributed
dropout rate (s, beta).

The likelihood and every prediction reduce to the integral
``I(lo, hi) = integral_lo^hi (alpha + u)^-(r+x) (beta + u)^-(s+1) du``, whose tail is a Gauss
hypergeometric function. After Euler's transformation the function is ``2F1(1, b; c; z)``, bounded
for ``0 <= z < 1``, and its prefactors are taken in log space, so customers with hundreds of purchases
are safe and the alpha >= beta and alpha < beta branches are equally stable.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1

from engine.customers.btyd_base import PurchaseCountModel


def _log_tail(rho: np.ndarray, s: float, alpha: float, beta: float, lo: np.ndarray) -> np.ndarray:
    """log of integral_lo^inf (alpha + u)^-rho (beta + u)^-(s+1) du."""
    if alpha >= beta:
        z = (alpha - beta) / (alpha + lo)
        log_rest = np.log(beta + lo) - np.log(alpha + lo)  # log(1 - z)
        return (
            -(rho + s) * np.log(alpha + lo) - np.log(rho + s) - s * log_rest
            + np.log(hyp2f1(1.0, rho, rho + s + 1.0, z))
        )
    z = (beta - alpha) / (beta + lo)
    log_rest = np.log(alpha + lo) - np.log(beta + lo)
    return (
        -(rho + s) * np.log(beta + lo) - np.log(rho + s) + (1.0 - rho) * log_rest
        + np.log(hyp2f1(1.0, s + 1.0, rho + s + 1.0, z))
    )


def _log1mexp(d: np.ndarray) -> np.ndarray:
    """log(1 - exp(d)) for d <= 0, accurate at both ends (-inf at d = 0)."""
    d = np.minimum(d, 0.0)
    with np.errstate(divide="ignore"):
        return np.where(d > -np.log(2.0), np.log(-np.expm1(d)), np.log1p(-np.exp(d)))


def log_integral(rho: np.ndarray, s: float, alpha: float, beta: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """log I(lo, hi) = log integral_lo^hi (alpha + u)^-rho (beta + u)^-(s+1) du; -inf when hi == lo."""
    head = _log_tail(rho, s, alpha, beta, lo)
    return head + _log1mexp(_log_tail(rho, s, alpha, beta, hi) - head)


class ParetoNBD(PurchaseCountModel):
    """Pareto/NBD with parameters ``params_ = {r, alpha, s, beta}`` (alpha, beta in ``time_unit``)."""

    kind = "pareto_nbd"
    param_names = ("r", "alpha", "s", "beta")

    @staticmethod
    def _log_parts(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> tuple[np.ndarray, ...]:
        r, alpha, s, beta = params
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        active = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
        dropped = np.log(s) + log_integral(r + x, s, alpha, beta, t_x, age)
        return head, active, dropped

    @staticmethod
    def _log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
        head, active, dropped = ParetoNBD._log_parts(params, x, t_x, age)
        return head + np.logaddexp(active, dropped)

    def _log_p_alive(self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
        _, active, dropped = self._log_parts(self._fitted(), x, t_x, age)
        return active - np.logaddexp(active, dropped)

    def _expected_purchases(self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, t: float) -> np.ndarray:
        r, alpha, s, beta = self._fitted()
        span = np.log(beta + age + t) - np.log(beta + age)
        k = s - 1.0
        # (1 - ((beta+T)/(beta+T+t))^(s-1)) / (s-1), whose limit at s = 1 is the log ratio
        growth = span if abs(k) < 1e-10 else -np.expm1(-k * span) / k
        rate = (r + x) / (alpha + age) * (beta + age)
        return np.exp(self._log_p_alive(x, t_x, age)) * rate * growth

    def _log_p_none_if_alive(self, x: np.ndarray, age: np.ndarray, t: float) -> np.ndarray:
        # posterior of an active customer: rate ~ Gamma(r+x, alpha+T), dropout ~ Gamma(s, beta+T)
        r, alpha, s, beta = self._fitted()
        rho = r + x
        survive = rho * (np.log(alpha + age) - np.log(alpha + age + t)) + s * (np.log(beta + age) - np.log(beta + age + t))
        if t == 0:
            return survive
        die_first = (
            np.log(s) + rho * np.log(alpha + age) + s * np.log(beta + age)
            + log_integral(rho, s, alpha, beta, age, age + t)
        )
        return np.logaddexp(survive, die_first)
