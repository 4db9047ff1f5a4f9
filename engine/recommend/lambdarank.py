"""What the learned rankers share (:mod:`repeat_ranker`, :mod:`discovery_ranker`): a LightGBM
lambdarank booster trained on per-customer queries, its feature gains and its text form for saving, the
labels of a training window and the scaling of its predictions into a served score matrix."""

from __future__ import annotations

from typing import ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import sparse

from engine.data.columns import Columns
from engine.errors import EngineError
from engine.gbm import lightgbm_params
from engine.recommend.training_data import TrainingData


class LambdaRankBooster:
    """Mixin for a recommender with a booster (``booster_``) over ``features`` (its column names) and the
    parameters ``n_estimators``, ``learning_rate``, ``num_leaves``, ``min_child_samples``,
    ``random_state`` and ``num_threads``."""

    features: ClassVar[tuple[str, ...]]
    n_estimators: int
    learning_rate: float
    num_leaves: int
    min_child_samples: int
    random_state: int
    num_threads: int
    booster_: lgb.Booster

    def _fit_booster(self, queries: np.ndarray, features: np.ndarray, labels: np.ndarray) -> lgb.Booster:
        """Lambdarank over rows grouped by ``queries`` (contiguous runs of one id are one query)."""
        groups = np.diff(np.flatnonzero(np.r_[True, queries[1:] != queries[:-1], True]))
        params = lightgbm_params(
            "lambdarank",
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            seed=self.random_state,
            num_threads=self.num_threads,
            lambdarank_truncation_level=20,
        )
        train_set = lgb.Dataset(features, labels, group=groups, feature_name=list(self.features), free_raw_data=True)
        return lgb.train(params, train_set, num_boost_round=self.n_estimators)

    def feature_importance(self) -> dict[str, float]:
        """Total gain of each feature in the fitted ranker."""
        self.check_is_fitted()  # type: ignore[attr-defined]
        return dict(zip(self.features, self.booster_.feature_importance("gain").astype(float).tolist()))

    def _booster_array(self) -> np.ndarray:
        """The booster as LightGBM's text model in a byte array (saved in the npz, never a pickle)."""
        return np.frombuffer(self.booster_.model_to_string().encode(), dtype=np.uint8)


def booster_from_array(array: np.ndarray) -> lgb.Booster:
    """The booster saved by :meth:`LambdaRankBooster._booster_array`."""
    return lgb.Booster(model_str=bytes(array).decode())


def scores_matrix(users: np.ndarray, items: np.ndarray, predicted: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """Predictions scaled into (0, 1] within each customer (0 stays "not a candidate")."""
    if not len(users):
        return sparse.csr_matrix(shape, dtype=np.float32)
    frame = pd.DataFrame({"user": users, "score": predicted})
    low = frame.groupby("user")["score"].transform("min").to_numpy()
    spread = frame.groupby("user")["score"].transform("max").to_numpy() - low
    scaled = 0.01 + 0.99 * (predicted - low) / np.where(spread > 0, spread, 1.0)
    return sparse.csr_matrix((scaled.astype(np.float32), (users, items)), shape=shape)


def check_positive(name: str, value: object) -> None:
    """A ranker's count parameter: a positive integer, else an error naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise EngineError(f"{name} must be a positive integer, got {value!r}")


def bought_between(
    data: TrainingData, users: np.ndarray, items: np.ndarray, start: pd.Timestamp, end: pd.Timestamp
) -> np.ndarray:
    """1.0 where the customer bought the item in ``[start, end)``, else 0.0."""
    c = Columns
    lines = data.transactions
    lines = lines.loc[(lines[c.timestamp] >= start) & (lines[c.timestamp] < end) & (lines[c.quantity] > 0)]
    later_users = data.customers.to_internal(lines[c.customer].to_numpy())
    later_items = data.items.to_internal(lines[c.item].to_numpy())
    known = (later_users >= 0) & (later_items >= 0)
    n_items = np.int64(len(data.items))
    return np.isin(users * n_items + items, later_users[known] * n_items + later_items[known]).astype(np.float64)
