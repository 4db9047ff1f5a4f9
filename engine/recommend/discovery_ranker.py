"""A two-stage discovery ranker: candidates from several sources, ranked by LightGBM.

What the field uses for "items this customer has not bought yet" (e.g. the H&M and Otto Kaggle
winners, RecTools' two-stage models): each customer gets a few hundred candidate items they never
bought, the union of the top items of several cheap generators, and a gradient-boosted ranker
orders them from customer-item features. The generators (:data:`SOURCES`) are EASE, ALS, item-item
neighbours of the customer's whole history and of their last 28 days, customer-customer
neighbours, popularity by distinct buyers,
popularity within the customer's RFM segment, and the items most bought in the last 28 days. The
features (:data:`FEATURES`) are each generator's score and rank, the item's popularity, trend, age
and price level against what the customer usually pays, and the customer's activity.

Training needs no outside window: ``fit`` carves ``label_windows`` back-to-back windows of
``label_days`` from the end of its own data; for each, every generator is refitted on the lines
before the window's start (so nothing from the label window reaches a feature) and the labels are the
candidates bought in the window. Then everything is refitted on all the data and every customer's
candidates are scored once: serving is a lookup in a sparse customers x items matrix. A customer
folded in after training is scored by the item-item neighbours of their items (saved as a part).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import sparse

from engine.data.columns import Columns
from engine.errors import EngineError
from engine.recommend.als import ALSRecommender
from engine.recommend.base import RecommenderModel
from engine.recommend.category_features import DISCOVERY_FEATURES
from engine.recommend.discovery_snapshot import Snapshot, snapshot_statistics
from engine.recommend.ease import EASERecommender
from engine.recommend.interactions import Value, sparse_arrays, sparse_from_arrays
from engine.recommend.knn import ItemKNNRecommender
from engine.recommend.lambdarank import LambdaRankBooster, booster_from_array, bought_between, check_positive, scores_matrix
from engine.recommend.training_data import TrainingData

RANK_DEPTH = 500  # source ranks beyond this are recorded as this
SOURCES = ("ease", "als", "knn", "recent_knn", "user_knn", "popular", "segment", "recent_popular")
FEATURES = (
    # score / the customer's best score of that source over unbought items: scale-free, unlike raw
    # scores, whose scale moves between the training snapshots and the final one
    *(f"{source}_score" for source in SOURCES),
    *(f"{source}_rank" for source in SOURCES),  # rank among the customer's unbought items (0 = best)
    "n_sources",  # how many generators put the item in the customer's top candidates
    "item_buyers",  # distinct buyers of the item
    "item_recent_buyers",  # ... in the last 28 days
    "item_trend",  # buyers in the last 28 days / buyers in the 28 days before (+1 smoothing)
    "segment_lift",  # share of the customer's segment buying it / share of all customers
    "item_age",  # days since the item's first sale (new items are young)
    "item_days_since_sale",
    "item_repeat_share",  # share of its buyers who bought it on two days or more
    "price_ratio",  # the item's median unit price / the customer's median unit price paid
    "customer_visits",  # the customer's shopping days
    "customer_items",  # distinct items they bought
    "customer_days_since_visit",
    "customer_recent_items",  # distinct items they bought in the last 28 days
    # with product categories (NaN without): the category source (the customer's categories' popular
    # items) and the customer's history in the candidate's category
    "category_score",
    "category_rank",
    *DISCOVERY_FEATURES,
)


class DiscoveryRankerRecommender(LambdaRankBooster, RecommenderModel):
    """Candidates from :data:`SOURCES`, ranked by LightGBM lambdarank (see the module docstring).

    ``candidates_per_source``: the top items each generator contributes per customer.
    ``label_days``, ``label_windows``: the training windows (a window whose features would stand on
    fewer than ``label_days`` of history is left out). ``max_train_customers``: customers sampled per
    window (seeded) to bound the fit time. ``factors``, ``regularization``: the ALS generator's;
    ``neighbours``: the item-item generator's; ``ease_regularization``: EASE's, on the ``ease_items``
    most bought items. ``n_estimators``, ``learning_rate``, ``num_leaves``,
    ``min_child_samples``: the booster's. ``random_state`` makes it reproducible; ``num_threads`` (the booster's,
    ALS's and the neighbours') changes its speed, not its scores.
    """

    kind = "discovery_ranker"
    features = FEATURES

    def __init__(
        self,
        candidates_per_source: int = 50,
        label_days: int = 28,
        label_windows: int = 2,
        max_train_customers: int = 1500,
        factors: int = 64,
        regularization: float = 10.0,
        neighbours: int = 100,
        ease_regularization: float = 1000.0,
        ease_items: int = 5000,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        random_state: int = 42,
        num_threads: int = 1,
        min_item_buyers: int = 1,
        value: Value = "purchases",
    ) -> None:
        super().__init__(min_item_buyers=min_item_buyers, value=value)
        self.candidates_per_source = candidates_per_source
        self.label_days = label_days
        self.label_windows = label_windows
        self.max_train_customers = max_train_customers
        self.factors = factors
        self.regularization = regularization
        self.neighbours = neighbours
        self.ease_regularization = ease_regularization
        self.ease_items = ease_items
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state
        self.num_threads = num_threads

    # --- fitting -------------------------------------------------------------------------------------

    def _fit(self, data: TrainingData) -> None:
        for name in ("candidates_per_source", "label_days", "label_windows", "max_train_customers", "n_estimators"):
            check_positive(name, getattr(self, name))
        self.booster_ = self._train(data)
        final = self._snapshot(data)
        users, items, features = candidate_features(final, np.arange(len(data.customers)), self.candidates_per_source)
        predicted = cast(np.ndarray, self.booster_.predict(features, num_threads=self.num_threads)) if len(users) else np.empty(0)
        self.scores_ = scores_matrix(users, items, predicted, data.counts.shape)
        self.neighbours_ = final.knn

    def _snapshot(self, data: TrainingData) -> Snapshot:
        """Fit the generators and compute the statistics on ``data`` (lines before its as-of date)."""
        als = ALSRecommender(
            factors=self.factors, regularization=self.regularization, weighting="linear",
            random_state=self.random_state, num_threads=self.num_threads, min_item_buyers=data.min_item_buyers,
        )
        knn = ItemKNNRecommender(neighbours=self.neighbours, num_threads=self.num_threads, min_item_buyers=data.min_item_buyers)
        for model in (als, knn):
            model._fit_data(data)
        ease = EASERecommender(regularization=self.ease_regularization, max_items=self.ease_items, min_item_buyers=data.min_item_buyers)
        ease_data = data.within(data.min_item_buyers, self.ease_items)
        ease._fit_data(ease_data)
        return snapshot_statistics(data, ease, data.items.to_internal(ease_data.items.external_ids), als, knn)

    def _train(self, data: TrainingData) -> lgb.Booster:
        """Queries: per label window and sampled customer, the candidates as of the window's start;
        labels: those bought in the window. Customers who bought no candidate are left out."""
        first_day = data.transactions[Columns.timestamp].min()
        rng = np.random.default_rng(self.random_state)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for window in range(self.label_windows):
            end = data.as_of - pd.Timedelta(days=window * self.label_days)
            start = end - pd.Timedelta(days=self.label_days)
            if start - first_day < pd.Timedelta(days=self.label_days):
                break
            users, items, features, labels = self._window_queries(data, start, end, rng)
            n_customers = len(data.customers)
            hit = pd.Series(labels).groupby(users).transform("max").to_numpy() > 0
            parts.append((users[hit] + window * n_customers, features[hit], labels[hit]))
        if not parts or not sum(len(part[0]) for part in parts):
            raise EngineError(
                f"discovery_ranker: no customer bought a new candidate item in a label window of "
                f"label_days={self.label_days} (the data must span at least two such windows); "
                "use a collaborative model or change label_days"
            )
        users, features, labels = (np.concatenate(column) for column in zip(*parts))
        return self._fit_booster(users, features, labels)

    def _window_queries(
        self, data: TrainingData, start: pd.Timestamp, end: pd.Timestamp, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(customer, item, features, label) of one label window: the generators and features stand on
        the lines before ``start`` only; the label is whether the customer bought the item in
        ``[start, end)``. Customers are sampled (``max_train_customers``) among those with history."""
        before = data.transactions.loc[data.transactions[Columns.timestamp] < start]
        snapshot = self._snapshot(self._training_data(before, start))
        active = np.flatnonzero(np.diff(snapshot.data.counts.indptr) > 0)
        sample = np.sort(rng.choice(active, min(self.max_train_customers, active.size), replace=False))
        users, items, features = candidate_features(snapshot, sample, self.candidates_per_source)
        labels = bought_between(replace(snapshot.data, transactions=data.transactions), users, items, start, end)
        return users, items, features, labels

    # --- scoring -------------------------------------------------------------------------------------

    def _score(self, users: np.ndarray, rows: sparse.csr_matrix) -> np.ndarray:
        """The stored candidate scores in (0, 1], 0 elsewhere; a customer folded in after training:
        the neighbours of their items, scaled below 1."""
        scores = np.zeros((len(users), len(self.items_)))
        known = users >= 0
        if known.any():
            scores[known] = self.scores_[users[known]].toarray()
        if not known.all():
            folded = self.neighbours_._score(users[~known], rows[~known])
            peak = folded.max(axis=1, keepdims=True)
            scores[~known] = folded / np.where(peak > 0, peak, 1.0)
        return scores

    def _sparse_task(self, users: np.ndarray, rows: sparse.csr_matrix, task: str, k: int) -> sparse.csr_matrix | None:
        """Every item with a positive score is a stored candidate: a sparse row each (discovery only,
        customers seen in training only)."""
        return self.scores_[users] if task == "discovery" and (users >= 0).all() else None

    def _similar(self, item: int) -> np.ndarray:
        return self.neighbours_._similar(item)

    # --- save / load ---------------------------------------------------------------------------------

    def _state(self) -> dict[str, np.ndarray]:
        return {**sparse_arrays("scores", self.scores_), "booster": self._booster_array()}

    def _save_parts(self, directory: Path) -> None:
        self.neighbours_.save(directory / "neighbours")

    def _load_parts(self, directory: Path) -> None:
        self.neighbours_ = cast(ItemKNNRecommender, ItemKNNRecommender.load(directory / "neighbours"))

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.scores_ = sparse_from_arrays(arrays, "scores", (len(self.customers_), len(self.items_)))
        self.booster_ = booster_from_array(arrays["booster"])

    def _manifest_params(self) -> dict[str, Any]:
        return self.get_params()


def candidate_features(snapshot: Snapshot, users: np.ndarray, per_source: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer index, item index, features) of the candidates of customers ``users``: the union of
    each source's ``per_source`` best items the customer never bought, in customer order; the columns
    are :data:`FEATURES`. Customers without history get none."""
    data = snapshot.data
    users = users[np.diff(data.counts.indptr)[users] > 0]
    out_users, out_items, out_features = [], [], []
    batch = max(1, 4_000_000 // max(len(data.items), 1))
    for begin in range(0, users.size, batch):
        chunk = users[begin : begin + batch]
        scores = _source_scores(snapshot, chunk)
        blocked = snapshot.bought[chunk].toarray() > 0
        ranks = []
        chosen = np.zeros(blocked.shape, dtype=bool)
        for score in scores:
            score[blocked] = -np.inf
            rank = _row_ranks(score, RANK_DEPTH)
            ranks.append(rank)
            chosen |= (rank < per_source) & np.isfinite(score)
        rows, items = np.nonzero(chosen)
        source_scores = np.column_stack([score[rows, items] / _row_peaks(score)[rows] for score in scores])
        source_scores[~np.isfinite(source_scores)] = np.nan  # not scored by that source (EASE: outside its catalogue)
        source_ranks = np.column_stack([rank[rows, items] for rank in ranks]).astype(np.float64)
        out_users.append(chunk[rows])
        out_items.append(items)
        out_features.append(_pair_features(snapshot, chunk, rows, items, source_scores, source_ranks, per_source))
    if not out_users:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, len(FEATURES)))
    return np.concatenate(out_users).astype(np.int64), np.concatenate(out_items).astype(np.int64), np.concatenate(out_features)


def _pair_features(
    snapshot: Snapshot, chunk: np.ndarray, rows: np.ndarray, items: np.ndarray,
    source_scores: np.ndarray, source_ranks: np.ndarray, per_source: int,
) -> np.ndarray:
    """:data:`FEATURES` of the candidates (``chunk[rows]``, ``items``), given each source's scaled score and
    rank of them (:data:`SOURCES`, then the category source if the shop has categories)."""
    data = snapshot.data
    customer = chunk[rows]
    segment = data.popularity.customer_segment[customer]
    segment_size = np.bincount(data.popularity.customer_segment[data.popularity.customer_segment >= 0], minlength=len(data.popularity.segment_names))
    share = data.popularity.item_buyers[items] / max(len(data.customers), 1)
    in_segment = np.where(
        segment >= 0,
        data.popularity.segment_buyers[np.maximum(segment, 0), items] / np.maximum(segment_size[np.maximum(segment, 0)], 1),
        share,
    )
    n = len(SOURCES)
    by_category = np.full((len(rows), 2 + len(DISCOVERY_FEATURES)), np.nan)
    if snapshot.categories is not None:
        visits = snapshot.customer[chunk, 0]
        by_category[:, :2] = np.column_stack([source_scores[:, n], source_ranks[:, n]])
        by_category[:, 2:] = snapshot.categories.features(chunk, rows, items, visits, snapshot.peers[chunk])
    return np.column_stack(
        [
            source_scores[:, :n], source_ranks[:, :n], (source_ranks < per_source).sum(axis=1),
            snapshot.item[items, :3], in_segment / np.where(share > 0, share, 1.0), snapshot.item[items, 3:],
            snapshot.item_price[items] / np.where(snapshot.customer_price[customer] > 0, snapshot.customer_price[customer], np.nan),
            snapshot.customer[customer], by_category,
        ]
    )


def _source_scores(snapshot: Snapshot, users: np.ndarray) -> list[np.ndarray]:
    """Each of :data:`SOURCES`' scores (float64, customers ``users`` x items), then the category source's
    if the shop has categories."""
    data = snapshot.data
    rows = data.counts[users]
    segment = data.popularity.customer_segment[users]
    segment_buyers = np.where(
        (segment >= 0)[:, None], data.popularity.segment_buyers[np.maximum(segment, 0)], data.popularity.item_buyers[None, :]
    )
    ease = np.full((len(users), len(data.items)), -np.inf)
    ease[:, snapshot.ease_columns] = snapshot.ease._score(users, sparse.csr_matrix(rows[:, snapshot.ease_columns]))
    by_category = [] if snapshot.categories is None else [snapshot.categories.source_scores(users, snapshot.customer[users, 0])]
    return [
        ease,
        snapshot.als._score(users, rows).astype(np.float64),
        snapshot.knn._score(users, rows).astype(np.float64),
        snapshot.knn._score(users, snapshot.recent[users]).astype(np.float64),
        (snapshot.peers[users] @ snapshot.bought).toarray(),
        np.tile(data.popularity.item_buyers.astype(np.float64), (len(users), 1)),
        segment_buyers.astype(np.float64),
        np.tile(snapshot.item[:, 1], (len(users), 1)),
        *by_category,
    ]


def _row_peaks(scores: np.ndarray) -> np.ndarray:
    """Each row's largest finite score, 1 where it is not positive (the scale of :data:`FEATURES`' scores)."""
    peaks = np.where(np.isfinite(scores), scores, -np.inf).max(axis=1)
    return np.where(peaks > 0, peaks, 1.0)


def _row_ranks(scores: np.ndarray, depth: int) -> np.ndarray:
    """Each entry's rank within its row, best (highest) first: 0, 1, ... for the ``depth`` best, and
    ``depth`` for the rest and for entries the source does not score (-inf; a partition, not a sort of
    every item)."""
    depth = min(depth, scores.shape[1])
    top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
    order = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable"), axis=1)
    ranks = np.full(scores.shape, depth, dtype=np.int64)
    np.put_along_axis(ranks, order, np.arange(depth)[None, :], axis=1)
    return np.where(np.isfinite(scores), ranks, depth)
