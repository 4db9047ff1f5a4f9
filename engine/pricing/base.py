"""The interface every elasticity estimator implements (template method).

``fit(panel)`` checks the panel, drops the rows that do not measure demand (stock-outs censor it),
calls the model's ``_fit`` for raw per-product estimates with standard errors, and pools them within
categories (:mod:`engine.pricing.shrinkage`). A product whose price never moved (sd of log price below
``MIN_LOG_PRICE_SD``) gets no estimate of its own, whatever ``_fit`` says: any slope it has comes from
the noise of the controls, not from its price. It keeps its row, with its category's elasticity,
``own_estimate`` False and never ``significant``; so does a product ``_fit`` could not estimate. Every fitted estimator then answers the same questions:
the elasticity of a product (with a confidence interval), the forecast of units at the observed prices,
and the relative change of units when prices are multiplied by a factor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from engine.base import EngineModel
from engine.data.columns import Columns
from engine.errors import DataValidationError, EngineError
from engine.pricing import panel as P
from engine.pricing.shrinkage import ELASTICITY, RAW_ELASTICITY, RAW_SE, WEEKS, shrink_by_category

_REQUIRED = (Columns.item, Columns.category, P.WEEK, P.UNITS, P.PRICE)
MIN_LOG_PRICE_SD = 0.005  # a product's log price must move more than this (half a percent) to be estimated


def price_varies(rows: pd.DataFrame) -> pd.Series:
    """Per product (sorted ids): whether its paid price moved enough to estimate an elasticity from."""
    return np.log(rows[P.PRICE]).groupby(rows[Columns.item], sort=True).std(ddof=0).fillna(0.0) >= MIN_LOG_PRICE_SD


def estimation_rows(panel: pd.DataFrame) -> pd.DataFrame:
    """Rows that measure demand: positive units and price, not censored by a stock-out."""
    keep = (panel[P.UNITS] > 0) & (panel[P.PRICE] > 0)
    if P.STOCKOUT in panel:
        keep &= ~panel[P.STOCKOUT].fillna(False).astype(bool)
    return panel.loc[keep].reset_index(drop=True)


def check_panel(panel: pd.DataFrame, extra: tuple[str, ...] = ()) -> None:
    """Raise a DataValidationError naming the missing columns of a price panel."""
    missing = [name for name in (*_REQUIRED, *extra) if name not in panel]
    if missing:
        raise DataValidationError(
            f"price panel lacks column(s) {missing}; build it with engine.pricing.panel.build_panel"
        )
    if panel.empty:
        raise DataValidationError("price panel is empty")


def per_product_slopes(frame: pd.DataFrame, y: str, x: str, instrument: str | None = None) -> pd.DataFrame:
    """Per product, the slope of ``y`` on ``x`` with its standard error (:func:`product_slopes`), on the
    active backend (:mod:`engine.backend`: in this process, or fanned out per category on Spark)."""
    from engine.backend import active_backend

    return active_backend().product_slopes(frame, y, x, instrument)


def product_slopes(
    frame: pd.DataFrame, y: str, x: str, instrument: str | None = None, lags: int | None = None
) -> pd.DataFrame:
    """Per product, the slope of ``y`` on ``x`` (both already centred or residualised) with a
    heteroskedasticity-robust standard error (HC3: each residual inflated by its leverage, so that a
    product whose slope rests on a few extreme weeks does not look precise), also robust to serial
    correlation when ``frame`` has the week (:func:`score_variance`); with ``instrument``, the
    just-identified IV slope sum(z y) / sum(z x). Products with fewer than 3 rows or no variation get
    NaN.

    With an instrument and a category column, the standard errors use the residuals at the category's
    pooled IV slope (restricted residuals, as a score test does), not at the product's own slope: with
    an instrument of modest strength, an estimate drawn towards the confounded least-squares slope also
    has the smallest residuals, so its own-slope standard error looks small and the pooling would favour
    exactly the most biased estimates (on the synthetic shop this pulled category means 0.03 towards
    the confounded side).

    The products of one category never affect another's results: a fan-out may call this per category
    (per product without a category column or instrument) with the Newey-West ``lags`` of the whole panel."""
    z = instrument or x
    parts = frame.assign(_zy=frame[z] * frame[y], _zx=frame[z] * frame[x], _zz=frame[z] ** 2)
    sums = parts.groupby(Columns.item, sort=True).agg(
        zy=("_zy", "sum"), zx=("_zx", "sum"), zz=("_zz", "sum"), weeks=(y, "size")
    )
    slope = sums["zy"] / sums["zx"].where(sums["zx"].abs() > 1e-12)
    if instrument is not None and Columns.category in frame:
        pooled = parts.groupby(Columns.category)[["_zy", "_zx"]].sum()
        reference = frame[Columns.category].map(pooled["_zy"] / pooled["_zx"].where(pooled["_zx"].abs() > 1e-12))
    else:
        reference = frame[Columns.item].map(slope)
    residual = frame[y] - reference * frame[x]
    leverage = (frame[z] ** 2 / frame[Columns.item].map(sums["zz"])).clip(upper=0.99)
    scores = frame[z] * residual / (1 - leverage)
    weeks = frame[P.WEEK] if P.WEEK in frame else None
    se = np.sqrt(score_variance(scores, frame[Columns.item], weeks, lags)) / sums["zx"].abs()
    usable = (sums["weeks"] >= 3) & np.isfinite(slope) & np.isfinite(se) & (se > 0)
    return pd.DataFrame(
        {
            Columns.item: sums.index,
            RAW_ELASTICITY: slope.where(usable).to_numpy(),
            RAW_SE: se.where(usable).to_numpy(),
            WEEKS: sums["weeks"].to_numpy(),
        }
    )


def newey_west_lags(weeks: int) -> int:
    """The Newey-West (1994) rule of thumb for the number of lags: floor(4 (T / 100) ** (2 / 9))."""
    return int(np.floor(4 * (weeks / 100) ** (2 / 9)))


def panel_lags(weeks: pd.Series) -> int:
    """The Newey-West lags for a panel spanning these weeks (first to last, gaps included)."""
    return newey_west_lags(int(round((weeks.max() - weeks.min()) / pd.Timedelta(days=7))) + 1)


def score_variance(scores: pd.Series, items: pd.Series, weeks: pd.Series | None, lags: int | None = None) -> pd.Series:
    """Per product, the variance of the sum of its scores (index: sorted product ids).

    Without weeks, the sum of squares (independent weeks). With weeks, Newey-West: plus the
    Bartlett-weighted products of scores up to ``lags`` weeks apart (default: :func:`newey_west_lags`).
    The instruments drift slowly (a cost random walk passes into the shelf price) and demand shocks
    persist, so neighbouring weeks' scores are correlated; ignoring it understated the IV standard
    errors by about an eighth on the synthetic shop."""
    variance = (scores**2).groupby(items.to_numpy(), sort=True).sum()
    if weeks is None:
        return variance
    position = ((weeks - weeks.min()) / pd.Timedelta(days=7)).round().astype(int).to_numpy()
    grid = np.zeros((len(variance), position.max() + 1))
    np.add.at(grid, (variance.index.get_indexer(items.to_numpy()), position), scores.to_numpy())
    lags = panel_lags(weeks) if lags is None else lags
    for lag in range(1, min(lags, grid.shape[1] - 1) + 1):
        variance += 2 * (1 - lag / (lags + 1)) * np.sum(grid[:, lag:] * grid[:, :-lag], axis=1)
    return variance


class ElasticityEstimator(EngineModel, ABC):
    """Own-price elasticity per product (pooled within category) plus a demand forecast."""

    name: ClassVar[str]
    constant_elasticity: ClassVar[bool] = True
    fitted_attribute: ClassVar[str] = "elasticities_"

    def __init__(self, pooling: bool = True, min_pool_products: int = 3) -> None:
        self.pooling = pooling
        self.min_pool_products = min_pool_products

    # --- template ----------------------------------------------------------------------------------
    def fit(self, panel: pd.DataFrame) -> Self:
        """Learn elasticities from a price panel (rows: product-weeks); returns self."""
        check_panel(panel, self._required_columns())
        rows = estimation_rows(panel)
        if rows.empty:
            raise DataValidationError("price panel has no row with positive units and price")
        varies = price_varies(rows)
        if not varies.any():
            raise EngineError(
                f"no product's price varies in the panel (sd of log price below {MIN_LOG_PRICE_SD} for all "
                f"{len(varies)} products): elasticities cannot be estimated from prices that never changed"
            )
        self.no_price_variation_ = list(varies.index[~varies])
        raw = self._fit(rows).set_index(Columns.item).reindex(varies.index)
        raw.loc[~varies.to_numpy(), [RAW_ELASTICITY, RAW_SE]] = np.nan
        raw[WEEKS] = rows.groupby(Columns.item).size()
        raw[Columns.category] = rows.groupby(Columns.item)[Columns.category].first()
        raw = raw.rename_axis(Columns.item).reset_index()
        if self.pooling:
            table, category_table = shrink_by_category(raw, self.min_pool_products)
        else:
            table, category_table = shrink_by_category(raw, min_products=len(raw) + 1, min_tau=1e6)
        self.elasticities_ = table.set_index(Columns.item)
        self.categories_ = category_table
        self.overall_ = float(np.nanmedian(table[ELASTICITY]))
        self._after_pooling(rows)
        fitted = self._predict_log_units(rows)
        self.smearing_ = float(np.mean(np.exp(P.log_units(rows[P.UNITS]) - fitted)))
        return self

    @abstractmethod
    def _fit(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Return product_id, raw_elasticity, raw_se, weeks (raw_* NaN where not estimable)."""

    @abstractmethod
    def _predict_log_units(self, panel: pd.DataFrame) -> np.ndarray:
        """:func:`~engine.pricing.panel.log_units` expected at each row's observed price and conditions
        (NaN if unknown)."""

    def _after_pooling(self, rows: pd.DataFrame) -> None:
        """Hook: learn what depends on the pooled elasticities (e.g. a forecast's level terms)."""

    def _required_columns(self) -> tuple[str, ...]:
        return ()

    # --- shared answers ----------------------------------------------------------------------------
    def elasticity(self, product_ids: pd.Series | np.ndarray, categories: pd.Series | np.ndarray | None = None) -> np.ndarray:
        """Pooled elasticity per product; an unknown product gets its category's, else the median."""
        self.check_is_fitted()
        ids = pd.Series(np.asarray(product_ids))
        values = ids.map(self.elasticities_[ELASTICITY])
        if categories is not None:
            values = values.fillna(pd.Series(np.asarray(categories)).map(self.categories_[ELASTICITY]))
        return values.fillna(self.overall_).to_numpy(float)

    def elasticity_table(self) -> pd.DataFrame:
        """One row per product: pooled elasticity, se, 95% interval, raw estimate, weeks, pooling."""
        self.check_is_fitted()
        return self.elasticities_.copy()

    def predict_units(self, panel: pd.DataFrame) -> np.ndarray:
        """Expected units at each row's observed price (a forecast, given the row's conditions)."""
        self.check_is_fitted()
        check_panel(panel, self._required_columns())
        return P.units_from_log(self._predict_log_units(panel) + np.log(self.smearing_))

    def response(self, panel: pd.DataFrame, price_factor: float) -> np.ndarray:
        """Relative change of each row's units if its price were multiplied by ``price_factor``."""
        self.check_is_fitted()
        if price_factor <= 0:
            raise EngineError(f"price_factor must be positive, got {price_factor}")
        return price_factor ** self.elasticity(panel[Columns.item], panel[Columns.category])

