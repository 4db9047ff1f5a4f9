"""The customer x item interaction matrix, built in one place, and its confidence weightings.

Every recommender starts from the same matrix: one row per customer, one column per candidate item,
holding how much the customer bought the item. ``value="purchases"`` counts purchase lines (a return
line counts -1), ``value="quantity"`` sums units (returns are negative quantities). Returns can only
reduce a cell to zero, never below. An optional half-life decays each line by its age, so that what
a customer bought last week weighs more than what they bought last year.

Collaborative models then turn counts into confidence: ``linear`` (alpha x count), ``log``
(alpha x log(1 + count)), ``bm25`` (BM25 over items x customers, as in implicit's examples) or
``binary`` (alpha for every positive cell).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse

from engine.data.columns import Columns
from engine.data.idmap import IdMap
from engine.errors import EngineError

Value = Literal["purchases", "quantity"]
Weighting = Literal["linear", "log", "bm25", "binary"]
VALUES: tuple[str, ...] = ("purchases", "quantity")
WEIGHTINGS: tuple[str, ...] = ("linear", "log", "bm25", "binary")
_MIN_CONFIDENCE = 1e-6
REQUIRED = (Columns.customer, Columns.item, Columns.timestamp, Columns.quantity)


def check_transactions(transactions: pd.DataFrame, parameter: str = "transactions") -> None:
    """Raise if ``transactions`` is empty or lacks a column the recommenders need."""
    if not isinstance(transactions, pd.DataFrame):
        raise EngineError(f"{parameter} must be a pandas DataFrame of transactions, got {type(transactions).__name__}")
    missing = [column for column in REQUIRED if column not in transactions.columns]
    if missing:
        raise EngineError(f"{parameter} lacks column(s) {missing}; it needs {list(REQUIRED)}")
    if transactions.empty:
        raise EngineError(f"{parameter} is empty: nothing to learn from")


def buyers(counts: sparse.csr_matrix) -> np.ndarray:
    """Distinct customers per item column: those who hold the item on balance (not all returned)."""
    return np.bincount(counts.indices[counts.data > 0], minlength=counts.shape[1])


def select_items(buyers: pd.Series, min_buyers: int = 1, max_items: int | None = None) -> IdMap:
    """The items that may be recommended, from buyer counts (item id -> distinct buyers): bought by at
    least ``min_buyers`` customers, and at most the ``max_items`` with the most buyers (ties broken by
    item id).

    Raising the threshold drops the long tail of items nobody can learn anything about (bought once,
    by one household); the cap keeps dense item-item models small.
    """
    if not isinstance(min_buyers, (int, np.integer)) or min_buyers < 1:
        raise EngineError(f"min_item_buyers must be an integer >= 1, got {min_buyers!r}")
    if max_items is not None and (not isinstance(max_items, (int, np.integer)) or max_items < 1):
        raise EngineError(f"max_items must be a positive integer or None, got {max_items!r}")
    buyers = pd.Series(buyers.to_numpy(), index=buyers.index.astype(str))
    kept = buyers[buyers.to_numpy() >= min_buyers]
    if len(kept) == 0:
        raise EngineError(
            f"no item has at least min_item_buyers={min_buyers} buyers (most bought item: "
            f"{int(buyers.max()) if len(buyers) else 0}); lower min_item_buyers"
        )
    if max_items is not None and len(kept) > max_items:
        ranked = pd.DataFrame({"item": kept.index, "buyers": kept.to_numpy()})
        ranked = ranked.sort_values(["buyers", "item"], ascending=[False, True])
        kept = kept.loc[ranked["item"].to_numpy()[:max_items]]
    return IdMap.from_values(kept.index)


def interaction_matrix(
    transactions: pd.DataFrame,
    customers: IdMap,
    items: IdMap,
    value: Value = "purchases",
    half_life_days: float | None = None,
    as_of: pd.Timestamp | None = None,
) -> sparse.csr_matrix:
    """Customers x items (float32 CSR): summed purchases or quantities, returns subtracted, floored
    at zero; lines of customers or items outside the maps are left out.

    With ``half_life_days``, a line ``d`` days before ``as_of`` counts ``0.5 ** (d / half_life_days)``.
    """
    if value not in VALUES:
        raise EngineError(f"value must be one of {VALUES}, got {value!r}")
    rows = customers.to_internal(transactions[Columns.customer].to_numpy())
    cols = items.to_internal(transactions[Columns.item].to_numpy())
    quantity = transactions[Columns.quantity].to_numpy(dtype=np.float64)
    amounts = np.sign(quantity) if value == "purchases" else quantity
    if half_life_days is not None:
        if half_life_days <= 0:
            raise EngineError(f"half_life_days must be positive, got {half_life_days}")
        if as_of is None:
            raise EngineError("interaction_matrix: a half-life needs as_of")
        age = (as_of - transactions[Columns.timestamp]).to_numpy() / np.timedelta64(1, "D")
        amounts = amounts * np.power(0.5, np.clip(age, 0.0, None) / half_life_days)
    keep = (rows >= 0) & (cols >= 0)
    matrix = sparse.coo_matrix(
        (amounts[keep], (rows[keep], cols[keep])), shape=(len(customers), len(items))
    ).tocsr()  # duplicates are summed here
    matrix.data = np.clip(matrix.data, 0.0, None)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix.astype(np.float32)


class Confidence:
    """Confidence weighting of counts, fitted once on the training matrix and then applied to any rows
    (a batch of known customers, or a customer folded in after training) in exactly the same way.

    ``bm25`` follows implicit's ``bm25_weight`` on the items x customers matrix: an item's length norm
    (``1 - b + b x item total / mean item total``) is learned at fit; a customer's idf
    (``log(n_items) - log(1 + n_items bought)``) depends only on their own row.
    """

    def __init__(
        self, weighting: Weighting = "linear", alpha: float = 1.0, bm25_k1: float = 100.0, bm25_b: float = 0.8
    ) -> None:
        self.weighting = weighting
        self.alpha = alpha
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b

    def fit(self, counts: sparse.csr_matrix) -> Confidence:
        if self.weighting not in WEIGHTINGS:
            raise EngineError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if not self.alpha > 0:
            raise EngineError(f"alpha must be positive, got {self.alpha}")
        totals = np.asarray(counts.sum(axis=0), dtype=np.float64).ravel()
        mean = totals.mean() if totals.size and totals.mean() > 0 else 1.0
        self.item_norm_ = ((1.0 - self.bm25_b) + self.bm25_b * totals / mean).astype(np.float32)
        return self

    def transform(self, rows: sparse.csr_matrix) -> sparse.csr_matrix:
        """Weighted copy of ``rows`` (customers x items, float32 CSR, same sparsity pattern)."""
        weighted = sparse.csr_matrix(rows, dtype=np.float32, copy=True)
        if self.weighting == "log":
            weighted.data = np.log1p(weighted.data)
        elif self.weighting == "binary":
            weighted.data = np.ones_like(weighted.data)
        elif self.weighting == "bm25":
            n_items = max(weighted.shape[1], 1)
            idf = np.log(n_items) - np.log1p(np.diff(weighted.indptr)).astype(np.float32)
            row_of = np.repeat(np.arange(weighted.shape[0]), np.diff(weighted.indptr))
            k1 = np.float32(self.bm25_k1)
            weighted.data = (
                weighted.data * (k1 + 1) / (k1 * self.item_norm_[weighted.indices] + weighted.data) * idf[row_of]
            )
            # the idf turns negative for a customer who bought nearly the whole (small) catalogue; a
            # confidence must stay positive, so it is floored at a tiny value instead
            weighted.data = np.maximum(weighted.data, np.float32(_MIN_CONFIDENCE))
        weighted.data = (weighted.data * np.float32(self.alpha)).astype(np.float32)
        return weighted

    def fit_transform(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        return self.fit(counts).transform(counts)


def sparse_arrays(name: str, matrix: sparse.csr_matrix) -> dict[str, np.ndarray]:
    """The arrays of a CSR matrix under ``name_*`` keys, for an npz file."""
    return {f"{name}_data": matrix.data, f"{name}_indices": matrix.indices, f"{name}_indptr": matrix.indptr}


def sparse_from_arrays(arrays: Mapping[str, np.ndarray], name: str, shape: tuple[int, int]) -> sparse.csr_matrix:
    """The CSR matrix saved by :func:`sparse_arrays`."""
    return sparse.csr_matrix(
        (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]), shape=shape
    )
