"""Reasons of a churn score in a marketer's words.

The model's contributions (LightGBM's exact ``pred_contrib`` per feature, plus the probabilistic base
model's share) are summed over groups of features that say the same thing about a customer: how long
they have paused against their own usual gap, how often they buy against the shop, how their spend
moves, returns, discounts, basket breadth, and (for a shop with after-sales data) open complaints and
satisfaction. Each group is then phrased as a fact of the customer's own
history or against the shop's median customer ("no purchase for 45 days, 3.0x their usual gap of 15
days", "spend down 60% vs the previous 90 days", "returned 4 of the last 10 orders", "complaint open for 9 days", "satisfaction fell from 5 to
2") and named with its direction ("raises risk: ...",
"lowers risk: ...").

A group is dropped when its effect is under ``min_effect`` log-odds (trivial), or when its direction
contradicts the fact it would be phrased with (counter-intuitive: a pause shorter than the usual gap
said to raise the risk, spend going up said to raise it); a fact too small to argue either way
(a pause of 1-1.5x the usual gap, spend within +-25%) is not shown either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from engine.customers.aftersales import CONTACT_FEATURES, SURVEY_FEATURES, earlier_satisfaction
from engine.customers.features import EXPECTED_PURCHASES, P_ALIVE, P_NO_PURCHASE, PURCHASE_MODELS, WINDOW_SPEND

BASE_COLUMN = "base_model"
MIN_EFFECT = 0.05
SEPARATOR = "; "

Fact = tuple[np.ndarray, np.ndarray]  # per customer: intuitive direction (+1 raises, -1 lowers, 0 none), text


def _each_model(template: str) -> list[str]:
    return [template.format(name) for name in PURCHASE_MODELS]


GROUPS: dict[str, tuple[str, ...]] = {
    "pause": ("recency_days", "recency_over_gap", "longer_gap_share", "r_score", "last_gap_days", "purchase_days_30",
              *_each_model(P_NO_PURCHASE), *_each_model(P_ALIVE), BASE_COLUMN),
    "frequency": ("frequency", "purchase_days", "purchase_days_90", "f_score", "tenure_days", "mean_gap_days",
                  "std_gap_days", "gap_cv", *_each_model(EXPECTED_PURCHASES)),
    "spend": ("monetary", "m_score", "spend_90", "spend_prior_90", "spend_trend", "order_value", "tier_rank",
              "window_value", "gg_expected_spend", *_each_model(WINDOW_SPEND)),
    "returns": ("return_line_share", "return_value_share", "recent_returns", "recent_orders"),
    "discounts": ("discount_share",),
    "breadth": ("distinct_products", "distinct_categories", "lines_per_order", "units_per_order"),
    "complaints": CONTACT_FEATURES[:4],
    "satisfaction": (*CONTACT_FEATURES[4:], *SURVEY_FEATURES),
}


def _median(values: pd.Series, default: float) -> float:
    median = values.median()
    return float(median) if np.isfinite(median) else default


def _days(value: float) -> str:
    """"1 day", "12 days"."""
    return f"{value:.0f} day" if f"{value:.0f}" == "1" else f"{value:.0f} days"


def _pause(f: pd.DataFrame) -> Fact:
    recency, gap = f["recency_days"].to_numpy(), f["mean_gap_days"].to_numpy()
    shop_gap = _median(f["mean_gap_days"], np.inf)
    ratio = recency / np.where(gap > 0, gap, np.nan)
    repeat = np.isfinite(ratio)
    sign = np.where(repeat, np.where(ratio >= 1.5, 1, np.where(ratio <= 1, -1, 0)), np.where(recency > shop_gap, 1, 0))
    text = np.array([
        (f"no purchase for {_days(r)}, {q:.1f}x their usual gap of {_days(g)}" if s > 0
         else f"last purchase {_days(r)} ago, within their usual gap of {_days(g)}") if ok
        else f"one purchase day so far, {_days(r)} ago (customers here usually return within {_days(shop_gap)})"
        for r, g, q, ok, s in zip(recency, gap, ratio, repeat, sign)
    ], dtype=object)
    return sign, text


def _frequency(f: pd.DataFrame) -> Fact:
    days = f["purchase_days_90"].to_numpy()
    shop = _median(f["purchase_days_90"], 0.0)
    sign = np.sign(shop - days).astype(int)
    text = np.array([f"bought on {d:.0f} days in the last 90 (median customer: {shop:.0f})" for d in days], dtype=object)
    return sign, text


def _spend(f: pd.DataFrame) -> Fact:
    recent, prior = f["spend_90"].clip(lower=0).to_numpy(), f["spend_prior_90"].clip(lower=0).to_numpy()
    change = np.divide(recent, prior, out=np.full(len(recent), np.nan), where=prior > 0) - 1
    sign = np.where(prior > 0, np.where(change <= -0.25, 1, np.where(change >= 0.25, -1, 0)), np.where(recent > 0, -1, 1))
    text = np.array([
        (f"spend {'down' if c < 0 else 'up'} {abs(c):.0%} vs the previous 90 days ({r:,.0f} vs {p:,.0f})" if p > 0
         else f"spent {r:,.0f} in the last 90 days after nothing in the 90 before" if r > 0
         else "no spend in the last 180 days")
        for r, p, c in zip(recent, prior, change)
    ], dtype=object)
    return sign, text


def _returns(f: pd.DataFrame) -> Fact:
    """"returned k of the last n orders" when the recent orders saw returns; the share of lines
    returned when the returns are older; nothing to say (no direction) without returns."""
    lines, value = f["return_line_share"].fillna(0).to_numpy(), f["return_value_share"].fillna(0).to_numpy()
    recent, orders = _column(f, "recent_returns"), _column(f, "recent_orders")
    sign = np.where(lines > 0, 1, 0)
    text = np.array([
        f"returned {k:.0f} of the last {n:.0f} orders ({v:.0%} of spend refunded)" if k > 0
        else f"returned {s:.0%} of the lines bought ({v:.0%} of spend refunded)"
        for k, n, s, v in zip(np.nan_to_num(recent), orders, lines, value)
    ], dtype=object)
    return sign, text


def _discounts(f: pd.DataFrame) -> Fact:
    share = f["discount_share"].fillna(0).to_numpy()
    shop = _median(f["discount_share"], 0.0)
    sign = np.where(share > max(2 * shop, 0.1), 1, 0)
    text = np.array([f"bought {s:.0%} of list value on discount (median customer: {shop:.0%})" for s in share], dtype=object)
    return sign, text


def _breadth(f: pd.DataFrame) -> Fact:
    products = f["distinct_products"].fillna(0).to_numpy()
    shop = _median(f["distinct_products"], 0.0)
    sign = np.where(products >= 2 * shop, -1, np.where(products <= shop / 2, 1, 0))
    text = np.array([f"bought {p:.0f} different products (median customer: {shop:.0f})" for p in products], dtype=object)
    return sign, text


def _column(f: pd.DataFrame, name: str) -> np.ndarray:
    """A feature column as floats, NaN when the shop lacks the table it comes from."""
    return f[name].to_numpy(dtype=float) if name in f else np.full(len(f), np.nan)


def _rating(value: Any) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _complaints(f: pd.DataFrame) -> Fact:
    opened, days = _column(f, "open_complaints"), _column(f, "complaint_days_open")
    contacts, resolve = _column(f, "support_contacts"), _column(f, "mean_days_to_resolve")
    resolved_well = (opened == 0) & (contacts > 0) & np.isfinite(resolve)
    sign = np.where(opened > 0, 1, np.where(resolved_well, -1, 0))
    text = np.array([
        (f"complaint open for {d:.0f} days" if o == 1 else f"{o:.0f} complaints open, the oldest for {d:.0f} days") if s > 0
        else f"no complaint open; support contacts resolved in {r:.0f} days on average" if s < 0 else ""
        for o, d, r, s in zip(opened, days, resolve, sign)
    ], dtype=object)
    return sign, text


def _satisfaction(f: pd.DataFrame) -> Fact:
    last, change = _column(f, "satisfaction_last"), _column(f, "satisfaction_change")
    nps, csat = _column(f, "nps_last"), _column(f, "csat_last")
    earlier = earlier_satisfaction(f) if "satisfaction_last" in f else np.full(len(f), np.nan)
    cases = [  # (condition, direction, text), the first that holds is the fact
        (change <= -1, 1, lambda i: f"satisfaction fell from {_rating(earlier[i])} to {_rating(last[i])}"),
        (change >= 1, -1, lambda i: f"satisfaction rose from {_rating(earlier[i])} to {_rating(last[i])}"),
        (nps <= 6, 1, lambda i: f"last NPS answer {nps[i]:.0f} of 10 (a detractor)"),
        (csat <= 2, 1, lambda i: f"last CSAT answer {csat[i]:.0f} of 5"),
        (last <= 2, 1, lambda i: f"last satisfaction rating {last[i]:.0f} of 5"),
        (nps >= 9, -1, lambda i: f"last NPS answer {nps[i]:.0f} of 10 (a promoter)"),
        (csat >= 4, -1, lambda i: f"last CSAT answer {csat[i]:.0f} of 5"),
        (last >= 4, -1, lambda i: f"last satisfaction rating {last[i]:.0f} of 5"),
    ]
    case = np.select([holds for holds, _, _ in cases], np.arange(len(cases)), -1)
    directions = np.array([direction for _, direction, _ in cases])
    sign = np.where(case >= 0, directions[case], 0)
    text = np.full(len(f), "", dtype=object)
    for row in np.flatnonzero(case >= 0):
        text[row] = cases[case[row]][2](row)
    return sign, text


FACTS: dict[str, Callable[[pd.DataFrame], Fact]] = {
    "pause": _pause, "frequency": _frequency, "spend": _spend, "returns": _returns, "discounts": _discounts,
    "breadth": _breadth, "complaints": _complaints, "satisfaction": _satisfaction,
}


def group_effects(contributions: pd.DataFrame) -> pd.DataFrame:
    """The contributions summed per group of :data:`GROUPS` (columns the model lacks count as 0)."""
    return pd.DataFrame(
        {group: contributions.reindex(columns=list(names), fill_value=0.0).sum(axis=1) for group, names in GROUPS.items()},
        index=contributions.index,
    )


def phrase_reasons(
    contributions: pd.DataFrame, features: pd.DataFrame, k: int = 3, min_effect: float = MIN_EFFECT,
    explain: np.ndarray | None = None,
) -> pd.Series:
    """Up to ``k`` reasons per customer (rows of ``contributions`` and ``features`` align): the
    risk-raising ones first, each group by the size of its effect, joined by "; "; "" when none is
    left after dropping trivial and counter-intuitive ones. Medians are those of ``features`` (the
    shop's customers being scored). Rows where ``explain`` is true (those above low risk) are never
    left empty: they get :func:`why_no_reason`."""
    effects = group_effects(contributions)
    facts = {group: FACTS[group](features) for group in GROUPS}
    signs = np.column_stack([facts[group][0] for group in GROUPS])
    texts = np.column_stack([facts[group][1] for group in GROUPS])
    values = effects[list(GROUPS)].to_numpy()
    shown = (np.abs(values) >= min_effect) & (np.sign(values) == signs) & (signs != 0)
    # raises first (largest first), then lowers (largest first)
    order = np.argsort(np.where(shown, np.where(values > 0, -10_000 - values, values), np.inf), axis=1, kind="stable")
    reasons = []
    for row in range(len(values)):
        kept = [j for j in order[row, :k] if shown[row, j]]
        reasons.append(SEPARATOR.join(
            f"{'raises' if values[row, j] > 0 else 'lowers'} risk: {texts[row, j]}" for j in kept
        ))
    result = pd.Series(reasons, index=contributions.index, name="reasons")
    if explain is not None:
        empty = np.asarray(explain, dtype=bool) & (result == "").to_numpy()
        result[empty] = why_no_reason(features, contributions.sum(axis=1).to_numpy())[empty]
    return result


def why_no_reason(features: pd.DataFrame, total: np.ndarray) -> np.ndarray:
    """What a customer's list row says when no single reason passes: a customer with no more purchase
    days than the shop's median is scored mostly on how little history there is (the probabilistic
    models read a few purchases far apart as a slow or lapsed rhythm), which is said as a fact of
    their own history; anyone else's score is many small effects, said with the direction of their sum
    (``total``: the contributions added up, against the model's average customer)."""
    days, tenure = features["purchase_days"].to_numpy(dtype=float), features["tenure_days"].to_numpy(dtype=float)
    recency = features["recency_days"].to_numpy(dtype=float)
    sparse = days <= _median(features["purchase_days"], 0.0)
    return np.array([
        f"raises risk: little history to go on: {d:.0f} purchase day{'' if d == 1 else 's'} in {_days(t)}, the last {_days(r)} ago"
        if few else f"{'raises' if up > 0 else 'lowers'} risk: no single reason stands out, but together their history puts "
                    f"the score {'above' if up > 0 else 'below'} the shop's average"
        for d, t, r, few, up in zip(days, tenure, recency, sparse, total)
    ], dtype=object)
