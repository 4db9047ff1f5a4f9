"""What every recommender is fitted from, built once by :meth:`RecommenderModel.fit`: the lines, id maps,
the customer x item counts, the as-of date, the popularity table and the items' categories if the lines
carry them."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from scipy import sparse

from engine.data.idmap import IdMap
from engine.errors import EngineError
from engine.recommend.categories import ItemCategories
from engine.recommend.fallback import PopularityTable
from engine.recommend.interactions import select_items


@dataclass(frozen=True)
class TrainingData:
    """Everything a model is fitted from, built once by :meth:`RecommenderModel.fit`.

    ``counts`` is customers x candidate items (see :func:`interaction_matrix`); ``transactions`` are
    the fitted lines (all of them; models that use timestamps map them with the id maps). ``categories``:
    the catalogue's product categories, ``None`` when the lines carry none (see :mod:`categories`).
    """

    transactions: pd.DataFrame
    customers: IdMap
    items: IdMap
    counts: sparse.csr_matrix
    as_of: pd.Timestamp
    popularity: PopularityTable
    min_item_buyers: int
    categories: ItemCategories | None = None

    def within(self, min_item_buyers: int, max_items: int | None) -> TrainingData:
        """The same data on a smaller catalogue chosen by the same rule, without re-reading the
        transactions (``min_item_buyers`` must be at least this catalogue's, so that no item is missing)."""
        if min_item_buyers < self.min_item_buyers:
            raise EngineError(
                f"min_item_buyers={min_item_buyers} is below that of the catalogue it is taken from "
                f"({self.min_item_buyers})"
            )
        buyers = pd.Series(self.popularity.item_buyers, index=self.items.external_ids)
        items = select_items(buyers, min_item_buyers, max_items)
        positions = self.items.to_internal(items.external_ids)
        counts = sparse.csr_matrix(self.counts[:, positions])
        popularity = PopularityTable.build(counts, self.popularity.segment_names, self.popularity.customer_segment)
        categories = None if self.categories is None else self.categories.subset(positions)
        return TrainingData(self.transactions, self.customers, items, counts, self.as_of, popularity, min_item_buyers, categories)
