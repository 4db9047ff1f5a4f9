"""Cross-price effects within a category: do the other products' prices pull a product's units up
(substitutes) or down (complements)?

One regression over the panel's demand rows (stock-outs left out, as for the own elasticities, but their
posted prices and promotions counted among the others' of their week):
``log units_jt = a_j + d_t + e_j log price_jt + gamma_c mean_k!=j log price_kt + controls + noise``,
with product and week effects (week, not category-week: a category-week effect would absorb the
category's mean price), one own-price slope per product, one cross slope ``gamma_c`` per category,
and the same controls the fixed-effects model has, for the product *and for the others*: its promotion,
display and mailer flags, and the share of the category's other products on promotion or display that
week, plus each category's calendar (two harmonics of the week of the year and the year-end weeks).

The others' promotion share is what keeps the estimate from leaning towards "complements": a retailer
that times promotions to demand cuts the other products' prices exactly when the category sells well,
so without it a low price of the others goes with high units of everyone (the DML residual slope this
replaces called independent or substitute categories complements on the development designs). What
identifies ``gamma_c`` is then the depth of the others' promotions and the moves of their shelf prices.

The noise shares a category-week shock, so the standard errors are clustered by week (every category's
scores of a week summed). ``relation`` is "substitutes" or "complements" only when the effect is
robustly established (Holm over the shop's categories at family-wise 5%, and the same sign on both
halves of the weeks), else "independent" (the optimizer then prices the category product by product:
the estimate is taken as zero). With a true cross effect of 0, the per-category 95% interval alone
excluded zero more often than 5% (see :func:`cross_price_effects`), and pricing a category jointly on a
false cross effect costs profit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from engine.data.columns import Columns
from engine.pricing import panel as P
from engine.pricing.base import estimation_rows
from engine.pricing.features import promotion_flag
from engine.pricing.fixed_effects import two_way_demean
from engine.pricing.shrinkage import Z95

CROSS = "cross_elasticity"
RELATION = "relation"
YEAR_END_WEEK = 50  # weeks of the year from this one are the year-end season
FAMILY_ALPHA = 0.05  # family-wise error over a shop's categories of calling an independent category related


def _others_mean(values: pd.Series, groups: np.ndarray) -> pd.Series:
    """Per row, the mean of the other rows of its group (NaN for a group of one)."""
    sums = values.groupby(groups).transform("sum")
    sizes = values.groupby(groups).transform("size")
    return ((sums - values) / (sizes - 1)).where(sizes > 1)


def _design(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The regressors before the within transformation: own-price slope columns (one per product), cross
    columns (one per category) and the controls; returns them with the names of the first two groups."""
    product, category = rows[Columns.item].astype(str), rows[Columns.category].astype(str)
    key = (category + "|" + rows[P.WEEK].astype(str)).to_numpy()
    log_price = pd.Series(np.log(rows[P.PRICE].to_numpy(float)), index=rows.index)
    promo = pd.Series(promotion_flag(rows), index=rows.index)
    flags = {"promo": promo, "others_promo": _others_mean(promo, key)}
    for name in (P.DISPLAY, P.MAILER):
        if name in rows and rows[name].notna().any():
            flags[name] = rows[name].astype(float).fillna(0.0)
    if P.DISPLAY in flags:
        flags["others_display"] = _others_mean(flags[P.DISPLAY], key)
    others = _others_mean(log_price, key)
    columns: dict[str, pd.Series] = {}
    own_names = [f"own|{p}" for p in sorted(product.unique())]
    for name in own_names:
        columns[name] = log_price.where(product == name[4:], 0.0)
    cross_names = [f"cross|{c}" for c in sorted(category.unique())]
    for name in cross_names:
        columns[name] = others.where(category == name[6:], 0.0)
    angle = 2 * np.pi * rows[P.WEEK_OF_YEAR].to_numpy(float) / 52.18
    calendar = {
        "sin": np.sin(angle), "cos": np.cos(angle), "sin2": np.sin(2 * angle), "cos2": np.cos(2 * angle),
        "year_end": (rows[P.WEEK_OF_YEAR].to_numpy() >= YEAR_END_WEEK).astype(float),
    }
    for c in sorted(category.unique()):
        inside = (category == c).to_numpy(float)
        for name, values in calendar.items():
            columns[f"{name}|{c}"] = pd.Series(values * inside, index=rows.index)
    design = pd.DataFrame({**columns, **flags}, index=rows.index)
    return design, own_names, cross_names


def cross_price_effects(panel: pd.DataFrame, min_products: int = 3, alpha: float = FAMILY_ALPHA) -> pd.DataFrame:
    """One cross-price elasticity per category (index category): cross_elasticity, se, ci_low,
    ci_high (95%), p_value, holm (significant at family level ``alpha`` by Holm's step-down over the
    categories), first_half / second_half (the estimate on each half of the weeks), relation, products,
    weeks. ``relation`` is "substitutes" or "complements" only when the effect is robustly established:
    Holm-significant AND the same sign on both halves of the weeks; else "independent" (the optimizer
    then prices the category product by product). A category with fewer than ``min_products`` products,
    or whose others' price never moves apart from its products' own, gets NaN and relation "unknown"."""
    # the others' prices and promotions of a week include their stock-out rows (their price was posted)
    everything = panel.loc[panel[P.PRICE] > 0].reset_index(drop=True)
    design, _, _ = _design(everything)
    demand = everything.index.isin(estimation_rows(everything.assign(_row=everything.index))["_row"])
    usable = design.notna().all(axis=1).to_numpy() & demand
    rows, design = everything.loc[usable].reset_index(drop=True), design.loc[usable].reset_index(drop=True)
    estimates, errors = _regression(rows, design)
    weeks = np.sort(rows[P.WEEK].unique())
    first = (rows[P.WEEK] <= weeks[(len(weeks) - 1) // 2]).to_numpy()
    halves = [_regression(rows.loc[part].reset_index(drop=True), design.loc[part].reset_index(drop=True))[0] for part in (first, ~first)]
    out = []
    for category, group in rows.groupby(Columns.category):
        name = f"cross|{category}"
        products = group[Columns.item].nunique()
        known = name in estimates.index and products >= min_products and errors.get(name, 0.0) > 0
        estimate = float(estimates[name]) if known else np.nan
        se = float(errors[name]) if known else np.nan
        out.append(
            {
                Columns.category: category, CROSS: estimate, "se": se, "ci_low": estimate - Z95 * se,
                "ci_high": estimate + Z95 * se, "p_value": float(2 * stats.norm.sf(abs(estimate / se))) if known else np.nan,
                "first_half": float(halves[0].get(name, np.nan)), "second_half": float(halves[1].get(name, np.nan)),
                "known": known, "products": products, "weeks": group[P.WEEK].nunique(),
            }
        )
    table = pd.DataFrame(out).set_index(Columns.category)
    table["holm"] = holm_significant(table["p_value"], alpha)
    stable = (np.sign(table["first_half"]) == np.sign(table[CROSS])) & (np.sign(table["second_half"]) == np.sign(table[CROSS]))
    relation = np.where(table["holm"] & stable, np.where(table[CROSS] > 0, "substitutes", "complements"), "independent")
    table[RELATION] = np.where(table.pop("known"), relation, "unknown")
    return table


def holm_significant(p_values: pd.Series, alpha: float = FAMILY_ALPHA) -> pd.Series:
    """Holm's step-down test: which hypotheses are rejected with family-wise error at most ``alpha``
    (NaN p-values are never rejected and do not count in the family)."""
    known = p_values.dropna().sort_values()
    thresholds = alpha / (len(known) - np.arange(len(known)))
    passed = np.cumprod(known.to_numpy() <= thresholds).astype(bool)
    return pd.Series(passed, index=known.index).reindex(p_values.index, fill_value=False)


def _regression(rows: pd.DataFrame, design: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The within (product and week) least-squares coefficients of log units on ``design`` and their
    week-clustered standard errors (columns without variation left out)."""
    data = design.assign(_y=P.log_units(rows[P.UNITS]))
    within = two_way_demean(data, rows[Columns.item].to_numpy(), rows[P.WEEK].astype(str).to_numpy(), sweeps=30)
    x, y = within.drop(columns="_y"), within["_y"].to_numpy()
    x = x.loc[:, (x.abs() > 1e-10).any().to_numpy()]
    coefficients, *_ = np.linalg.lstsq(x.to_numpy(), y, rcond=None)
    residual = y - x.to_numpy() @ coefficients
    covariance = _week_clustered_covariance(x.to_numpy(), residual, rows[P.WEEK].to_numpy())
    return pd.Series(coefficients, index=x.columns), pd.Series(np.sqrt(np.clip(np.diag(covariance), 0, None)), index=x.columns)


def _week_clustered_covariance(x: np.ndarray, residual: np.ndarray, weeks: np.ndarray) -> np.ndarray:
    """The sandwich covariance of least-squares coefficients with the scores summed by week (clusters:
    a week's rows share its category shocks), with the small-sample factor G / (G - 1)."""
    bread = np.linalg.pinv(x.T @ x, hermitian=True)  # symmetric: eigh, which converges where the SVD did not
    codes, uniques = pd.factorize(weeks)
    scores = np.zeros((len(uniques), x.shape[1]))
    np.add.at(scores, codes, x * residual[:, None])
    clusters = len(uniques)
    return clusters / max(clusters - 1, 1) * bread @ (scores.T @ scores) @ bread
