"""Naive log-log regression per product: log units on log price and nothing else.

Kept as the baseline that shows the bias: when a retailer promotes in weeks it expects to be strong,
low prices coincide with high demand for reasons other than the price, and this slope absorbs it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.pricing import panel as P
from engine.pricing.base import ElasticityEstimator, per_product_slopes
from engine.pricing.shrinkage import ELASTICITY


class NaiveLogLog(ElasticityEstimator):
    """Per-product OLS of log units on log price (with an intercept)."""

    name = "naive"

    def _fit(self, rows: pd.DataFrame) -> pd.DataFrame:
        logs = pd.DataFrame(
            {Columns.item: rows[Columns.item], P.WEEK: rows[P.WEEK], "y": P.log_units(rows[P.UNITS]), "x": np.log(rows[P.PRICE])}
        )
        self.means_ = logs.groupby(Columns.item)[["y", "x"]].mean()
        centred = logs.assign(
            y=logs["y"] - logs[Columns.item].map(self.means_["y"]),
            x=logs["x"] - logs[Columns.item].map(self.means_["x"]),
        )
        return per_product_slopes(centred, "y", "x")

    def _predict_log_units(self, panel: pd.DataFrame) -> np.ndarray:
        ids = panel[Columns.item]
        slope = ids.map(self.elasticities_[ELASTICITY])
        centred_x = np.log(panel[P.PRICE]) - ids.map(self.means_["x"])
        return (ids.map(self.means_["y"]) + slope * centred_x).to_numpy(float)
