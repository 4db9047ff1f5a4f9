"""What the discovery ranker's features stand on at one date (:mod:`discovery_ranker`): its candidate
generators fitted on the lines before it, and the item, customer and category statistics of those lines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from implicit.nearest_neighbours import ItemItemRecommender
from scipy import sparse

from engine.data.columns import Columns
from engine.recommend.als import ALSRecommender
from engine.recommend.category_features import CategoryHistory
from engine.recommend.ease import EASERecommender
from engine.recommend.interactions import interaction_matrix
from engine.recommend.knn import ItemKNNRecommender
from engine.recommend.sorted_keys import distinct_sorted, packed_key, runs, unpack
from engine.recommend.training_data import TrainingData

RECENT_DAYS = 28  # "recent" for the recent-history neighbours, recent popularity and trend features


@dataclass
class Snapshot:
    """Generators fitted on the lines before ``data.as_of`` and the item and customer statistics the
    features need; every array is on ``data``'s catalogue and customers."""

    data: TrainingData
    ease: EASERecommender
    ease_columns: np.ndarray  # where EASE's catalogue (the most bought items) sits in ``data``'s
    als: ALSRecommender
    knn: ItemKNNRecommender
    peers: sparse.csr_matrix  # customers x customers: each customer's most similar customers (cosine of items)
    bought: sparse.csr_matrix  # 1 where the customer has any purchase line of the item
    recent: sparse.csr_matrix  # counts of the last 28 days
    item: np.ndarray  # (n_items, 6): buyers, recent buyers, trend, age, days since sale, repeat share
    item_price: np.ndarray  # (n_items,) median unit price
    customer: np.ndarray  # (n_customers, 4): visits, items, days since visit, recent items
    customer_price: np.ndarray  # (n_customers,) median unit price paid
    categories: CategoryHistory | None  # the customers' purchases per category (None: the shop has none)


def peers(bought: sparse.csr_matrix, neighbours: int, num_threads: int = 1) -> sparse.csr_matrix:
    """Each customer's ``neighbours`` most similar other customers (cosine of their bought items): the
    user-based neighbourhood source (on ``num_threads`` threads; each row is found alone, so the count
    changes no value)."""
    norms = np.sqrt(np.asarray(bought.sum(axis=1)).ravel())
    normalized = sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ bought
    model = ItemItemRecommender(K=neighbours + 1, num_threads=num_threads)
    model.fit(sparse.csr_matrix(normalized.T, dtype=np.float64), show_progress=False)
    peers = sparse.csr_matrix(model.similarity, dtype=np.float64)
    peers.setdiag(0.0)
    peers.eliminate_zeros()
    return peers


def snapshot_statistics(
    data: TrainingData, ease: EASERecommender, ease_columns: np.ndarray, als: ALSRecommender, knn: ItemKNNRecommender
) -> Snapshot:
    """The item, customer and category statistics of :data:`discovery_ranker.FEATURES` from the purchase
    lines before ``data.as_of``."""
    c = Columns
    lines = data.transactions
    lines = lines.loc[(lines[c.timestamp] < data.as_of) & (lines[c.quantity] > 0)]
    user = data.customers.to_internal(lines[c.customer].to_numpy())
    item = data.items.to_internal(lines[c.item].to_numpy())
    age = np.floor((data.as_of - lines[c.timestamp]).to_numpy() / np.timedelta64(1, "D"))
    price = lines[c.unit_price].to_numpy(dtype=np.float64)
    frame = pd.DataFrame({"user": user, "item": item, "age": age, "price": price})
    n_customers, n_items = len(data.customers), len(data.items)
    shape = (n_customers, n_items)
    known = frame.loc[(frame["user"] >= 0) & (frame["item"] >= 0)]
    bought = sparse.csr_matrix((np.ones(len(known)), (known["user"], known["item"])), shape=shape)
    bought.data[:] = 1.0
    recent_lines = data.transactions.loc[data.transactions[c.timestamp] >= data.as_of - pd.Timedelta(days=RECENT_DAYS)]
    recent = interaction_matrix(recent_lines.loc[recent_lines[c.timestamp] < data.as_of], data.customers, data.items)
    on_catalogue = frame.loc[frame["item"] >= 0]
    pair_days = _pair_days(on_catalogue.loc[on_catalogue["user"] >= 0])
    buyers, repeaters, recent_buyers, previous = _item_buyers(pair_days, n_items)
    sales = on_catalogue.groupby("item")["age"].agg(["max", "min"])
    items = np.arange(n_items)
    item_stats = np.column_stack(
        [
            buyers, recent_buyers, (recent_buyers + 1.0) / (previous + 1.0),
            sales["max"].reindex(items).to_numpy(np.float64), sales["min"].reindex(items).to_numpy(np.float64),
            repeaters / np.maximum(buyers, 1.0),
        ]
    )
    mine = frame.loc[frame["user"] >= 0]
    per_user = mine.groupby("user").agg(visits=("age", "nunique"), latest=("age", "min"), price=("price", "median"))
    users = np.arange(n_customers)
    customer_items = np.diff(bought.indptr).astype(np.float64)
    customer_stats = np.column_stack(
        [
            per_user["visits"].reindex(users).to_numpy(np.float64), customer_items,
            per_user["latest"].reindex(users).to_numpy(np.float64), np.diff(recent.indptr).astype(np.float64),
        ]
    )
    categories = None if data.categories is None else CategoryHistory.build(data.categories, pair_days, n_customers, buyers)
    return Snapshot(
        data, ease, ease_columns, als, knn, peers(bought, knn.neighbours, knn.num_threads), bought, recent, item_stats,
        on_catalogue.groupby("item")["price"].median().reindex(items).to_numpy(np.float64),
        customer_stats, per_user["price"].reindex(users).to_numpy(np.float64), categories,
    )


def _pair_days(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, item, age) of ``frame``'s purchase lines, ascending (sort-based, :mod:`sorted_keys`)."""
    key, radices = packed_key(*(frame[name].to_numpy(np.int64) for name in ("user", "item", "age")))
    user, item, age = unpack(distinct_sorted(key), radices)
    return pd.DataFrame({"user": user, "item": item, "age": age.astype(np.float64)})


def _item_buyers(pair_days: pd.DataFrame, n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per item: its buyers, those who bought it on two days or more, those who bought it in the last
    :data:`RECENT_DAYS` days and those who bought it in the :data:`RECENT_DAYS` before (float arrays)."""
    user, item, age = (pair_days[name].to_numpy(np.int64) for name in ("user", "item", "age"))
    key, radices = packed_key(user, item)
    pairs, start, days = runs(key)  # pair_days ascend: a pair's first row is its latest purchase day
    pair_item = unpack(pairs, radices)[1]
    before = (age >= RECENT_DAYS) & (age < 2 * RECENT_DAYS)
    previous = unpack(distinct_sorted(key[before]), radices)[1]
    return tuple(  # type: ignore[return-value]
        np.bincount(items, weights=weights, minlength=n_items).astype(np.float64)
        for items, weights in ((pair_item, None), (pair_item, days >= 2), (pair_item, age[start] < RECENT_DAYS), (previous, None))
    )
