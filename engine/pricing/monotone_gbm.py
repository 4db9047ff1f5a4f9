"""A LightGBM demand model with a monotone-decreasing constraint on the own price.

``log units = f(log price, X)`` with ``f`` non-increasing in the price. It is a good forecaster, and its
price response is at least never the wrong sign, but it learns the correlation of price and demand in
the data, confounding included: compare it with DML on the synthetic twins. The elasticity of a product
is the average finite-difference slope of ``f`` around its observed prices; its standard error comes
from refitting on bootstrap samples of whole weeks (``n_bags``).
"""

from __future__ import annotations

from typing import cast

import lightgbm as lgb
import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.errors import EngineError
from engine.pricing import panel as P
from engine.pricing.base import ElasticityEstimator
from engine.pricing.dml import demand_model_params
from engine.pricing.features import CATEGORICAL, controls
from engine.pricing.shrinkage import RAW_ELASTICITY, RAW_SE, WEEKS

LOG_PRICE = "log_price"
_STEP = np.log(1.1)


class MonotoneGBM(ElasticityEstimator):
    """Bagged LightGBM of log units on log price (monotone decreasing) and the controls."""

    name = "monotone_gbm"
    constant_elasticity = False

    def __init__(
        self,
        n_bags: int = 5,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        seed: int = 0,
        pooling: bool = True,
        min_pool_products: int = 3,
    ) -> None:
        super().__init__(pooling, min_pool_products)
        self.n_bags = n_bags
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.seed = seed

    def _required_columns(self) -> tuple[str, ...]:
        return (P.TRAFFIC, P.WEEK_OF_YEAR)

    def _features(self, panel: pd.DataFrame, price_factor: float = 1.0) -> pd.DataFrame:
        frame = controls(panel, self.products_, self.category_vocabulary_, promotion=False)
        frame.insert(0, LOG_PRICE, np.log(panel[P.PRICE].to_numpy(float) * price_factor))
        return frame

    def _fit(self, rows: pd.DataFrame) -> pd.DataFrame:
        if self.n_bags < 2:
            raise EngineError(f"n_bags must be at least 2 (the spread of the bags is the standard error), got {self.n_bags}")
        self.products_ = sorted(rows[Columns.item].unique())
        self.category_vocabulary_ = sorted(rows[Columns.category].unique())
        features = self._features(rows)
        target = P.log_units(rows[P.UNITS])
        weeks = np.sort(rows[P.WEEK].unique())
        week_position = rows[P.WEEK].map(dict(zip(weeks, range(len(weeks))))).to_numpy()
        rows_of_week = pd.Series(np.arange(len(rows))).groupby(week_position).apply(np.asarray)
        rng = np.random.default_rng(self.seed)
        self.models_: list[lgb.Booster] = []
        slopes = []
        for bag in range(self.n_bags):
            drawn = rng.integers(0, len(weeks), len(weeks))
            index = np.concatenate([rows_of_week.iloc[w] for w in drawn])
            params = demand_model_params(self.n_estimators, self.learning_rate, self.num_leaves, self.min_child_samples, self.seed + bag)
            params.update(monotone_constraints=[-1] + [0] * (features.shape[1] - 1), monotone_constraints_method="intermediate")
            data = lgb.Dataset(features.iloc[index], target[index], categorical_feature=list(CATEGORICAL))
            model = lgb.train(params, data)
            self.models_.append(model)
            up = cast(np.ndarray, model.predict(self._features(rows, 1.1)))
            down = cast(np.ndarray, model.predict(self._features(rows, 1 / 1.1)))
            slopes.append(pd.Series((up - down) / (2 * _STEP)).groupby(rows[Columns.item].to_numpy()).mean())
        bags = pd.concat(slopes, axis=1)
        return pd.DataFrame(
            {
                Columns.item: bags.index,
                RAW_ELASTICITY: bags.mean(axis=1).to_numpy(),
                # a flat (zero-slope) product has no spread across bags: not estimable, pooled instead
                RAW_SE: bags.std(axis=1, ddof=1).where(lambda se: se > 1e-6).to_numpy(),
                WEEKS: rows.groupby(Columns.item).size().reindex(bags.index).to_numpy(),
            }
        )

    def _log_units(self, panel: pd.DataFrame, price_factor: float = 1.0) -> np.ndarray:
        features = self._features(panel, price_factor)
        return np.mean([model.predict(features) for model in self.models_], axis=0)

    def _predict_log_units(self, panel: pd.DataFrame) -> np.ndarray:
        return self._log_units(panel)

    def response(self, panel: pd.DataFrame, price_factor: float) -> np.ndarray:
        """The model's own relative change of units (not a constant elasticity)."""
        self.check_is_fitted()
        if price_factor <= 0:
            raise EngineError(f"price_factor must be positive, got {price_factor}")
        return np.exp(self._log_units(panel, price_factor) - self._log_units(panel))
