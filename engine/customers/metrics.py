"""Churn and CLV metrics as free functions over arrays (no models, no MLflow).

Churn: ``y_true`` is 1 for a customer who churned (no purchase in the window) and ``score`` ranks
customers by churn risk (higher = riskier). CLV: ``actual`` and ``predicted`` are spends per customer.
Ties are handled without depending on row order wherever the metric allows it (AUC, Gini).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics import log_loss as sklearn_log_loss

from engine.errors import EngineError


def _pair(a: np.ndarray | pd.Series, b: np.ndarray | pd.Series, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise EngineError(f"{names[0]} and {names[1]} must be 1-d arrays of equal length, got {a.shape} and {b.shape}")
    if len(a) == 0:
        raise EngineError(f"{names[0]} is empty")
    for name, values in zip(names, (a, b)):
        if not np.all(np.isfinite(values)):
            raise EngineError(f"{name} has {int((~np.isfinite(values)).sum())} non-finite value(s)")
    return a, b


def _labels(y_true: np.ndarray | pd.Series, score: np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    y, s = _pair(y_true, score, ("y_true", "score"))
    if not np.isin(y, (0, 1)).all():
        raise EngineError("y_true must hold only 0 and 1")
    if y.min() == y.max():
        raise EngineError(f"y_true holds only {int(y[0])}s; AUC-type metrics need both classes")
    return y, s


# --- churn ---------------------------------------------------------------------------------------------


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve: P(a random churner scores above a random stayer), ties counting half
    (scikit-learn's ``roc_auc_score`` on labels checked here)."""
    y, s = _labels(y_true, score)
    return float(roc_auc_score(y, s))


def pr_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Average precision: sum over score thresholds of (recall gained) x (precision there); customers
    with equal scores enter together (scikit-learn's ``average_precision_score``)."""
    y, s = _labels(y_true, score)
    return float(average_precision_score(y, s))


def log_loss(y_true: np.ndarray, probability: np.ndarray, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood of the labels under the predicted probabilities (clipped to eps)."""
    y, p = _pair(y_true, probability, ("y_true", "probability"))
    if np.any((p < 0) | (p > 1)):
        raise EngineError("probability must lie in [0, 1]")
    # clipped here to eps (scikit-learn would clip to the float's own epsilon instead)
    return float(sklearn_log_loss(y, np.clip(p, eps, 1 - eps), labels=[0, 1]))


def top_decile_lift(y_true: np.ndarray, score: np.ndarray, fraction: float = 0.1) -> float:
    """Churn rate among the ``fraction`` highest scores (rounded up, ties by row order) over the
    overall churn rate."""
    y, s = _labels(y_true, score)
    top = int(np.ceil(fraction * len(y)))
    chosen = np.argsort(-s, kind="stable")[:top]
    return float(y[chosen].mean() / y.mean())


def _equal_count_bins(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin 1..bins of each value by rank (equal counts; ties split by row order), 1 = lowest."""
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
    return ranks * bins // len(values) + 1


def decile_calibration(y_true: np.ndarray, probability: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Customers grouped into ``bins`` equal-count groups by predicted probability: size, mean predicted
    probability and observed churn rate of each (a calibrated model has them equal)."""
    y, p = _pair(y_true, probability, ("y_true", "probability"))
    frame = pd.DataFrame({"bin": _equal_count_bins(p, bins), "y": y, "p": p})
    table = frame.groupby("bin").agg(customers=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean"))
    table.index.name = "decile"
    return table


def expected_calibration_error(y_true: np.ndarray, probability: np.ndarray, bins: int = 10) -> float:
    """Mean over ``bins`` equal-count groups (by predicted probability) of |mean predicted - observed
    rate|, weighted by group size: the average miscalibration a customer meets."""
    table = decile_calibration(y_true, probability, bins)
    gaps = (table["mean_predicted"] - table["observed_rate"]).abs()
    return float((gaps * table["customers"]).sum() / table["customers"].sum())


def wilson_interval(successes: np.ndarray, trials: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial rate (95% with the default z); sound at small counts and
    at rates near 0 or 1, where the normal approximation is not."""
    k, n = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    rate = k / n
    centre = (rate + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def band_calibration(y_true: np.ndarray, probability: np.ndarray, band: np.ndarray) -> pd.DataFrame:
    """Per risk band: customers, mean predicted probability, realised churn rate, its 95% Wilson
    interval, and whether the mean prediction lies inside it (a band calibrated at its sample size)."""
    y, p = _pair(y_true, probability, ("y_true", "probability"))
    frame = pd.DataFrame({"band": np.asarray(band), "y": y, "p": p})
    table = frame.groupby("band", sort=False).agg(customers=("y", "size"), churners=("y", "sum"), mean_predicted=("p", "mean"))
    table["realised_rate"] = table["churners"] / table["customers"]
    table["ci_low"], table["ci_high"] = wilson_interval(table["churners"].to_numpy(), table["customers"].to_numpy())
    table["within_ci"] = (table["mean_predicted"] >= table["ci_low"]) & (table["mean_predicted"] <= table["ci_high"])
    return table


def paired_bootstrap_se(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y_true: np.ndarray,
    score: np.ndarray,
    other: np.ndarray,
    resamples: int = 200,
    seed: int = 0,
) -> float:
    """Standard error of ``metric(y, score) - metric(y, other)`` over bootstrap resamples of the
    customers (the same resample for both scores, so their shared noise cancels). Resamples holding
    one class only are skipped."""
    y, s = _pair(y_true, score, ("y_true", "score"))
    _, o = _pair(y_true, other, ("y_true", "other"))
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(resamples):
        rows = rng.integers(0, len(y), len(y))
        if y[rows].min() == y[rows].max():
            continue
        differences.append(metric(y[rows], s[rows]) - metric(y[rows], o[rows]))
    if len(differences) < 2:
        raise EngineError("the bootstrap found fewer than two resamples with both classes")
    return float(np.std(differences, ddof=1))


def gain_curve(y_true: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """Cumulative gains: share of customers contacted (highest scores first) vs share of churners
    reached, and the lift at each point."""
    y, s = _labels(y_true, score)
    order = np.argsort(-s, kind="stable")
    contacted = np.arange(1, len(y) + 1) / len(y)
    reached = np.cumsum(y[order]) / y.sum()
    return pd.DataFrame({"share_contacted": contacted, "share_of_churners": reached, "lift": reached / contacted})


def evaluate_churn(y_true: np.ndarray, score: np.ndarray, is_probability: bool = True) -> dict[str, float | None]:
    """The churn metrics of the benchmark contract; log_loss is None for a score that is not a
    probability (e.g. recency in days)."""
    return {
        "auc": roc_auc(y_true, score),
        "pr_auc": pr_auc(y_true, score),
        "log_loss": log_loss(y_true, score) if is_probability else None,
        "top_decile_lift": top_decile_lift(y_true, score),
    }


# --- CLV -------------------------------------------------------------------------------------------


def _gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Area between the cumulative share of ``actual`` (customers ordered by ``predicted``, highest
    first) and the diagonal. Within a tie of ``predicted`` values, actuals are averaged: the expected
    value over every order of the tie, so the result does not depend on row order."""
    order = np.argsort(-predicted, kind="stable")
    a, p = actual[order], predicted[order]
    group = np.r_[0, np.cumsum(p[1:] != p[:-1])]
    a = (np.bincount(group, weights=a) / np.bincount(group))[group]
    n = len(a)
    return float(np.cumsum(a).sum() / a.sum() - (n + 1) / 2) / n


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini of the ranking by ``predicted`` over the Gini of the perfect ranking (1 = perfect order,
    0 = random). Needs a positive total of ``actual``."""
    a, p = _pair(actual, predicted, ("actual", "predicted"))
    if a.sum() <= 0:
        raise EngineError("normalized_gini needs a positive total of actual values")
    return _gini(a, p) / _gini(a, a)


def spearman(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Spearman rank correlation (ties get average ranks)."""
    a, p = _pair(actual, predicted, ("actual", "predicted"))
    return float(stats.spearmanr(a, p).statistic)


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error."""
    a, p = _pair(actual, predicted, ("actual", "predicted"))
    return float(np.mean(np.abs(a - p)))


def decile_table(actual: np.ndarray, predicted: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Customers in ``bins`` equal-count groups by prediction: size, mean predicted and mean actual."""
    a, p = _pair(actual, predicted, ("actual", "predicted"))
    frame = pd.DataFrame({"bin": _equal_count_bins(p, bins), "a": a, "p": p})
    table = frame.groupby("bin").agg(customers=("a", "size"), mean_predicted=("p", "mean"), mean_actual=("a", "mean"))
    table.index.name = "decile"
    return table


def decile_mape(actual: np.ndarray, predicted: np.ndarray, bins: int = 10) -> float:
    """Mean absolute percentage error of the decile means (deciles of the prediction), as in Wang,
    Liu & Miao (2019): |mean predicted - mean actual| / mean actual, averaged over the deciles whose
    mean actual is positive (a decile that spent nothing has no percentage error)."""
    table = decile_table(actual, predicted, bins)
    table = table.loc[table["mean_actual"] > 0]
    if table.empty:
        raise EngineError("decile_mape needs some positive actual values")
    return float(np.mean(np.abs(table["mean_predicted"] - table["mean_actual"]) / table["mean_actual"]))


def evaluate_clv(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The CLV metrics of the benchmark contract."""
    return {
        "normalized_gini": normalized_gini(actual, predicted),
        "mae": mae(actual, predicted),
        "spearman": spearman(actual, predicted),
        "decile_mape": decile_mape(actual, predicted),
        "predicted_total": float(np.sum(predicted)),
        "actual_total": float(np.sum(actual)),
    }
