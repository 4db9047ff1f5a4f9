"""A learned "buy it again" ranker: LightGBM lambdarank over each customer's own items.

What the field uses for next-basket repeat prediction: the candidates are the items a customer
already bought (the buy-again list), described by customer-item recency, frequency and regularity
features (:func:`repeat_features`), and ranked by a gradient-boosted ranker trained to put the items
re-bought in a following window first.

Training needs no outside window: ``fit`` carves a label window of ``label_days`` from the end of
its own data (features as of ``as_of - label_days``, label = the item bought in the window), trains
the ranker, then scores every customer's items with features as of ``as_of`` on all the data. The
scores are stored (a sparse customers x items matrix, as buy-again stores its recency), so serving
is a lookup and the saved model is an npz plus the LightGBM text model, never a pickle. It is a
:class:`BuyAgainRecommender` in how it scores and saves, so a blend takes it as its repeat part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import sparse

from engine.data.columns import Columns
from engine.data.idmap import IdMap
from engine.errors import EngineError
from engine.recommend.base import RecommenderModel
from engine.recommend.buy_again import BuyAgainRecommender
from engine.recommend.categories import ItemCategories
from engine.recommend.category_features import REPEAT_FEATURES, repeat_category_features
from engine.recommend.interactions import Value, interaction_matrix, sparse_arrays, sparse_from_arrays
from engine.recommend.lambdarank import LambdaRankBooster, booster_from_array, bought_between, check_positive, scores_matrix
from engine.recommend.sorted_keys import distinct_sorted, packed_key, unpack
from engine.recommend.training_data import TrainingData

FEATURES = (
    "days_since_item",  # days since the customer last bought the item
    "item_purchase_days",  # days on which the customer bought it
    "days_since_first_item",  # days since the customer first bought it
    "item_mean_gap",  # mean days between the customer's purchases of it (NaN: bought once)
    "elapsed_over_gap",  # days since last purchase / that mean gap
    "decayed_30",  # purchase days weighted 0.5 ** (age / 30)
    "decayed_90",
    "share_of_visits",  # the item's purchase days / the customer's shopping days
    "customer_visits",  # the customer's shopping days
    "customer_days_since_visit",
    "customer_items",  # distinct items the customer bought
    "item_buyers",  # distinct customers who bought the item
    "item_repeat_share",  # share of its buyers who bought it on two days or more
    "item_usual_gap",  # mean of the customers' mean gaps for the item (its usual cycle in the shop)
    "elapsed_over_usual_gap",  # days since last purchase / that shop-wide cycle
    "decayed_7",  # purchase days weighted 0.5 ** (age / 7), and / 180: several recency half-lives
    "decayed_180",
    "gap_variation",  # std / mean of the gaps between its purchase days: how regular the habit is
    "elapsed_minus_gap",  # days since last purchase - the usual gap (signed: overdue > 0)
    "visits_since_item",  # the customer's shopping days since they last bought it (0: on the last one)
    "in_last_5_visits",  # how many of the customer's last 5 shopping days included it
    "customer_visit_gap",  # mean days between the customer's shopping days
    "customer_overdue",  # days since the customer's last visit / that gap
    "customer_items_per_visit",  # mean distinct items per shopping day (basket breadth)
    "item_recent_share",  # share of the item's buyers who bought it in the last 28 days (trend)
    *REPEAT_FEATURES,  # substitution and loyalty within the item's category (NaN without categories)
)


def repeat_features(
    transactions: pd.DataFrame, customers: IdMap, items: IdMap, as_of: pd.Timestamp, categories: ItemCategories | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer index, item index, features) of every customer-item pair bought before ``as_of``
    (purchase lines only, one purchase per day), in customer order; the columns are :data:`FEATURES`
    (``categories``: the catalogue's, for the category columns)."""
    days = _purchase_days(transactions, customers, items, as_of)
    if days.empty:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, len(FEATURES)))
    for half_life in (7, 30, 90, 180):
        days[f"w{half_life}"] = np.power(0.5, days["age"] / float(half_life))
    visits = _visits(days)
    span = int(days["age"].max()) + 1
    days["visit"] = visits["visit"].to_numpy()[np.searchsorted(_day_keys(visits, span), _day_keys(days, span))]
    step = days["age"].diff().to_numpy()  # the gap to the pair's next-older purchase day
    step[np.r_[True, (days["user"].to_numpy()[1:] != days["user"].to_numpy()[:-1]) | (days["item"].to_numpy()[1:] != days["item"].to_numpy()[:-1])]] = np.nan
    days["step"] = step
    days["recent_visit"] = days["visit"] < 5
    pairs = days.groupby(["user", "item"], sort=True).agg(
        last=("age", "min"), first=("age", "max"), n=("age", "size"), w7=("w7", "sum"), w30=("w30", "sum"),
        w90=("w90", "sum"), w180=("w180", "sum"), last_visit=("visit", "min"), gap_std=("step", "std"),
        recent_visits=("recent_visit", "sum"),
    ).reset_index()
    per_user = visits.groupby("user").agg(n=("age", "size"), latest=("age", "min"), earliest=("age", "max"), width=("items", "mean"))
    items_per_user = days.groupby("user")["item"].nunique()
    gap = np.where(pairs["n"] > 1, (pairs["first"] - pairs["last"]) / np.maximum(pairs["n"] - 1, 1), np.nan)
    per_item = pairs.assign(repeater=pairs["n"] >= 2, gap=gap, recent=pairs["last"] < 28).groupby("item").agg(
        buyers=("n", "size"), repeaters=("repeater", "sum"), usual_gap=("gap", "mean"), recent=("recent", "sum")
    )
    user, item = pairs["user"], pairs["item"]
    usual_gap = per_item["usual_gap"].reindex(item).to_numpy()
    customer = per_user.reindex(user)
    user_visits = customer["n"].to_numpy(dtype=np.float64)
    visit_gap = np.where(user_visits > 1, (customer["earliest"] - customer["latest"]).to_numpy() / np.maximum(user_visits - 1, 1), np.nan)
    buyers = per_item["buyers"].reindex(item).to_numpy(dtype=np.float64)
    in_category = repeat_category_features(categories, days, user.to_numpy(np.int64), item.to_numpy(np.int64), pairs["n"].to_numpy(np.float64))
    # one row per feature, then transposed (a view): filling rows is contiguous, unlike column_stack's
    # strided writes plus a copy by astype, which cost a tenth of the ranker's fit
    features = np.vstack(
        [
            pairs["last"], pairs["n"], pairs["first"], gap, pairs["last"] / np.where(gap > 0, gap, np.nan),
            pairs["w30"], pairs["w90"], pairs["n"] / user_visits, user_visits,
            customer["latest"].to_numpy(), items_per_user.reindex(user).to_numpy(), buyers,
            per_item["repeaters"].reindex(item).to_numpy() / buyers,
            usual_gap, pairs["last"] / np.where(usual_gap > 0, usual_gap, np.nan),
            pairs["w7"], pairs["w180"], pairs["gap_std"] / np.where(gap > 0, gap, np.nan), pairs["last"] - gap,
            pairs["last_visit"], pairs["recent_visits"], visit_gap,
            customer["latest"].to_numpy() / np.where(visit_gap > 0, visit_gap, np.nan), customer["width"].to_numpy(),
            per_item["recent"].reindex(item).to_numpy() / buyers, *in_category.T,
        ],
        dtype=np.float64,
    ).T
    return user.to_numpy(np.int64), item.to_numpy(np.int64), features


def _purchase_days(transactions: pd.DataFrame, customers: IdMap, items: IdMap, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per (customer index, item index, age in days) with a purchase line before ``as_of``,
    ascending (sort-based, :mod:`sorted_keys`)."""
    c = Columns
    bought = transactions.loc[(transactions[c.timestamp] < as_of) & (transactions[c.quantity] > 0)]
    user = customers.to_internal(bought[c.customer].to_numpy())
    item = items.to_internal(bought[c.item].to_numpy())
    age = ((as_of - bought[c.timestamp]).to_numpy() // np.timedelta64(1, "D")).astype(np.int64)
    keep = (user >= 0) & (item >= 0)
    key, radices = packed_key(user[keep], item[keep], age[keep])
    user, item, age = unpack(distinct_sorted(key), radices)
    return pd.DataFrame({"user": user, "item": item, "age": age.astype(np.float64)})


def _day_keys(frame: pd.DataFrame, span: int) -> np.ndarray:
    """(user, age) as one integer ascending with both (ages are whole days in ``[0, span)``), so that a
    day's visit is found by binary search in the sorted visits instead of a MultiIndex reindex."""
    return frame["user"].to_numpy(np.int64) * span + frame["age"].to_numpy(np.int64)


def _visits(days: pd.DataFrame) -> pd.DataFrame:
    """The customers' shopping days: (user, age, items bought that day, visit = 0 for the latest, 1 ...)."""
    visits = days.groupby(["user", "age"], sort=True).size().rename("items").reset_index()
    visits["visit"] = visits.groupby("user").cumcount()  # ages ascend: the most recent visit first
    return visits


class RepeatRankerRecommender(LambdaRankBooster, BuyAgainRecommender):
    """LightGBM lambdarank over the customer's own items (see the module docstring).

    ``label_days``: the window at the end of the data whose purchases are the training labels;
    ``label_windows``: how many such windows, back to back, are stacked as training queries (a window
    whose features would stand on fewer than ``label_days`` of history is left out).
    ``max_candidates``: each customer's items ranked by the booster, the most bought first (purchase days
    weighted with a 90-day half-life); the rest follow in that order (``None``: every item).
    ``n_estimators``, ``learning_rate``, ``num_leaves``, ``min_child_samples``: the booster's.
    ``random_state`` makes the fit reproducible; ``num_threads`` (LightGBM's) changes its speed, not its scores.
    """

    kind = "repeat_ranker"
    features = FEATURES

    def __init__(
        self,
        label_days: int = 56,
        label_windows: int = 1,
        max_candidates: int | None = None,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 100,
        random_state: int = 42,
        num_threads: int = 1,
        min_item_buyers: int = 1,
        value: Value = "purchases",
    ) -> None:
        RecommenderModel.__init__(self, min_item_buyers=min_item_buyers, value=value)
        self.label_days = label_days
        self.label_windows = label_windows
        self.max_candidates = max_candidates
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit(self, data: TrainingData) -> None:
        for name in ("label_days", "label_windows", "n_estimators"):
            check_positive(name, getattr(self, name))
        if self.max_candidates is not None:
            check_positive("max_candidates", self.max_candidates)
        self.booster_ = self._train(data)
        users, items, features = self._candidates(data, data.as_of)
        held = np.asarray(data.counts[users, items]).ravel() > 0  # not returned in full
        users, items, features = users[held], items[held], features[held]
        predicted = cast(np.ndarray, self.booster_.predict(features, num_threads=self.num_threads)) if len(users) else np.empty(0)
        self.recency_ = scores_matrix(users, items, predicted, data.counts.shape)
        if self.max_candidates is not None:
            rest = _outside_candidates(data, users, items).multiply(data.counts > 0)
            self.recency_ = sparse.csr_matrix(self.recency_ + rest, dtype=np.float32)

    def _candidates(self, data: TrainingData, as_of: pd.Timestamp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`repeat_features` as of ``as_of``, kept to each customer's ``max_candidates`` items with
        the most weighted purchase days (customer order is kept)."""
        users, items, features = repeat_features(data.transactions, data.customers, data.items, as_of, data.categories)
        if self.max_candidates is None or not len(users):
            return users, items, features
        weight = features[:, FEATURES.index("decayed_90")]
        order = np.lexsort((-weight, users))  # by customer, the most bought first
        rank = pd.Series(users[order]).groupby(users[order]).cumcount().to_numpy()
        keep = np.sort(order[rank < self.max_candidates])
        return users[keep], items[keep], features[keep]

    def _train(self, data: TrainingData) -> lgb.Booster:
        """Queries: per label window and customer, features as of the window's start; labels: the items
        bought in the window. Only customers who re-bought some of their items and not others teach the
        ranker an order."""
        first_day = data.transactions[Columns.timestamp].min()
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for window in range(self.label_windows):
            end = data.as_of - pd.Timedelta(days=window * self.label_days)
            start = end - pd.Timedelta(days=self.label_days)
            if window and start - first_day < pd.Timedelta(days=self.label_days):
                break
            users, items, features = self._candidates(data, start)
            labels = bought_between(data, users, items, start, end)
            per_customer = pd.Series(labels).groupby(users)
            mixed = (per_customer.transform("max") > per_customer.transform("min")).to_numpy()
            parts.append((users[mixed] + window * len(data.customers), features[mixed], labels[mixed]))
        users, features, labels = (np.concatenate(column) for column in zip(*parts))
        if not len(users):
            raise EngineError(
                f"repeat_ranker: no customer re-bought some but not all of their items in the last "
                f"label_days={self.label_days} days of the training data; nothing to learn a ranking from: "
                "use buy_again or change label_days"
            )
        return self._fit_booster(users, features, labels)

    def _state(self) -> dict[str, np.ndarray]:
        return {**sparse_arrays("recency", self.recency_), "booster": self._booster_array()}

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.recency_ = sparse_from_arrays(arrays, "recency", (len(self.customers_), len(self.items_)))
        self.booster_ = booster_from_array(arrays["booster"])


def _outside_candidates(data: TrainingData, users: np.ndarray, items: np.ndarray) -> sparse.csr_matrix:
    """The customer's items the booster did not rank, below every ranked one (scores under 0.01, in
    order of their 90-day-weighted purchase count)."""
    weighted = interaction_matrix(data.transactions, data.customers, data.items, "purchases", 90.0, data.as_of)
    weighted = sparse.csr_matrix(weighted)
    ranked = sparse.csr_matrix((np.ones(len(users)), (users, items)), shape=weighted.shape)
    weighted = weighted - weighted.multiply(ranked > 0)
    weighted.eliminate_zeros()
    peak = np.asarray(weighted.max(axis=1).todense()).ravel()
    scale = sparse.diags(np.where(peak > 0, 0.009 / np.where(peak > 0, peak, 1.0), 0.0))
    return sparse.csr_matrix(scale @ weighted)
