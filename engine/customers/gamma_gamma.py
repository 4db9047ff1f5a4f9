"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"): a customer's transaction values
are gamma(p, nu) with a customer-level nu ~ gamma(q, v); the mean spend per transaction is independent
of the purchase process, so it multiplies BG/NBD or Pareto/NBD purchase counts into CLV.

Fitted on customers with at least one repeat purchase, from their number of repeat purchases x and
the mean value of those purchases m (log-space likelihood; no overflow for large x).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaln

from engine.customers.btyd_base import LikelihoodModel
from engine.customers.btyd_data import FREQUENCY, MONETARY
from engine.errors import DataValidationError, EngineError


class GammaGamma(LikelihoodModel[np.ndarray, np.ndarray]):
    """Gamma-Gamma with parameters ``params_ = {p, q, v}`` (v in currency)."""

    kind = "gamma_gamma"
    fitted_names = ("p", "q", "v")

    def _data(self, summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        missing = [name for name in (FREQUENCY, MONETARY) if name not in summary]
        if missing:
            raise DataValidationError(f"summary: missing column(s) {missing}; build it with btyd_summary()")
        repeat = summary.loc[summary[FREQUENCY] > 0]
        if repeat.empty:
            raise EngineError(f"{self.kind}: no customer has a repeat purchase; spend cannot be modelled")
        x = repeat[FREQUENCY].to_numpy(dtype=float)
        m = repeat[MONETARY].to_numpy(dtype=float)
        bad = ~np.isfinite(m) | (m <= 0)
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"summary: {int(bad.sum()):,} repeat customer(s) with a {MONETARY} that is not a positive "
                f"number, e.g. customer {repeat.index[position]!r} ({MONETARY}={m[position]}); "
                "leave them out of the Gamma-Gamma fit"
            )
        return x, m

    @staticmethod
    def _log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        p, q, v = params
        px = p * x
        return (
            gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(x * m + v)
        )

    def _initial_params(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        return np.array([1.0, 2.0, float(np.mean(m))])

    def expected_spend(self, summary: pd.DataFrame) -> np.ndarray:
        """E[mean spend per transaction | x, m] for every customer of ``summary`` (the population mean
        p v / (q - 1) for customers without repeat purchases). Needs q > 1 (a finite mean)."""
        p, q, v = self._fitted()
        if q <= 1:
            raise EngineError(f"{self.kind}: fitted q={q:.3f} <= 1 means infinite mean spend; no expectation")
        x = summary[FREQUENCY].to_numpy(dtype=float)
        m = np.where(x > 0, summary[MONETARY].to_numpy(dtype=float), 0.0)
        return p * (v + x * m) / (p * x + q - 1)
