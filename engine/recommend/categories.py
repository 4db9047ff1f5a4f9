"""Product categories for the recommenders: an optional item -> category mapping on the catalogue.

A shop's products table may name each product's ``category`` and a finer ``sub_category`` (Complete
Journey: commodity and sub-commodity). The training pipeline puts them on the transaction lines
(:func:`with_product_categories`), so that every fit sees them without a new argument: the validation
search, the test fit, the refit to serve and the rankers' own label windows all slice the same lines.
:meth:`RecommenderModel.fit` maps them onto its catalogue (:class:`ItemCategories`, carried by
:class:`TrainingData`); lines without those columns give ``None`` and every model fits exactly as
without categories. The rankers store their scores, so a saved model never needs the products table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.idmap import IdMap

LEVELS = (Columns.category, Columns.sub_category)  # coarse to fine


def with_product_categories(transactions: pd.DataFrame, products: pd.DataFrame | None) -> pd.DataFrame:
    """The lines with their product's :data:`LEVELS` (those the products table has) as categorical
    columns; the lines themselves when there is no products table or no category column. A product
    missing from the table, or without a value, has no category (NaN)."""
    levels = [] if products is None else [level for level in LEVELS if level in products and level not in transactions]
    if products is None or not levels:
        return transactions
    table = products.drop_duplicates(Columns.item).set_index(Columns.item)
    return transactions.assign(
        **{level: transactions[Columns.item].map(table[level]).astype("category") for level in levels}
    )


@dataclass(frozen=True)
class ItemCategories:
    """Each catalogue item's category index at each level (``codes[item, level]``, -1: none) and the
    number of categories per level (``sizes``)."""

    levels: tuple[str, ...]
    codes: np.ndarray
    sizes: tuple[int, ...]

    @classmethod
    def from_lines(cls, transactions: pd.DataFrame, items: IdMap) -> ItemCategories | None:
        """The categories the lines carry (:func:`with_product_categories`) on catalogue ``items``;
        ``None`` when the lines carry none for any catalogue item (a level without any is left out)."""
        first = transactions.drop_duplicates(Columns.item) if any(level in transactions for level in LEVELS) else None
        if first is None:
            return None
        positions = items.to_internal(first[Columns.item].to_numpy())
        known = positions >= 0
        levels, columns, sizes = [], [], []
        for level in (level for level in LEVELS if level in transactions):
            values = pd.Categorical(first[level])
            codes = np.full(len(items), -1, dtype=np.int64)
            codes[positions[known]] = values.codes[known]
            if (codes >= 0).any():
                levels.append(level)
                columns.append(codes)
                sizes.append(len(values.categories))
        return cls(tuple(levels), np.column_stack(columns), tuple(sizes)) if levels else None

    def of(self, level: str) -> np.ndarray | None:
        """Each item's category index at ``level`` (-1: none), ``None`` when the shop lacks that level."""
        return self.codes[:, self.levels.index(level)] if level in self.levels else None

    def subset(self, positions: np.ndarray) -> ItemCategories:
        """The categories of the items at ``positions`` (a smaller catalogue, in its order)."""
        return ItemCategories(self.levels, self.codes[positions], self.sizes)
