"""Control variables for the machine-learned demand models: what moves demand besides the price.

Seasonality (two harmonics of the week of the year), shop traffic, display, mailer and promotion
flags (the promotion flag: whether a promotion ran, not its depth), last week's units of the product (a proxy for a persistent demand shock the retailer may have seen), and
the product and its category as categorical codes. The instruments (unit cost, regular price) are
deliberately not controls.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.pricing import panel as P

CONTROLS = (
    "product_code",
    "category_code",
    "season_sin",
    "season_cos",
    "season_sin2",
    "season_cos2",
    "log_traffic",
    P.DISPLAY,
    P.MAILER,
    P.PROMO,
    "log_units_last_week",
)
CATEGORICAL = ("product_code", "category_code")


def category_codes(values: pd.Series, known: list[str]) -> np.ndarray:
    """Codes of ``values`` in the fitted vocabulary ``known``; unknown values get -1 (LightGBM: missing)."""
    return pd.Categorical(values, categories=known).codes.astype(np.int32)


PROMOTION_WINDOW_WEEKS = 4
PROMOTION_CUT = 0.05


def promotion_flag(panel: pd.DataFrame) -> np.ndarray:
    """Whether each row's week is a promotion (1.0) or not (0.0).

    Data with list prices has the flag (a discount of at least 5% off the list price). Data whose prices
    come as paid (no row discounted) gets it inferred: a paid price at least ``PROMOTION_CUT`` under the
    product's reference price within ``PROMOTION_WINDOW_WEEKS`` weeks either side, i.e. a temporary cut
    from the price most weeks around it were sold at (:func:`window_reference_prices`).
    (The highest price in the window instead flagged every week before a shelf-price rise.)"""
    if P.PROMO in panel and panel[P.PROMO].fillna(False).astype(bool).any():
        return panel[P.PROMO].fillna(False).to_numpy(float)
    prices = panel.pivot_table(index=P.WEEK, columns=Columns.item, values=P.PRICE, aggfunc="mean").sort_index()
    prices = prices.reindex(pd.date_range(prices.index.min(), prices.index.max(), freq="7D"))
    reference = window_reference_prices(prices, PROMOTION_WINDOW_WEEKS).stack()
    lookup = reference.reindex(pd.MultiIndex.from_arrays([panel[P.WEEK], panel[Columns.item]])).to_numpy()
    return (panel[P.PRICE].to_numpy(float) < (1 - PROMOTION_CUT) * lookup).astype(float)


def window_reference_prices(prices: pd.DataFrame, half_window: int) -> pd.DataFrame:
    """Per week (rows) and product (columns), the regular price around the week: the price (to the cent)
    that most weeks within ``half_window`` weeks either side were sold at (ties: the week's own price if it
    is one of them, around a shelf-price step, else the higher), or the window's median where no price
    repeats.

    A shelf price repeats week after week, a promotion's price rarely does (its depth varies). The median
    instead misses promotions that come in runs, which is exactly when a retailer times them to a spell of
    high demand: on the development designs with paid prices and stock-outs it missed a fifth of the
    promotions and left the fixed-effects slopes 0.07 too elastic."""
    values = prices.round(2).to_numpy()
    out = np.full(values.shape, np.nan)
    for column in range(values.shape[1]):
        series = values[:, column]
        for row in range(len(series)):
            window = series[max(0, row - half_window) : row + half_window + 1]
            window = window[np.isfinite(window)]
            if window.size == 0:
                continue
            levels, counts = np.unique(window, return_counts=True)
            modes = levels[counts == counts.max()]
            if counts.max() == 1:
                out[row, column] = np.median(window)
            else:  # a week at one of the most frequent prices is at its regular price (a step up or down)
                out[row, column] = series[row] if series[row] in modes else modes.max()
    return pd.DataFrame(out, index=prices.index, columns=prices.columns)


def controls(
    panel: pd.DataFrame, products: list[str], categories: list[str], last_week: bool = True, promotion: bool = True
) -> pd.DataFrame:
    """The control matrix of a panel, with product and category codes from the fitted vocabularies.

    ``promotion=False`` leaves out the promotion flag (then a promotion's whole price cut identifies the
    elasticity, including when the retailer timed it to demand).

    ``last_week=False`` leaves out last week's units: it is a consequence of last week's price, which
    persists into this week's price and its instruments, so as a control it biases an IV estimate
    towards zero (a "bad control"); a forecaster may still use it."""
    angle = 2 * np.pi * panel[P.WEEK_OF_YEAR].to_numpy(float) / 52.18
    frame = pd.DataFrame(
        {
            "product_code": category_codes(panel[Columns.item], products),
            "category_code": category_codes(panel[Columns.category], categories),
            "season_sin": np.sin(angle),
            "season_cos": np.cos(angle),
            "season_sin2": np.sin(2 * angle),
            "season_cos2": np.cos(2 * angle),
            "log_traffic": np.log(panel[P.TRAFFIC].to_numpy(float)),
            P.DISPLAY: panel[P.DISPLAY].to_numpy(float) if P.DISPLAY in panel else np.nan,
            P.MAILER: panel[P.MAILER].to_numpy(float) if P.MAILER in panel else np.nan,
            P.PROMO: promotion_flag(panel) if promotion else np.nan,
            "log_units_last_week": np.log(panel[P.LAST_WEEK_UNITS].to_numpy(float))
            if P.LAST_WEEK_UNITS in panel
            else np.nan,
        },
        index=panel.index,
    )
    dropped = {"log_units_last_week"} if not last_week else set()
    dropped |= {P.PROMO} if not promotion else set()
    return frame[[name for name in CONTROLS if name not in dropped]]


def week_folds(weeks: pd.Series, n_folds: int, seed: int) -> np.ndarray:
    """Cross-fitting folds: whole weeks are assigned at random to ``n_folds`` folds, so that a model
    never predicts a week it was fitted on."""
    unique = np.sort(weeks.unique())
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_week = dict(zip(unique, order % n_folds))
    return weeks.map(fold_of_week).to_numpy()
