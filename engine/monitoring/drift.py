"""Population stability index (PSI): how far a current distribution has moved from a reference one.

PSI = sum over bins of (current share - reference share) x ln(current share / reference share). It is
0 for identical distributions; the usual reading is < 0.1 stable, 0.1-0.25 moderate, > 0.25 a shift
worth acting on. Numeric values are binned at the reference's quantiles (so every reference bin holds
about the same share, and a bin empty in one sample is what moved); categorical values by level. Missing
values (NaN, infinite) form a bin of their own on both sides, so a feature that starts arriving empty
drifts too. A share of 0 is raised to ``epsilon`` before the logarithm (the PSI of a bin that empties
completely is large but finite).

Our own code rather than a library: the formula is four lines, the common packages that compute it
(evidently, nannyml, popmon) pull in large dependency trees for this one function, and their binning and
zero-share conventions differ; here both are stated and tested against hand-computed values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.errors import EngineError

MISSING = "(missing)"
NUMERIC, CATEGORICAL = "numeric", "categorical"
DRIFT_COLUMNS = ("feature", "kind", "psi", "reference_rows", "current_rows", "reference_missing", "current_missing")


def psi_from_shares(reference: np.ndarray, current: np.ndarray, epsilon: float = 1e-4) -> float:
    """PSI of two share vectors over the same bins (each summing to 1); shares below ``epsilon`` are
    raised to it."""
    r = np.maximum(np.asarray(reference, dtype=float), epsilon)
    c = np.maximum(np.asarray(current, dtype=float), epsilon)
    if r.shape != c.shape:
        raise EngineError(f"reference and current shares differ in length: {r.shape} and {c.shape}")
    return float(np.sum((c - r) * np.log(c / r)))


def quantile_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """The interior cut points of ``bins`` reference-quantile bins (duplicates merged, so a variable with
    few distinct values gets fewer bins). Bins are closed on the right: (-inf, e1], (e1, e2], ... (ek, inf)."""
    if bins < 2:
        raise EngineError(f"bins must be >= 2, got {bins}")
    values = np.asarray(reference, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.array([])
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def _numeric_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of (bins..., missing) for ``values`` cut at ``edges``."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    counts = np.bincount(np.searchsorted(edges, values[finite], side="left"), minlength=len(edges) + 1)
    counts = np.append(counts, (~finite).sum())
    return counts / max(len(values), 1)


def psi_numeric(reference: np.ndarray | pd.Series, current: np.ndarray | pd.Series, bins: int = 10, epsilon: float = 1e-4) -> float:
    """PSI of a numeric variable, binned at ``bins`` quantiles of ``reference`` plus a missing-value bin."""
    reference, current = _non_empty(reference, current)
    edges = quantile_edges(reference, bins)
    return psi_from_shares(_numeric_shares(reference, edges), _numeric_shares(current, edges), epsilon)


def _levels(values: np.ndarray | pd.Series) -> pd.Series:
    series = pd.Series(values, dtype=object)
    return series.where(series.notna(), MISSING).astype(str)


def psi_categorical(reference: np.ndarray | pd.Series, current: np.ndarray | pd.Series, epsilon: float = 1e-4) -> float:
    """PSI of a categorical variable over the union of the levels of both samples (missing is a level)."""
    reference, current = _non_empty(reference, current)
    r, c = _levels(reference).value_counts(normalize=True), _levels(current).value_counts(normalize=True)
    levels = r.index.union(c.index)
    return psi_from_shares(r.reindex(levels, fill_value=0).to_numpy(), c.reindex(levels, fill_value=0).to_numpy(), epsilon)


def _non_empty(reference: np.ndarray | pd.Series, current: np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    reference, current = np.asarray(reference), np.asarray(current)
    for name, values in (("reference", reference), ("current", current)):
        if values.size == 0:
            raise EngineError(f"PSI needs values on both sides; the {name} sample is empty")
    return reference, current


def is_numeric(values: pd.Series) -> bool:
    """Whether a column is binned by quantiles (numbers) rather than by level (text, categories, booleans)."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _missing(values: pd.Series) -> int:
    if is_numeric(values):
        return int((~np.isfinite(values.to_numpy(dtype=float))).sum())
    return int(values.isna().sum())


def drift_table(
    reference: pd.DataFrame, current: pd.DataFrame, bins: int = 10, epsilon: float = 1e-4, columns: list[str] | None = None
) -> pd.DataFrame:
    """PSI of every column (or of ``columns``) between a reference and a current table, largest first:
    one row per feature with :data:`DRIFT_COLUMNS`. A column missing from either table is an error
    naming it."""
    names = list(reference.columns) if columns is None else list(columns)
    missing = [name for name in names if name not in reference or name not in current]
    if missing:
        raise EngineError(f"drift_table: column(s) {missing} are not in both the reference and the current table")
    rows = []
    for name in names:
        ref, cur = reference[name], current[name]
        numeric = is_numeric(ref) and is_numeric(cur)
        psi = psi_numeric(ref, cur, bins, epsilon) if numeric else psi_categorical(ref, cur, epsilon)
        rows.append((name, NUMERIC if numeric else CATEGORICAL, psi, len(ref), len(cur), _missing(ref), _missing(cur)))
    table = pd.DataFrame(rows, columns=list(DRIFT_COLUMNS))
    return table.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)
