"""Log-log regression with product and time fixed effects and product-specific slopes.

``log units = a_product + d_time + e_product * log price + b * (display, mailer, promo) + noise``. The time
effect is per category and week by default (it absorbs category-wide shocks and seasons), or per week.

The promotion flag (a discount of at least 5% off the list price that week) is a control by default:
a retailer chooses *when* to promote with demand in mind, which biases every slope that compares promoted
with regular weeks; the depth of a promotion and the moves of the shelf price are then what identifies
the elasticity. Data whose prices come as paid (no list price) gets the flag inferred from temporary
price cuts (:func:`~engine.pricing.features.promotion_flag`).
Estimation: two-way within transformation by alternating projections, a pooled coefficient for the
promotion flags, then one slope per product.

The per-product standard errors (HC3 with Newey-West, :func:`~engine.pricing.base.product_slopes`) are
multiplied by ``se_scale`` (1.4). On the six development designs (seeds 0-2) the estimates scattered
around the true elasticities 1.15-1.43 times as widely as these standard errors said (root mean square of
(estimate - truth) / se), and 95% intervals covered 0.84-0.92. The excess is not serial correlation (more
Newey-West lags shrank the errors) and not sampling noise the formula misses (estimates from alternate
four-week blocks differ by 1.0-1.08 times what their errors predict): it is a product-level error that
both halves share, which no sandwich estimator sees. The factor was set on the development designs only
and is tested on the sealed held-out designs. Future weeks' time effects are unknown: a forecast uses
the mean of the category's last ``forecast_weeks`` effects.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.errors import EngineError
from engine.pricing import panel as P
from engine.pricing.base import ElasticityEstimator, per_product_slopes
from engine.pricing.features import promotion_flag
from engine.pricing.shrinkage import ELASTICITY, RAW_SE

TimeEffects = Literal["category_week", "week"]
_FLAGS = (P.DISPLAY, P.MAILER)


def two_way_demean(values: pd.DataFrame, first: np.ndarray, second: np.ndarray, sweeps: int) -> pd.DataFrame:
    """Remove additive effects of two groupings (alternating projections, ``sweeps`` rounds)."""
    out = values.copy()
    for _ in range(sweeps):
        out = out - out.groupby(first).transform("mean")
        out = out - out.groupby(second).transform("mean")
    return out


class FixedEffectsLogLog(ElasticityEstimator):
    """Two-way fixed effects log-log model with one price slope per product."""

    name = "fixed_effects"

    def __init__(
        self,
        time_effects: TimeEffects = "category_week",
        sweeps: int = 30,
        forecast_weeks: int = 4,
        pooling: bool = True,
        min_pool_products: int = 3,
        promotion_control: bool = True,
        se_scale: float = 1.4,
    ) -> None:
        super().__init__(pooling, min_pool_products)
        self.promotion_control = promotion_control
        self.se_scale = se_scale
        self.time_effects = time_effects
        self.sweeps = sweeps
        self.forecast_weeks = forecast_weeks

    def _time_key(self, panel: pd.DataFrame) -> np.ndarray:
        if self.time_effects == "category_week":
            return (panel[Columns.category].astype(str) + "|" + panel[P.WEEK].astype(str)).to_numpy()
        if self.time_effects == "week":
            return panel[P.WEEK].astype(str).to_numpy()
        raise EngineError(f"time_effects must be 'category_week' or 'week', got {self.time_effects!r}")

    def _flags(self, panel: pd.DataFrame) -> pd.DataFrame:
        flags = panel[[name for name in _FLAGS if name in panel]].astype(float).fillna(0.0)
        if self.promotion_control:
            flags[P.PROMO] = promotion_flag(panel)
        return flags.loc[:, flags.any().to_numpy()]

    def _fit(self, rows: pd.DataFrame) -> pd.DataFrame:
        self.flag_columns_ = list(self._flags(rows).columns)
        product, time = rows[Columns.item].to_numpy(), self._time_key(rows)
        data = pd.concat(
            [pd.DataFrame({"y": P.log_units(rows[P.UNITS]), "x": np.log(rows[P.PRICE])}), self._flags(rows)], axis=1
        )
        within = two_way_demean(data, product, time, self.sweeps)
        y, x = within["y"].to_numpy(), within["x"].to_numpy()
        flags = within[self.flag_columns_].to_numpy()
        if flags.shape[1]:
            # flag coefficients from the pooled regression (common price slope), then partialled out
            design = np.column_stack([x, flags])
            coefficients = np.linalg.lstsq(design, y, rcond=None)[0]
            self.flag_effects_ = coefficients[1:]
            y = y - flags @ self.flag_effects_
        else:
            self.flag_effects_ = np.zeros(0)
        slopes = per_product_slopes(pd.DataFrame({Columns.item: product, P.WEEK: rows[P.WEEK].to_numpy(), "y": y, "x": x}), "y", "x")
        return slopes.assign(**{RAW_SE: slopes[RAW_SE] * self.se_scale})

    def _after_pooling(self, rows: pd.DataFrame) -> None:
        """Product and time effects given the pooled slopes (after shrinkage)."""
        product, time = rows[Columns.item].to_numpy(), self._time_key(rows)
        explained = self.elasticities_[ELASTICITY].reindex(product).to_numpy() * np.log(rows[P.PRICE].to_numpy())
        explained += self._flags(rows)[self.flag_columns_].to_numpy() @ self.flag_effects_
        remainder = pd.Series(P.log_units(rows[P.UNITS]) - explained)
        time_effect = pd.Series(0.0, index=pd.Index(np.unique(time)))
        product_effect = pd.Series(0.0, index=pd.Index(np.unique(product)))
        for _ in range(self.sweeps):
            product_effect = (remainder - time_effect.reindex(time).to_numpy()).groupby(product).mean()
            time_effect = (remainder - product_effect.reindex(product).to_numpy()).groupby(time).mean()
        self.product_effects_ = product_effect
        self.time_effects_ = time_effect
        weeks = rows[[Columns.category, P.WEEK]].assign(effect=time_effect.reindex(time).to_numpy())
        last = weeks.drop_duplicates([Columns.category, P.WEEK]).sort_values(P.WEEK)
        self.forecast_effects_ = last.groupby(Columns.category)["effect"].apply(lambda s: s.tail(self.forecast_weeks).mean())

    def _predict_log_units(self, panel: pd.DataFrame) -> np.ndarray:
        time = pd.Series(self._time_key(panel))
        effect = time.map(self.time_effects_)
        effect = effect.fillna(panel[Columns.category].reset_index(drop=True).map(self.forecast_effects_))
        slope = panel[Columns.item].map(self.elasticities_[ELASTICITY]).to_numpy()
        flags = self._flags(panel).reindex(columns=self.flag_columns_, fill_value=0.0).to_numpy()
        return (
            panel[Columns.item].map(self.product_effects_).to_numpy()
            + effect.to_numpy()
            + slope * np.log(panel[P.PRICE].to_numpy())
            + flags @ self.flag_effects_
        )
