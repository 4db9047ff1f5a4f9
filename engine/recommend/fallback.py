"""What every recommender falls back to: global and per-segment popularity, and customer segments.

A customer without usable history gets the popular items of their RFM segment (when their segment is
known) or of the whole shop; popularity also breaks ties in every model's ranking. Two measures are
kept, overall and per segment: ``buyers`` (distinct customers who bought the item; what cold start and
tie-breaking use, since for a customer we know nothing about the item most customers buy is the
safest bet) and ``purchases`` (the summed interaction counts: the shop's "bestsellers").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse

from engine.customers.rfm import rfm_scores
from engine.customers.segments import SegmentRules, assign_segments
from engine.data.idmap import IdMap

NO_SEGMENT = -1


def customer_segments(
    transactions: pd.DataFrame, as_of: pd.Timestamp, customers: IdMap, rules: SegmentRules | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """RFM segment (named by ``rules``; default: the built-in table) of every customer as of ``as_of``:
    (segment names, segment index per customer, ``NO_SEGMENT`` for customers RFM cannot score, e.g.
    with only returns)."""
    segments = assign_segments(rfm_scores(transactions, as_of), rules)
    names = np.asarray(sorted(segments.unique()), dtype=str)
    codes = pd.Series(np.arange(len(names)), index=names)
    per_customer = np.full(len(customers), NO_SEGMENT, dtype=np.int64)
    positions = customers.to_internal(segments.index.to_numpy())
    known = positions >= 0
    per_customer[positions[known]] = codes.reindex(segments.to_numpy()[known]).to_numpy()
    return names, per_customer


Measure = Literal["buyers", "purchases"]
MEASURES: tuple[str, ...] = ("buyers", "purchases")


@dataclass(frozen=True)
class PopularityTable:
    """Buyers and purchases per item, overall and within each segment, and every customer's segment."""

    item_buyers: np.ndarray  # (n_items,)
    item_purchases: np.ndarray  # (n_items,)
    segment_names: np.ndarray  # (n_segments,) str
    segment_buyers: np.ndarray  # (n_segments, n_items)
    segment_purchases: np.ndarray  # (n_segments, n_items)
    customer_segment: np.ndarray  # (n_customers,) index into segment_names or NO_SEGMENT
    rank: np.ndarray  # (n_items,) by buyers: 0 = most popular; ties by item index

    @classmethod
    def build(
        cls, counts: sparse.csr_matrix, segment_names: np.ndarray, customer_segment: np.ndarray
    ) -> PopularityTable:
        bought = (counts > 0).astype(np.float32).tocsr()
        member = customer_segment >= 0
        membership = sparse.csr_matrix(
            (np.ones(int(member.sum()), dtype=np.float32), (customer_segment[member], np.flatnonzero(member))),
            shape=(len(segment_names), counts.shape[0]),
        )
        item_buyers = _column_sums(bought)
        return cls(
            item_buyers=item_buyers,
            item_purchases=_column_sums(counts),
            segment_names=np.asarray(segment_names, dtype=str),
            segment_buyers=np.asarray((membership @ bought).todense(), dtype=np.float32),
            segment_purchases=np.asarray((membership @ counts).todense(), dtype=np.float32),
            customer_segment=customer_segment,
            rank=_rank(item_buyers),
        )

    @cached_property
    def order(self) -> np.ndarray:
        """Item indices from the most popular (by buyers) down: the inverse of ``rank``."""
        order = np.empty_like(self.rank)
        order[self.rank] = np.arange(self.rank.size)
        return order

    def segment_index(self, name: str | None) -> int:
        if name is None:
            return NO_SEGMENT
        found = np.flatnonzero(self.segment_names == str(name))
        return int(found[0]) if found.size else NO_SEGMENT

    def scores(self, segment: int = NO_SEGMENT, measure: Measure = "buyers") -> np.ndarray:
        """Popularity scores (a fresh float64 array): within ``segment`` if known, else global."""
        if segment == NO_SEGMENT:
            table = self.item_buyers if measure == "buyers" else self.item_purchases
        else:
            table = (self.segment_buyers if measure == "buyers" else self.segment_purchases)[segment]
        return table.astype(np.float64)

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in _SAVED}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> PopularityTable:
        return cls(**{name: arrays[name] for name in _SAVED}, rank=_rank(arrays["item_buyers"]))


_SAVED = (
    "item_buyers", "item_purchases", "segment_names", "segment_buyers", "segment_purchases", "customer_segment"
)


def _column_sums(matrix: sparse.csr_matrix) -> np.ndarray:
    return np.asarray(matrix.sum(axis=0), dtype=np.float32).ravel()


def _rank(item_buyers: np.ndarray) -> np.ndarray:
    order = np.argsort(-item_buyers, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank
