"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): purchases follow a
Poisson process with a gamma-distributed rate (r, alpha) while a customer is active; after each
purchase the customer drops out with a beta-distributed probability (a, b).

Everything is computed in log space (gammaln, betaln, logaddexp), so customers with hundreds of
purchases neither overflow nor underflow; the conditional expectation uses Euler's transformation of
its hypergeometric function, which keeps every term bounded. Where ``scipy.special.hyp2f1`` still
fails (NaN for the huge parameters of a fit on a handful of customers, e.g. r = 3e4, a = 350), the
expectation is integrated over the posterior dropout probability instead (Gauss-Legendre on its
quantile scale, accurate when that posterior is concentrated, as it is in exactly those fits).
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import betaincinv, betaln, gammaln, hyp2f1

from engine.customers.btyd_base import PurchaseCountModel

_NODES, _WEIGHTS = leggauss(64)


class BGNBD(PurchaseCountModel):
    """BG/NBD with parameters ``params_ = {r, alpha, a, b}`` (alpha in ``time_unit``)."""

    kind = "bgnbd"
    fitted_names = ("r", "alpha", "a", "b")

    @staticmethod
    def _log_terms(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> tuple[np.ndarray, ...]:
        r, alpha, a, b = params
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
        active = -(r + x) * np.log(alpha + age)
        repeat = x > 0
        safe_x = np.where(repeat, x, 1.0)
        dropped = np.where(
            repeat, np.log(a) - np.log(b + safe_x - 1) - (r + x) * np.log(alpha + t_x), -np.inf
        )
        return head, active, dropped

    def _expected_purchases(self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, t: float) -> np.ndarray:
        r, alpha, a, b = self._fitted()
        # ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) after Euler's transformation
        z = t / (alpha + age + t)
        with np.errstate(all="ignore"):
            tail = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
            active = (a + b + x - 1) / (a - 1) * (1 - tail)
        # E[Y | active] lies between 0 and the expected purchases of an immortal customer
        failed = ~np.isfinite(active) | (active < 0) | (active > (r + x) * t / (alpha + age) * (1 + 1e-9))
        if failed.any():
            active = np.where(failed, _active_by_quadrature(r, alpha, a, b, x, age, t), active)
        return np.exp(self._log_p_alive(x, t_x, age)) * active

    def _log_p_none_if_alive(self, x: np.ndarray, age: np.ndarray, t: float) -> np.ndarray:
        # an active customer drops out only right after a purchase: no purchase <=> no Poisson event
        r, alpha, _, _ = self._fitted()
        return (r + x) * (np.log(alpha + age) - np.log(alpha + age + t))


def _active_by_quadrature(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, age: np.ndarray, t: float
) -> np.ndarray:
    """E[Y(t) | active] = E[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p] over p ~ Beta(a, b+x), by
    Gauss-Legendre on the quantile scale of p."""
    quantiles = (_NODES[:, None] + 1) / 2
    p = np.maximum(betaincinv(a, b + x, quantiles * np.ones_like(x, dtype=float)), 1e-300)
    values = -np.expm1((r + x) * (np.log(alpha + age) - np.log(alpha + age + p * t))) / p
    return (_WEIGHTS / 2) @ values
