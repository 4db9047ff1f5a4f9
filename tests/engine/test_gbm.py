"""The shared LightGBM parameters: reproducible for a seed, one thread unless told, extras pass through."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from engine.gbm import lightgbm_params


def _predictions(seed: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4))
    y = x[:, 0] - 2 * x[:, 1] + rng.normal(0, 0.5, 500)
    params = lightgbm_params("regression", learning_rate=0.1, num_leaves=7, min_child_samples=10, seed=seed)
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=30).predict(x)


def test_same_seed_same_model_other_seed_other_subsamples():
    assert np.array_equal(_predictions(1), _predictions(1))
    assert not np.array_equal(_predictions(1), _predictions(2))


def test_threads_explicit_and_objective_specific_keys_added():
    params = lightgbm_params("tweedie", learning_rate=0.05, num_leaves=15, min_child_samples=20, seed=0, tweedie_variance_power=1.3)
    assert params["num_threads"] == 1 and params["deterministic"] is True
    assert params["objective"] == "tweedie" and params["tweedie_variance_power"] == 1.3
