"""Customer x category features of the learned rankers, at each category level (:data:`LEVELS`).

What the field adds to customer-item features when products have a taxonomy: how much of the customer's
shopping goes to the item's category, how long ago they last bought anything in it, how many items of it
they buy (variety seeking against loyalty), and how popular the category is among similar customers
(discovery); for an item the customer already buys, whether they bought a substitute since and how
much of the category goes to this item (repeat). A shop without categories, or without a level, gets
NaN for those columns, which LightGBM never splits on: its rankers fit exactly as without them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from engine.recommend.categories import LEVELS, ItemCategories
from engine.recommend.sorted_keys import distinct_sorted, packed_key, runs, unpack

REPEAT_FEATURES = tuple(
    f"{level}_{name}"
    for level in LEVELS
    for name in (
        "days_since",  # days since the customer last bought anything in the item's category (a substitute?)
        "item_share",  # the item's purchase days / the customer's purchase days in its category
        "items",  # distinct items the customer bought in the category
        "overdue",  # days since the category's last purchase / the customer's mean gap in it
    )
)
DISCOVERY_FEATURES = tuple(
    f"{level}_{name}"
    for level in LEVELS
    for name in (
        "share",  # the customer's purchase days in the candidate's category / their shopping days
        "days_since",  # days since they last bought in it (NaN: never)
        "items",  # distinct items they bought in it
        "peer_share",  # share of their most similar customers (weighted) who bought in it
        "item_share",  # the candidate's buyers / the category's buyers (its popularity within it)
    )
)


def category_stats(days: pd.DataFrame, codes: np.ndarray) -> pd.DataFrame:
    """Per (user, category) the customer bought in, ascending: purchase days, ``last`` and ``first`` age
    and distinct items, from one row per (user, item, age) purchase day (whole days); items without a
    category are left out. Sort-based (:mod:`sorted_keys`): linear at ten times Complete Journey."""
    item = days["item"].to_numpy(np.int64)
    category = codes[item]
    kept = category >= 0
    user, item, category = days["user"].to_numpy(np.int64)[kept], item[kept], category[kept]
    age = days["age"].to_numpy(np.int64)[kept]
    day_key, day_radices = packed_key(user, category, age)
    pair_user, pair_category, pair_age = unpack(distinct_sorted(day_key), day_radices)
    pair_key, pair_radices = packed_key(pair_user, pair_category)
    pairs, start, n_days = runs(pair_key)
    item_key, item_radices = packed_key(user, category, item)
    item_user, item_category, _ = unpack(distinct_sorted(item_key), item_radices)
    n_items = runs(packed_key(item_user, item_category)[0])[2]
    pair_user, pair_category = unpack(pairs, pair_radices)
    return pd.DataFrame({
        "user": pair_user, "category": pair_category, "days": n_days,
        "last": pair_age[start].astype(np.float64), "first": pair_age[start + n_days - 1].astype(np.float64), "items": n_items,
    })


def repeat_category_features(
    categories: ItemCategories | None, days: pd.DataFrame, users: np.ndarray, items: np.ndarray, item_days: np.ndarray
) -> np.ndarray:
    """:data:`REPEAT_FEATURES` (rows x columns) of customer-item pairs (``users``, ``items``) that the
    customer bought on ``item_days`` days, from their purchase days ``days`` (user, item, age)."""
    out = np.full((len(users), len(REPEAT_FEATURES)), np.nan)
    width = len(REPEAT_FEATURES) // len(LEVELS)
    for position, level in enumerate(LEVELS):
        codes = None if categories is None else categories.of(level)
        if codes is None:
            continue
        days_in, last, first, n_items = _pair_stats(category_stats(days, codes), users, codes[items], int(codes.max()) + 1)
        gap = (first - last) / np.where(days_in > 1, days_in - 1, np.nan)
        out[:, position * width : (position + 1) * width] = np.column_stack(
            [last, item_days / days_in, n_items, last / np.where(gap > 0, gap, np.nan)]
        )
    return out


def _pair_stats(stats: pd.DataFrame, users: np.ndarray, category: np.ndarray, size: int) -> list[np.ndarray]:
    """:func:`category_stats`' days, last, first and items (float) of each (user, category) asked for,
    NaN where the customer never bought in it or the item has no category (a binary search in the
    ascending stats)."""
    keys = stats["user"].to_numpy(np.int64) * size + stats["category"].to_numpy(np.int64)
    asked = users.astype(np.int64) * size + np.maximum(category, 0)
    at = np.minimum(np.searchsorted(keys, asked), max(len(keys) - 1, 0))
    found = (category >= 0) & (keys[at] == asked) if len(keys) else np.zeros(len(asked), dtype=bool)
    columns = []
    for name in ("days", "last", "first", "items"):
        values = stats[name].to_numpy(np.float64)[at] if len(keys) else np.empty(len(asked))
        columns.append(np.where(found, values, np.nan))
    return columns


@dataclass(frozen=True)
class CategoryHistory:
    """Per level of :data:`LEVELS` the shop has (``None`` otherwise): each item's category (``codes``),
    customer x category matrices of purchase days, days since the last purchase plus one (0: never) and
    distinct items, and each item's share of its category's buyers."""

    codes: tuple[np.ndarray | None, ...]
    days: tuple[sparse.csr_matrix | None, ...]
    since: tuple[sparse.csr_matrix | None, ...]
    items: tuple[sparse.csr_matrix | None, ...]
    item_share: tuple[np.ndarray | None, ...]

    @classmethod
    def build(cls, categories: ItemCategories, days: pd.DataFrame, n_customers: int, item_buyers: np.ndarray) -> CategoryHistory:
        """From one row per (user, item, age) purchase day and each item's distinct buyers."""
        parts: list[tuple[np.ndarray | None, ...]] = []
        for level in LEVELS:
            codes = categories.of(level)
            if codes is None:
                parts.append((None,) * 5)
                continue
            stats = category_stats(days, codes)
            shape = (n_customers, int(codes.max()) + 1)
            where = (stats["user"].to_numpy(), stats["category"].to_numpy())
            matrices = [sparse.csr_matrix((stats[name].to_numpy(np.float64) + offset, where), shape=shape)
                        for name, offset in (("days", 0.0), ("last", 1.0), ("items", 0.0))]
            buyers = np.bincount(stats["category"].to_numpy(), minlength=shape[1]).astype(np.float64)
            share = item_buyers / np.maximum(buyers[np.maximum(codes, 0)], 1.0)
            parts.append((codes, *matrices, np.where(codes >= 0, share, np.nan)))
        return cls(*(tuple(column) for column in zip(*parts)))

    def finest(self) -> int | None:
        """The position of the finest level the shop has."""
        present = [position for position, codes in enumerate(self.codes) if codes is not None]
        return present[-1] if present else None

    def source_scores(self, users: np.ndarray, visits: np.ndarray) -> np.ndarray:
        """The category source (customers ``users`` x items): at the finest level, the customer's share of
        shopping days in the item's category x the item's share of its category's buyers; -inf for items
        of categories the customer never bought (so it proposes only their categories' popular items)."""
        level = self.finest()
        assert level is not None  # built with at least one level
        codes, days, share = self.codes[level], self.days[level], self.item_share[level]
        assert codes is not None and days is not None and share is not None
        in_category = days[users].toarray() / np.maximum(visits, 1.0)[:, None]
        scores = in_category[:, np.maximum(codes, 0)] * np.nan_to_num(share)[None, :]
        return np.where(scores > 0, scores, -np.inf)

    def features(
        self, users: np.ndarray, rows: np.ndarray, items: np.ndarray, visits: np.ndarray, peers: sparse.csr_matrix
    ) -> np.ndarray:
        """:data:`DISCOVERY_FEATURES` of candidates (``users[rows]``, ``items``); ``visits``: the shopping
        days of ``users``; ``peers``: their similar customers' weights (rows ``users``, all customers)."""
        out = np.full((len(rows), len(DISCOVERY_FEATURES)), np.nan)
        width = len(DISCOVERY_FEATURES) // len(LEVELS)
        weight = np.asarray(peers.sum(axis=1)).ravel()
        for position, (codes, days, since, bought, share) in enumerate(zip(self.codes, self.days, self.since, self.items, self.item_share)):
            if codes is None or days is None or since is None or bought is None or share is None:
                continue
            category = codes[items]
            cell = (rows, np.maximum(category, 0))
            last = since[users].toarray()[cell]
            peer = (peers @ (days > 0).astype(np.float64)).toarray()[cell] / np.where(weight > 0, weight, np.nan)[rows]
            columns = np.column_stack(
                [days[users].toarray()[cell] / np.maximum(visits[rows], 1.0), np.where(last > 0, last - 1.0, np.nan),
                 bought[users].toarray()[cell], peer, share[items]]
            )
            columns[category < 0] = np.nan
            out[:, position * width : (position + 1) * width] = columns
        return out
