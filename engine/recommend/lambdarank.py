"""What the learned rankers share (:mod:`repeat_ranker`, :mod:`discovery_ranker`): a LightGBM
lambdarank booster trained on per-customer queries, its feature gains, and its text form for saving."""

from __future__ import annotations

from typing import ClassVar

import lightgbm as lgb
import numpy as np

from engine.gbm import lightgbm_params


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
