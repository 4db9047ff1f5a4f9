"""The gap hazard: spells from purchase days, no look-ahead, and a survival that falls with the pause
of a regular buyer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.customers.hazard import GapHazard, spells
from engine.data.schema import validate_transactions
from engine.errors import EngineError


def _weekly_buyers(n: int = 60, weeks: int = 40, seed: int = 0) -> pd.DataFrame:
    """``n`` customers buying every week; half of them stop after week 20."""
    rng = np.random.default_rng(seed)
    rows = []
    for customer in range(n):
        last = 20 if customer % 2 else weeks
        for week in range(last):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=7 * week + int(rng.integers(0, 3)))
            rows.append((f"c{customer}", "p1", f"o{customer}-{week}", day, 1, 10.0))
    clean, _ = validate_transactions(pd.DataFrame(rows, columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price"]))
    return clean


def test_spells_hand_computed(tiny_transactions):
    table = spells(tiny_transactions, pd.Timestamp("2024-04-01")).set_index(["customer_id", "start"])
    a = table.loc["a"]
    # a bought on 01-05, 03-01, 03-20: gaps of 56 and 19 days, then a 12-day pause still running
    assert a["days"].tolist() == [56, 19, 12] and a["ended"].tolist() == [True, True, False]
    assert a["purchase_days"].tolist() == [1, 2, 3]
    assert a["last_gap"].iloc[2] == 19 and a["mean_gap"].iloc[2] == pytest.approx(37.5)
    # b's return day (02-11) is not a purchase day
    assert table.loc["b"]["days"].tolist() == [(pd.Timestamp("2024-03-25") - pd.Timestamp("2024-02-10")).days, 7]


def test_survival_rises_with_the_pause_and_ignores_later_lines():
    lines = _weekly_buyers()
    as_of = pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=30)
    model = GapHazard(n_estimators=50, min_child_samples=20).fit(lines, as_of)
    p = model.p_no_purchase(28)
    stopped = [f"c{k}" for k in range(1, 60, 2)]
    still = [f"c{k}" for k in range(0, 60, 2)]
    assert p[stopped].mean() > p[still].mean() + 0.3  # ten weeks without a purchase, against a weekly habit
    later = model.p_no_purchase(28)
    refit = GapHazard(n_estimators=50, min_child_samples=20).fit(lines.loc[lines["timestamp"] < as_of], as_of)
    pd.testing.assert_series_equal(refit.p_no_purchase(28), later)


def test_a_history_without_censored_or_ended_gaps_is_refused(tiny_transactions):
    one_day = tiny_transactions.loc[tiny_transactions["customer_id"] == "b"].iloc[:1]
    with pytest.raises(EngineError, match="censored or no completed gaps"):
        GapHazard().fit(one_day, "2024-04-01")
