"""The weekly product panel every pricing model learns from: one row per product-week with sales.

Built from validated transactions only (plus optional product, promotion and stock tables), so a shop's
own data and the public data sets go through the same path. Returns are left out: a panel row measures
demand (units bought), not net sales. A product-week without sales has no observed price and is not in
the panel.

Weeks the data covers only in part (data starting on a Wednesday, ending on a Tuesday) are dropped by
default: their units would read as a demand collapse. The price of a product-week is by default what
was paid on average (revenue / units); where one product sells at many unit prices in one week because
of order size (quantity tiers, wholesale), that average is driven by the order mix, not by the shop's
pricing, and ``price_basis="posted"`` takes the posted price instead (see :mod:`engine.pricing.grain`).
``grain="day"`` builds the same panel per product-day (for a daily-grain cross-check).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.data.shop_tables import DATE
from engine.data.shop_tables import DISPLAY as DISPLAY  # re-exported: panel columns
from engine.data.shop_tables import MAILER as MAILER
from engine.data.shop_tables import STOCK_ON_HAND as STOCK
from engine.data.split import TimeSplit
from engine.errors import EngineError

WEEK = "week_start"
UNITS = "units"
LINES = "order_lines"  # sales lines (orders) of the product in the period
PRICE = "price"  # average price paid per unit (after discounts)
REGULAR_PRICE = "regular_price"  # average shelf price per unit (before discounts)
DEPTH = "discount_depth"
PROMO = "promo"
COST = Columns.unit_cost
STOCKOUT = "stockout"
TRAFFIC = "traffic"  # orders in the whole shop that week
LAST_WEEK_UNITS = "units_last_week"  # the product's units the week before (NaN: no sale)
WEEK_INDEX = "week_index"
WEEK_OF_YEAR = "week_of_year"
REVENUE = Columns.revenue

_ONE_WEEK = pd.Timedelta(days=7)
_ONE_DAY = pd.Timedelta(days=1)
UNITS_OFFSET = 0.5
PriceBasis = Literal["paid", "posted"]
Grain = Literal["week", "day"]
PartialWeeks = Literal["drop", "keep"]


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


def partial_weeks(transactions: pd.DataFrame, week_starts_on: str = "monday") -> list[pd.Timestamp]:
    """The first and/or last week when the data does not cover all seven of its days (its first day is
    not the week's first day, or its last day not the week's last day)."""
    days = transactions[Columns.timestamp].dt.normalize()
    first, last = days.min(), days.max()
    weeks = week_start(pd.Series([first, last]), week_starts_on)
    partial = []
    if first > weeks.iloc[0]:
        partial.append(weeks.iloc[0])
    if last < weeks.iloc[1] + _ONE_WEEK - _ONE_DAY and weeks.iloc[1] not in partial:
        partial.append(weeks.iloc[1])
    return partial


def posted_price(sales: pd.DataFrame, period: pd.Series, price: pd.Series) -> pd.DataFrame:
    """Per product and period, the price most order lines carried (ties: the higher, the list price of
    a tiered price list); each line counts once whatever its quantity, so order size does not move it."""
    lines = pd.DataFrame(
        {Columns.item: sales[Columns.item].to_numpy(), WEEK: period.to_numpy(), "line_price": price.round(4).to_numpy()}
    )
    counts = lines.groupby([Columns.item, WEEK, "line_price"], sort=False).size().rename("lines").reset_index()
    counts = counts.sort_values(["lines", "line_price"], ascending=False, kind="stable")
    return counts.drop_duplicates([Columns.item, WEEK]).drop(columns="lines")


def build_panel(
    transactions: pd.DataFrame,
    products: pd.DataFrame | None = None,
    promotions: pd.DataFrame | None = None,
    stock: pd.DataFrame | None = None,
    promo_threshold: float = 0.05,
    week_starts_on: str = "monday",
    price_basis: PriceBasis = "paid",
    grain: Grain = "week",
    partial: PartialWeeks = "drop",
) -> pd.DataFrame:
    """Aggregate sales lines to product-weeks (weeks start on ``week_starts_on``).

    Columns: product_id, category, week_start, units, order_lines (sales lines), revenue, price (paid per unit), regular_price,
    discount_depth (1 - price / regular_price), promo (depth >= ``promo_threshold``), unit_cost (if the
    transactions have it, else NaN), display and mailer (share of stores or days, 0 where the promotions
    table has no row, NaN if there is no such table), stock_on_hand and stockout (if a stock table is
    given), traffic (orders in the shop that week), units_last_week (NaN if the product did not sell the
    week before), week_index (weeks since the first week), week_of_year.

    The promotions and stock tables come keyed by ``week_start`` (on the panel's weeks, else an error)
    or by ``date`` (a daily calendar, summed into the panel's weeks; see
    :mod:`engine.data.shop_tables`). ``price_basis="posted"``: price and regular_price are each
    product-week's posted price (:func:`posted_price`) instead of the averages. ``grain="day"``: one
    row per product-day (``week_start`` then holds the day, the index and lag count days; the tables must
    be daily). ``partial="drop"`` leaves out the weeks of :func:`partial_weeks` at week grain (``"keep"``:
    keep them).
    """
    c = Columns
    if price_basis not in ("paid", "posted"):
        raise EngineError(f"price_basis must be 'paid' or 'posted', got {price_basis!r}")
    sales = _sales_lines(transactions, week_starts_on, grain, partial)
    week = week_start(sales[c.timestamp], week_starts_on) if grain == "week" else sales[c.timestamp].dt.normalize()
    step = _ONE_WEEK if grain == "week" else _ONE_DAY
    panel = _line_values(sales, week).groupby([c.item, WEEK], sort=True).sum(min_count=1).reset_index()
    panel[PRICE] = panel[REVENUE] / panel[UNITS]
    panel[REGULAR_PRICE] = panel.pop("shelf_value") / panel[UNITS]
    if price_basis == "posted":
        _use_posted_prices(panel, sales, week)
    panel[DEPTH] = (1 - panel[PRICE] / panel[REGULAR_PRICE]).clip(lower=0)
    panel[PROMO] = panel[DEPTH] >= promo_threshold
    panel[COST] = panel.pop("cost_value") / panel[UNITS]
    panel = panel.loc[panel[PRICE] > 0].reset_index(drop=True)
    panel[TRAFFIC] = panel[WEEK].map(sales[c.order].groupby(week.to_numpy()).nunique()).astype(float)
    panel[WEEK_INDEX] = ((panel[WEEK] - panel[WEEK].min()) / step).round().astype(int)
    panel[WEEK_OF_YEAR] = panel[WEEK].dt.isocalendar().week.astype(int).to_numpy()
    last_week = panel[[c.item, WEEK, UNITS]].assign(**{WEEK: panel[WEEK] + step})
    panel = panel.merge(last_week.rename(columns={UNITS: LAST_WEEK_UNITS}), on=[c.item, WEEK], how="left")
    panel[c.category] = _categories(panel[c.item], products)
    panel = _join_promotions(panel, promotions, week_starts_on, grain)
    return panel if stock is None else _join_stock(panel, stock, week_starts_on, grain)


def _join_stock(panel: pd.DataFrame, stock: pd.DataFrame, week_starts_on: str, grain: Grain) -> pd.DataFrame:
    """The panel with stock on hand and the stock-out flag of each product-period."""
    panel = panel.merge(_periods("stock", stock, week_starts_on, grain, (STOCK,)), on=[Columns.item, WEEK], how="left")
    # a week that opened with no more units than it sold, or had a day without stock, censors demand
    days_out = panel.pop("days_out").gt(0) if "days_out" in panel else False
    panel[STOCKOUT] = (panel[UNITS] >= panel[STOCK]) | days_out
    return panel


def _line_values(sales: pd.DataFrame, week: pd.Series) -> pd.DataFrame:
    """Per sales line: product, period, units, one line, revenue, shelf value and cost value (NaN without costs)."""
    c = Columns
    shelf_value = sales[c.quantity] * sales[c.unit_price]
    return pd.DataFrame(
        {
            c.item: sales[c.item].to_numpy(),
            WEEK: week.to_numpy(),
            UNITS: sales[c.quantity].to_numpy(),
            LINES: np.ones(len(sales)),
            REVENUE: sales[c.revenue].to_numpy(),
            "shelf_value": shelf_value.to_numpy(),
            "cost_value": (sales[c.quantity] * sales[c.unit_cost]).to_numpy() if c.unit_cost in sales else np.nan,
        }
    )


def _sales_lines(transactions: pd.DataFrame, week_starts_on: str, grain: Grain, partial: PartialWeeks) -> pd.DataFrame:
    """The sales lines (positive quantities) a panel is built from; at week grain with ``partial="drop"``
    without the weeks the data covers only in part."""
    c = Columns
    if grain not in ("week", "day"):
        raise EngineError(f"grain must be 'week' or 'day', got {grain!r}")
    sales = transactions.loc[transactions[c.quantity] > 0]
    if sales.empty:
        raise EngineError("transactions hold no sales (positive quantities); cannot build a price panel")
    if grain == "week" and partial == "drop":
        sales = sales.loc[~week_start(sales[c.timestamp], week_starts_on).isin(partial_weeks(transactions, week_starts_on))]
        if sales.empty:
            raise EngineError(
                "every sale falls in a week the data covers only in part (less than one whole week); "
                "cannot build a weekly price panel (build_panel(partial='keep') keeps such weeks)"
            )
    return sales


def _use_posted_prices(panel: pd.DataFrame, sales: pd.DataFrame, week: pd.Series) -> None:
    """Set each product-week's price and regular price to its posted prices (:func:`posted_price`)."""
    c = Columns
    keys = [c.item, WEEK]
    paid = posted_price(sales, week, sales[c.revenue] / sales[c.quantity]).set_index(keys)["line_price"]
    shelf = posted_price(sales, week, sales[c.unit_price]).set_index(keys)["line_price"]
    index = pd.MultiIndex.from_frame(panel[keys])
    panel[PRICE] = paid.reindex(index).to_numpy()
    panel[REGULAR_PRICE] = np.maximum(shelf.reindex(index).to_numpy(), panel[PRICE].to_numpy())


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
            f"{off.iloc[0].date()}), the panel's on {week_starts_on}: set week_starts_on to match it, or "
            f"give the table a {DATE} column (one row per day) instead"
        )


def _periods(table: str, frame: pd.DataFrame, week_starts_on: str, grain: Grain, values: tuple[str, ...]) -> pd.DataFrame:
    """A promotions or stock table keyed by the panel's periods (product_id, week_start, ``values``): a
    weekly table as it is (its weeks checked), a daily one (``date``) summed into the panel's weeks by
    :func:`_by_period` (at day grain: as it is)."""
    if DATE in frame:
        return _by_period(table, frame, week_starts_on if grain == "week" else None)
    if grain == "day":
        raise EngineError(f"the {table} table is weekly ({WEEK}); a day-grain panel needs a daily table ({DATE})")
    _check_weeks(table, frame, week_starts_on)
    return frame[[Columns.item, WEEK, *values]]


def _by_period(table: str, daily: pd.DataFrame, week_starts_on: str | None) -> pd.DataFrame:
    """A daily table summed into weeks (``week_starts_on``; None: kept per day). Promotions: display and
    mailer become the share of the week's seven days (a day without a row: off). Stock: the opening
    stock on hand (the week's first day with a row) and ``days_out``, the days with none on hand."""
    days = pd.to_datetime(daily[DATE])
    period = week_start(days, week_starts_on) if week_starts_on else days
    keyed = daily.assign(**{WEEK: period.to_numpy()}).sort_values(DATE, kind="stable")
    grouped = keyed.groupby([Columns.item, WEEK], sort=False)
    if table == "promotions":
        length = 7.0 if week_starts_on else 1.0
        return (grouped[[DISPLAY, MAILER]].sum(min_count=1) / length).reset_index()
    opening = grouped[STOCK].first()
    days_out = grouped[STOCK].agg(lambda on_hand: int((on_hand <= 0).sum()))
    return pd.DataFrame({STOCK: opening, "days_out": days_out}).reset_index()


def _join_promotions(panel: pd.DataFrame, promotions: pd.DataFrame | None, week_starts_on: str, grain: Grain) -> pd.DataFrame:
    if promotions is None:
        panel[DISPLAY] = np.nan
        panel[MAILER] = np.nan
        return panel
    table = _periods("promotions", promotions, week_starts_on, grain, (DISPLAY, MAILER))
    flags = table[[Columns.item, WEEK, DISPLAY, MAILER]].astype({DISPLAY: float, MAILER: float})
    panel = panel.merge(flags, on=[Columns.item, WEEK], how="left")
    panel[[DISPLAY, MAILER]] = panel[[DISPLAY, MAILER]].fillna(0.0)
    return panel


def shop_panel(
    shop: ShopData, promo_threshold: float = 0.05, week_starts_on: str = "monday", price_basis: PriceBasis = "paid"
) -> pd.DataFrame:
    """:func:`build_panel` over every table a :class:`ShopData` has."""
    return build_panel(
        shop.transactions, shop.products, shop.promotions, shop.stock, promo_threshold, week_starts_on, price_basis
    )


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
