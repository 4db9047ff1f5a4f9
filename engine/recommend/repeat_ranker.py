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

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import sparse

from engine.data.columns import Columns
from engine.data.idmap import IdMap
from engine.errors import EngineError
from engine.gbm import lightgbm_params
from engine.recommend.base import RecommenderModel
from engine.recommend.buy_again import BuyAgainRecommender
from engine.recommend.interactions import Value, sparse_arrays, sparse_from_arrays
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
)


def repeat_features(
    transactions: pd.DataFrame, customers: IdMap, items: IdMap, as_of: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer index, item index, features) of every customer-item pair bought before ``as_of``
    (purchase lines only, one purchase per day), in customer order; the columns are :data:`FEATURES`."""
    c = Columns
    bought = transactions.loc[(transactions[c.timestamp] < as_of) & (transactions[c.quantity] > 0)]
    user = customers.to_internal(bought[c.customer].to_numpy())
    item = items.to_internal(bought[c.item].to_numpy())
    age = np.floor((as_of - bought[c.timestamp]).to_numpy() / np.timedelta64(1, "D"))
    keep = (user >= 0) & (item >= 0)
    days = pd.DataFrame({"user": user[keep], "item": item[keep], "age": age[keep]}).drop_duplicates()
    if days.empty:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, len(FEATURES)))
    days["w30"] = np.power(0.5, days["age"] / 30.0)
    days["w90"] = np.power(0.5, days["age"] / 90.0)
    pairs = days.groupby(["user", "item"], sort=True).agg(
        last=("age", "min"), first=("age", "max"), n=("age", "size"), w30=("w30", "sum"), w90=("w90", "sum")
    )
    pairs = pairs.reset_index()
    visits = days.drop_duplicates(["user", "age"]).groupby("user")["age"].agg(["size", "min"])
    per_user = days.groupby("user")["item"].nunique()
    gap = np.where(pairs["n"] > 1, (pairs["first"] - pairs["last"]) / np.maximum(pairs["n"] - 1, 1), np.nan)
    per_item = pairs.assign(repeater=pairs["n"] >= 2, gap=gap).groupby("item").agg(
        buyers=("n", "size"), repeaters=("repeater", "sum"), usual_gap=("gap", "mean")
    )
    usual_gap = per_item["usual_gap"].reindex(pairs["item"]).to_numpy()
    user_visits = visits["size"].reindex(pairs["user"]).to_numpy(dtype=np.float64)
    features = np.column_stack(
        [
            pairs["last"], pairs["n"], pairs["first"], gap, pairs["last"] / np.where(gap > 0, gap, np.nan),
            pairs["w30"], pairs["w90"], pairs["n"] / user_visits, user_visits,
            visits["min"].reindex(pairs["user"]).to_numpy(), per_user.reindex(pairs["user"]).to_numpy(),
            per_item["buyers"].reindex(pairs["item"]).to_numpy(),
            (per_item["repeaters"] / per_item["buyers"]).reindex(pairs["item"]).to_numpy(),
            usual_gap, pairs["last"] / np.where(usual_gap > 0, usual_gap, np.nan),
        ]
    ).astype(np.float64)
    return pairs["user"].to_numpy(np.int64), pairs["item"].to_numpy(np.int64), features


class RepeatRankerRecommender(BuyAgainRecommender):
    """LightGBM lambdarank over the customer's own items (see the module docstring).

    ``label_days``: the window at the end of the data whose purchases are the training labels.
    ``n_estimators``, ``learning_rate``, ``num_leaves``, ``min_child_samples``: the booster's.
    ``random_state`` and ``num_threads`` make the fit reproducible.
    """

    kind = "repeat_ranker"

    def __init__(
        self,
        label_days: int = 56,
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
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit(self, data: TrainingData) -> None:
        if isinstance(self.label_days, bool) or not isinstance(self.label_days, int) or self.label_days < 1:
            raise EngineError(f"label_days must be a positive integer, got {self.label_days!r}")
        if not isinstance(self.n_estimators, int) or self.n_estimators < 1:
            raise EngineError(f"n_estimators must be a positive integer, got {self.n_estimators!r}")
        self.booster_ = self._train(data)
        users, items, features = repeat_features(data.transactions, data.customers, data.items, data.as_of)
        held = np.asarray(data.counts[users, items]).ravel() > 0  # not returned in full
        users, items, features = users[held], items[held], features[held]
        predicted = self.booster_.predict(features, num_threads=self.num_threads) if len(users) else np.empty(0)
        self.recency_ = _scores_matrix(users, items, predicted, data.counts.shape)

    def _train(self, data: TrainingData) -> lgb.Booster:
        """Features as of ``label_days`` before the end, labels: bought in those days."""
        start = data.as_of - pd.Timedelta(days=self.label_days)
        users, items, features = repeat_features(data.transactions, data.customers, data.items, start)
        c = Columns
        window = data.transactions
        window = window.loc[(window[c.timestamp] >= start) & (window[c.timestamp] < data.as_of) & (window[c.quantity] > 0)]
        later_users = data.customers.to_internal(window[c.customer].to_numpy())
        later_items = data.items.to_internal(window[c.item].to_numpy())
        known = (later_users >= 0) & (later_items >= 0)
        n_items = np.int64(len(data.items))
        later = later_users[known] * n_items + later_items[known]
        labels = np.isin(users * n_items + items, later).astype(np.float64)
        # only customers who re-bought some of their items and not others teach the ranker an order
        per_customer = pd.Series(labels).groupby(users)
        mixed = (per_customer.transform("max") > per_customer.transform("min")).to_numpy()
        users, features, labels = users[mixed], features[mixed], labels[mixed]
        if not len(users):
            raise EngineError(
                f"repeat_ranker: no customer re-bought some but not all of their items in the last "
                f"label_days={self.label_days} days of the training data; nothing to learn a ranking from: "
                "use buy_again or change label_days"
            )
        groups = np.diff(np.flatnonzero(np.r_[True, users[1:] != users[:-1], True]))
        params = lightgbm_params(
            "lambdarank",
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            seed=self.random_state,
            num_threads=self.num_threads,
            lambdarank_truncation_level=20,
        )
        train_set = lgb.Dataset(features, labels, group=groups, feature_name=list(FEATURES), free_raw_data=True)
        return lgb.train(params, train_set, num_boost_round=self.n_estimators)

    def feature_importance(self) -> dict[str, float]:
        """Total gain of each feature in the fitted ranker."""
        self.check_is_fitted()
        return dict(zip(FEATURES, self.booster_.feature_importance("gain").astype(float).tolist()))

    def _state(self) -> dict[str, np.ndarray]:
        text = np.frombuffer(self.booster_.model_to_string().encode(), dtype=np.uint8)
        return {**sparse_arrays("recency", self.recency_), "booster": text}

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.recency_ = sparse_from_arrays(arrays, "recency", (len(self.customers_), len(self.items_)))
        self.booster_ = lgb.Booster(model_str=bytes(arrays["booster"]).decode())


def _scores_matrix(users: np.ndarray, items: np.ndarray, predicted: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """Predictions scaled into (0, 1] within each customer (0 stays "not a candidate")."""
    if not len(users):
        return sparse.csr_matrix(shape, dtype=np.float32)
    frame = pd.DataFrame({"user": users, "score": predicted})
    low = frame.groupby("user")["score"].transform("min").to_numpy()
    spread = frame.groupby("user")["score"].transform("max").to_numpy() - low
    scaled = 0.01 + 0.99 * (predicted - low) / np.where(spread > 0, spread, 1.0)
    return sparse.csr_matrix((scaled.astype(np.float32), (users, items)), shape=shape)
