"""What BG/NBD, Pareto/NBD and Gamma-Gamma share: maximum-likelihood fitting in log-parameters and
save/load; and for the two purchase-count models, the per-customer predictions they both offer.

Each model implements only its log-likelihood and its conditional predictions (template method); the
base validates the summary, collapses identical rows into weights (CDNOW's 23,570 customers have a few
thousand distinct (x, t_x, T) rows), maximises the likelihood with L-BFGS-B over log-parameters (so
every parameter stays positive), falls back to Nelder-Mead if L-BFGS-B stalls, and checks the result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, Generic, Self, TypeVarTuple, cast

import numpy as np
import pandas as pd
from scipy import optimize

from engine.base import EngineModel
from engine.customers.btyd_data import summary_arrays, unit_days
from engine.errors import EngineError

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]
Data = TypeVarTuple("Data")  # the arrays a model's likelihood takes, e.g. (x, t_x, T)
_LOG_BOUND = 12.0  # parameters kept within exp(+-12): far outside any sensible value, inside float range
_FORMAT_VERSION = 1


class LikelihoodModel(EngineModel, ABC, Generic[*Data]):
    """A model fitted by maximising its log-likelihood over log-parameters (template method).

    Subclasses give their parameter names, how to read and check their data from a summary frame
    (``_data``), the per-row log-likelihood and a starting point; this class fits, checks, and
    saves/loads. Identical data rows are collapsed into weights before fitting.
    """

    kind: ClassVar[str]
    format_version: ClassVar[int] = _FORMAT_VERSION
    fitted_attribute: ClassVar[str] = "params_"
    fitted_names: ClassVar[tuple[str, ...]]

    def __init__(self, max_iterations: int = 2000) -> None:
        self.max_iterations = max_iterations

    @abstractmethod
    def _data(self, summary: pd.DataFrame) -> tuple[*Data]:
        """The checked arrays the likelihood needs, one entry per customer used in the fit."""

    @staticmethod
    @abstractmethod
    def _log_likelihood(params: np.ndarray, *data: *Data) -> np.ndarray:
        """Per-row log-likelihood for the natural (positive) parameters."""

    @abstractmethod
    def _initial_params(self, *data: *Data) -> np.ndarray:
        """A starting point for the optimiser (natural parameters)."""

    def fit(self, summary: pd.DataFrame) -> Self:
        """Maximum-likelihood fit on a customer summary (see the subclass for the columns used)."""
        data = self._data(summary)
        rows, weights = _distinct_rows(cast(tuple[np.ndarray, ...], data))
        distinct = cast(tuple[*Data], rows)
        total = weights.sum()

        def objective(log_params: np.ndarray) -> float:
            with np.errstate(all="ignore"):  # a non-finite value is rejected just below
                values = self._log_likelihood(np.exp(log_params), *distinct)
            value = -float(weights @ values) / total
            return value if np.isfinite(value) else 1e10

        start = np.log(self._initial_params(*data))
        result = optimize.minimize(
            objective,
            start,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * len(start),
            options={"maxiter": self.max_iterations, "ftol": 1e-13, "gtol": 1e-9},
        )
        if not result.success:  # e.g. a flat ridge stalled the line search: go on without gradients
            result = optimize.minimize(
                objective,
                result.x,
                method="Nelder-Mead",
                options={"maxiter": self.max_iterations, "xatol": 1e-7, "fatol": 1e-12},
            )
        if not np.isfinite(result.fun) or result.fun >= 1e10:
            raise EngineError(f"{self.kind}: the likelihood could not be maximised ({result.message})")
        self.params_ = dict(zip(self.fitted_names, np.exp(result.x).tolist()))
        self.log_likelihood_ = -result.fun * total
        self.n_customers_ = int(total)
        self.converged_ = bool(result.success)
        return self

    def _fitted(self) -> np.ndarray:
        self.check_is_fitted()
        return np.array([self.params_[name] for name in self.fitted_names])

    def log_likelihood(self, summary: pd.DataFrame) -> np.ndarray:
        """Per-customer log-likelihood under the fitted parameters (customers used by the fit)."""
        params = self._fitted()
        return self._log_likelihood(params, *self._data(summary))

    def save(self, directory: str | Path, data_fingerprint: str | None = None) -> Path:
        """Write the fitted parameters to ``directory/manifest.json``."""
        self._fitted()
        self._write_manifest(
            directory, self.get_params(), data_fingerprint,
            {"fitted": {"params": self.params_, "log_likelihood": self.log_likelihood_,
                        "n_customers": self.n_customers_, "converged": self.converged_}},
        )
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        manifest = cls._read_manifest(directory)
        model = cls(**manifest["params"])
        fitted = manifest["fitted"]
        model.params_ = {name: float(fitted["params"][name]) for name in cls.fitted_names}
        model.log_likelihood_ = float(fitted["log_likelihood"])
        model.n_customers_ = int(fitted["n_customers"])
        model.converged_ = bool(fitted["converged"])
        return model

    def __repr__(self) -> str:
        fitted = getattr(self, "params_", None)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in fitted.items()) if fitted else "not fitted"
        return f"{type(self).__name__}({shown})"


FittedModel = LikelihoodModel[*tuple[np.ndarray, ...]]  # any of the fitted models, whatever its data


class PurchaseCountModel(LikelihoodModel[np.ndarray, np.ndarray, np.ndarray]):
    """A probabilistic model of repeat purchases and dropout (BG/NBD, Pareto/NBD).

    ``time_unit`` ("days" or "weeks") is the unit of recency, T and every horizon ``t`` given to the
    predictions; summaries built by :func:`engine.customers.btyd_data.btyd_summary` record theirs and a
    mismatch is an error.
    """

    def __init__(self, time_unit: str = "weeks", max_iterations: int = 2000) -> None:
        self.time_unit = time_unit
        self.max_iterations = max_iterations

    # --- the model-specific parts ------------------------------------------------------------------

    @staticmethod
    @abstractmethod
    def _log_terms(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> tuple[np.ndarray, ...]:
        """(head, active, dropped): the log-likelihood is head + log(e^active + e^dropped), the two terms
        being a customer still active at T or dropped out after the last purchase."""

    @abstractmethod
    def _expected_purchases(self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, t: float) -> np.ndarray:
        """E[number of purchases in (T, T + t] | history]."""

    @abstractmethod
    def _log_p_none_if_alive(self, x: np.ndarray, age: np.ndarray, t: float) -> np.ndarray:
        """log P(no purchase in (T, T + t] | history, active at T)."""

    # --- data and fitting ----------------------------------------------------------------------------

    def _data(self, summary: pd.DataFrame) -> Arrays:
        unit_days(self.time_unit)
        x, t_x, age = summary_arrays(summary, self.time_unit)
        if len(x) == 0:
            raise EngineError(f"{self.kind}: the summary has no customers")
        return x, t_x, age

    def fit(self, summary: pd.DataFrame) -> Self:
        """Maximum-likelihood fit on a customer summary (frequency, recency, T in ``time_unit``)."""
        x, _, age = self._data(summary)
        if not (x > 0).any():
            raise EngineError(
                f"{self.kind}: none of the {len(x):,} customers made a repeat purchase; purchase and "
                "dropout rates cannot be told apart (use a longer calibration window)"
            )
        if np.all(age == 0):
            raise EngineError(f"{self.kind}: every customer has T = 0 (all first purchases on the last day)")
        super().fit(summary)
        return self

    @classmethod
    def _log_likelihood(cls, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
        head, active, dropped = cls._log_terms(params, x, t_x, age)
        return head + np.logaddexp(active, dropped)

    def _log_p_alive(self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
        """log P(still active at the end of the observation period | history)."""
        _, active, dropped = self._log_terms(self._fitted(), x, t_x, age)
        return active - np.logaddexp(active, dropped)

    def _initial_params(self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
        """A neutral start: shapes of 1 and scales of the typical customer age."""
        scale = max(float(np.mean(age)), 1e-3)
        return np.array([1.0 if name in ("r", "a", "b", "s") else scale for name in self.fitted_names])

    # --- predictions ----------------------------------------------------------------------------------

    def _arrays(self, summary: pd.DataFrame) -> Arrays:
        self._fitted()
        return self._data(summary)

    def p_alive(self, summary: pd.DataFrame) -> np.ndarray:
        """P(the customer is still active at the end of the observation period)."""
        return np.exp(self._log_p_alive(*self._arrays(summary)))

    def expected_purchases(self, summary: pd.DataFrame, t: float) -> np.ndarray:
        """Expected purchases in the next ``t`` time units."""
        return self._expected_purchases(*self._arrays(summary), _horizon(t))

    def p_no_purchase(self, summary: pd.DataFrame, t: float) -> np.ndarray:
        """P(no purchase in the next ``t`` time units): the churn probability of the window. It is the
        chance of having dropped out plus the chance of staying active but not buying."""
        x, t_x, age = self._arrays(summary)
        log_alive = self._log_p_alive(x, t_x, age)
        p_dead = -np.expm1(log_alive)
        return np.clip(p_dead + np.exp(log_alive + self._log_p_none_if_alive(x, age, _horizon(t))), 0.0, 1.0)

    def __repr__(self) -> str:
        return super().__repr__().replace("(", f"(time_unit={self.time_unit!r}; ", 1)


def _horizon(t: float) -> float:
    if not np.isfinite(t) or t < 0:
        raise EngineError(f"horizon t must be a finite number >= 0, got {t!r}")
    return float(t)


def _distinct_rows(data: tuple[np.ndarray, ...]) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    rows, counts = np.unique(np.column_stack(data), axis=0, return_counts=True)
    return tuple(rows[:, i] for i in range(rows.shape[1])), counts.astype(float)
