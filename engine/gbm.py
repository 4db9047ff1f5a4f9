"""The LightGBM parameters every model of the engine starts from.

Deterministic for a given seed (results are reproducible run to run), silent, row and feature
subsampling on, and the thread count always explicit: the serving worker and the benchmarks decide it,
never OpenMP's default of every core (its threads spin badly on a shared machine).
"""

from __future__ import annotations

from typing import Any


def lightgbm_params(
    objective: str,
    *,
    learning_rate: float,
    num_leaves: int,
    min_child_samples: int,
    seed: int,
    num_threads: int = 1,
    feature_fraction: float = 0.8,
    bagging_fraction: float = 0.8,
    lambda_l2: float = 0.0,
    **extra: Any,
) -> dict[str, Any]:
    """A LightGBM parameter dict; ``extra`` adds objective-specific keys (e.g. ``tweedie_variance_power``)."""
    return {
        "objective": objective,
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
        "min_child_samples": min_child_samples,
        "feature_fraction": feature_fraction,
        "bagging_fraction": bagging_fraction,
        "bagging_freq": 1,
        "lambda_l2": lambda_l2,
        "seed": seed,
        "deterministic": True,
        "num_threads": num_threads,
        "verbosity": -1,
        **extra,
    }


class LightGBMSettings:
    """For a model that keeps the common hyperparameters as attributes (``learning_rate``,
    ``num_leaves``, ``min_child_samples``, ``feature_fraction``, ``bagging_fraction``, ``reg_lambda``,
    ``seed``, ``n_jobs``): its LightGBM parameters for an objective."""

    learning_rate: float
    num_leaves: int
    min_child_samples: int
    feature_fraction: float
    bagging_fraction: float
    reg_lambda: float
    seed: int
    n_jobs: int

    def _lightgbm_params(self, objective: str, **extra: Any) -> dict[str, Any]:
        return lightgbm_params(
            objective,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            feature_fraction=self.feature_fraction,
            bagging_fraction=self.bagging_fraction,
            lambda_l2=self.reg_lambda,
            seed=self.seed,
            num_threads=self.n_jobs,
            **extra,
        )
