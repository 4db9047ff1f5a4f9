"""The weekly product panel every pricing model learns from: one row per product-week with sales.

Built from validated transactions only (plus optional product, promotion and stock tables), so a shop's
own data and the public data sets go through the same path. Returns are left out: a panel row measures
demand (units bought), not net sales. A product-week without sales has no observed price and is not in
the panel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.data.split import TimeSplit
from engine.errors import EngineError

WEEK = "week_start"
UNITS = "units"
PRICE = "price"  # average price paid per unit (after discounts)
REGULAR_PRICE = "regular_price"  # average shelf price per unit (before discounts)
DEPTH = "discount_depth"
PROMO = "promo"
COST = Columns.unit_cost
DISPLAY = "display"
MAILER = "mailer"
STOCK = "stock_on_hand"
STOCKOUT = "stockout"
TRAFFIC = "traffic"  # orders in the whole shop that week
LAST_WEEK_UNITS = "units_last_week"  # the product's units the week before (NaN: no sale)
WEEK_INDEX = "week_index"
WEEK_OF_YEAR = "week_of_year"
REVENUE = Columns.revenue

_ONE_WEEK = pd.Timedelta(days=7)
UNITS_OFFSET = 0.5


def log_units(units: pd.Series | np.ndarray) -> np.ndarray:
    """``log(units + 1/2)``: the log-scale response every log-log demand model fits.

    Weekly units are counts, and for a count with mean ``m`` the plain log is biased by about
    ``-1/(2m)`` (Jensen). The bias is larger in the low-volume, high-price weeks than in the promoted
    ones, so a slope fitted on plain logs comes out too elastic (on the synthetic shop by about 0.06 at
    a median of 19 units a week). Adding one half removes the ``1/m`` term (Anscombe, 1948)."""
    return np.log(np.asarray(units, dtype=float) + UNITS_OFFSET)


def units_from_log(values: np.ndarray) -> np.ndarray:
    """The inverse of :func:`log_units` (never below zero)."""
    return np.maximum(np.exp(values) - UNITS_OFFSET, 0.0)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def weekday_number(name: str) -> int:
    """0 for Monday ... 6 for Sunday; an unknown name is an error that lists the names."""
    try:
        return WEEKDAYS.index(name.strip().lower())
    except ValueError:
        raise EngineError(f"week_starts_on must be one of {list(WEEKDAYS)}, got {name!r}") from None


def week_start(timestamps: pd.Series, week_starts_on: str = "monday") -> pd.Series:
    """The 00:00 of the day that starts each timestamp's week (a shop's promotion week may run, say,
    Wednesday to Tuesday: its panel weeks should too)."""
    day = timestamps.dt.normalize()
    return day - pd.to_timedelta((day.dt.dayofweek - weekday_number(week_starts_on)) % 7, unit="D")


def build_panel(
    transactions: pd.DataFrame,
    products: pd.DataFrame | None = None,
    promotions: pd.DataFrame | None = None,
    stock: pd.DataFrame | None = None,
    promo_threshold: float = 0.05,
    week_starts_on: str = "monday",
) -> pd.DataFrame:
    """Aggregate sales lines to product-weeks (weeks start on ``week_starts_on``; the promotions and
    stock tables, keyed by ``week_start``, must use the same weeks).

    Columns: product_id, category, week_start, units, revenue, price (paid per unit), regular_price,
    discount_depth (1 - price / regular_price), promo (depth >= ``promo_threshold``), unit_cost (if the
    transactions have it, else NaN), display and mailer (share of stores, 0 where the promotions table
    has no row, NaN if there is no such table), stock_on_hand and stockout (if a stock table is given),
    traffic (orders in the shop that week), units_last_week (NaN if the product did not sell the week
    before), week_index (weeks since the first week), week_of_year.
    """
    c = Columns
    sales = transactions.loc[transactions[c.quantity] > 0]
    if sales.empty:
        raise EngineError("transactions hold no sales (positive quantities); cannot build a price panel")
    week = week_start(sales[c.timestamp], week_starts_on)
    shelf_value = sales[c.quantity] * sales[c.unit_price]
    frame = pd.DataFrame(
        {
            c.item: sales[c.item].to_numpy(),
            WEEK: week.to_numpy(),
            UNITS: sales[c.quantity].to_numpy(),
            REVENUE: sales[c.revenue].to_numpy(),
            "shelf_value": shelf_value.to_numpy(),
            "cost_value": (sales[c.quantity] * sales[c.unit_cost]).to_numpy() if c.unit_cost in sales else np.nan,
        }
    )
    panel = frame.groupby([c.item, WEEK], sort=True).sum(min_count=1).reset_index()
    panel[PRICE] = panel[REVENUE] / panel[UNITS]
    panel[REGULAR_PRICE] = panel.pop("shelf_value") / panel[UNITS]
    panel[DEPTH] = (1 - panel[PRICE] / panel[REGULAR_PRICE]).clip(lower=0)
    panel[PROMO] = panel[DEPTH] >= promo_threshold
    panel[COST] = panel.pop("cost_value") / panel[UNITS]
    panel = panel.loc[panel[PRICE] > 0].reset_index(drop=True)
    traffic = sales[c.order].groupby(week.to_numpy()).nunique()
    panel[TRAFFIC] = panel[WEEK].map(traffic).astype(float)
    first = panel[WEEK].min()
    panel[WEEK_INDEX] = ((panel[WEEK] - first) / _ONE_WEEK).round().astype(int)
    panel[WEEK_OF_YEAR] = panel[WEEK].dt.isocalendar().week.astype(int).to_numpy()
    last_week = panel[[c.item, WEEK, UNITS]].assign(**{WEEK: panel[WEEK] + _ONE_WEEK})
    panel = panel.merge(last_week.rename(columns={UNITS: LAST_WEEK_UNITS}), on=[c.item, WEEK], how="left")
    panel[c.category] = _categories(panel[c.item], products)
    panel = _join_promotions(panel, promotions, week_starts_on)
    if stock is not None:
        _check_weeks("stock", stock, week_starts_on)
        panel = panel.merge(stock[[c.item, WEEK, STOCK]], on=[c.item, WEEK], how="left")
        panel[STOCKOUT] = panel[UNITS] >= panel[STOCK]
    return panel


def _categories(product_ids: pd.Series, products: pd.DataFrame | None) -> np.ndarray:
    if products is None or Columns.category not in products:
        return np.full(len(product_ids), "all", dtype=object)
    lookup = products.set_index(Columns.item)[Columns.category]
    return product_ids.map(lookup).fillna("unknown").astype(str).to_numpy()


def _check_weeks(table: str, frame: pd.DataFrame, week_starts_on: str) -> None:
    """A weekly table on other weeks than the panel's would join to nothing, silently: refuse it."""
    days = pd.to_datetime(frame[WEEK]).dropna()
    off = days.loc[days.dt.dayofweek != weekday_number(week_starts_on)]
    if len(off):
        raise EngineError(
            f"the {table} table's weeks start on {WEEKDAYS[off.iloc[0].dayofweek]} (e.g. {WEEK} "
            f"{off.iloc[0].date()}), the panel's on {week_starts_on}: set week_starts_on to match it"
        )


def _join_promotions(panel: pd.DataFrame, promotions: pd.DataFrame | None, week_starts_on: str) -> pd.DataFrame:
    if promotions is None:
        panel[DISPLAY] = np.nan
        panel[MAILER] = np.nan
        return panel
    _check_weeks("promotions", promotions, week_starts_on)
    flags = promotions[[Columns.item, WEEK, DISPLAY, MAILER]].astype({DISPLAY: float, MAILER: float})
    panel = panel.merge(flags, on=[Columns.item, WEEK], how="left")
    panel[[DISPLAY, MAILER]] = panel[[DISPLAY, MAILER]].fillna(0.0)
    return panel


def shop_panel(shop: ShopData, promo_threshold: float = 0.05, week_starts_on: str = "monday") -> pd.DataFrame:
    """:func:`build_panel` over every table a :class:`ShopData` has."""
    return build_panel(shop.transactions, shop.products, shop.promotions, shop.stock, promo_threshold, week_starts_on)


def select_products(panel: pd.DataFrame, min_weeks: int, top: int | None = None) -> pd.DataFrame:
    """Keep products sold in at least ``min_weeks`` weeks, and of those the ``top`` by revenue."""
    weeks = panel.groupby(Columns.item)[WEEK].nunique()
    kept = weeks.index[weeks >= min_weeks]
    if top is not None:
        revenue = panel.loc[panel[Columns.item].isin(kept)].groupby(Columns.item)[REVENUE].sum()
        kept = revenue.nlargest(top).index
    if len(kept) == 0:
        raise EngineError(f"no product sells in at least min_weeks={min_weeks} weeks; lower min_weeks")
    return panel.loc[panel[Columns.item].isin(kept)].reset_index(drop=True)


def holdout_split(panel: pd.DataFrame, holdout_weeks: int) -> TimeSplit:
    """A split whose holdout is the panel's last ``holdout_weeks`` whole weeks."""
    weeks = np.sort(panel[WEEK].unique())
    if holdout_weeks < 1 or holdout_weeks >= len(weeks):
        raise EngineError(f"holdout_weeks={holdout_weeks} must be between 1 and {len(weeks) - 1} (panel weeks)")
    return TimeSplit.at(pd.Timestamp(weeks[-holdout_weeks]), holdout_weeks * 7)
