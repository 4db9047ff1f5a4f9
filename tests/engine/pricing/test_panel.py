"""The weekly product panel: hand-computed aggregates, joins, and agreement with the synthetic truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.schema import validate_transactions
from engine.errors import EngineError
from engine.pricing import panel as P


@pytest.fixture
def lines() -> pd.DataFrame:
    rows = [
        # customer, product, order, timestamp (2024-01-01 is a Monday), quantity, unit_price, discount
        ("a", "p1", "o1", "2024-01-01 10:00", 2, 5.0, 0.0),
        ("b", "p1", "o2", "2024-01-07 23:00", 2, 5.0, 2.0),  # Sunday: same week; 20% off
        ("b", "p1", "o3", "2024-01-08 09:00", 1, 6.0, 0.0),  # next week
        ("a", "p2", "o1", "2024-01-01 10:00", 4, 2.0, 0.0),
        ("a", "p2", "o4", "2024-01-03 10:00", -1, 2.0, 0.0),  # a return: not demand
        ("c", "p2", "o5", "2024-01-22 10:00", 1, 2.0, 0.0),  # two weeks later: no last-week sale
    ]
    raw = pd.DataFrame(rows, columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price", "discount"])
    return validate_transactions(raw)[0]


def test_aggregates_by_hand(lines):
    panel = P.build_panel(lines, partial="keep").set_index(["product_id", "week_start"])
    week1, week2, week4 = (pd.Timestamp(d) for d in ("2024-01-01", "2024-01-08", "2024-01-22"))
    first = panel.loc[("p1", week1)]
    assert first["units"] == 4 and first["revenue"] == pytest.approx(18.0)
    assert first["price"] == pytest.approx(4.5) and first["regular_price"] == pytest.approx(5.0)
    assert first["discount_depth"] == pytest.approx(0.1) and bool(first["promo"])
    assert np.isnan(first["units_last_week"]) and first["traffic"] == 2  # orders with a sale: o1, o2
    assert panel.loc[("p1", week2), "units_last_week"] == 4
    assert panel.loc[("p2", week1), "units"] == 4  # the return is left out
    assert np.isnan(panel.loc[("p2", week4), "units_last_week"])
    assert panel.loc[("p2", week4), "week_index"] == 3
    assert (panel["category"] == "all").all() and panel["display"].isna().all()


def test_promotions_and_stock_join(lines):
    promotions = pd.DataFrame({"product_id": ["p1"], "week_start": [pd.Timestamp("2024-01-01")], "display": [0.5], "mailer": [1.0]})
    stock = pd.DataFrame({"product_id": ["p1", "p1"], "week_start": pd.to_datetime(["2024-01-01", "2024-01-08"]), "stock_on_hand": [4, 10]})
    panel = P.build_panel(lines, promotions=promotions, stock=stock).set_index(["product_id", "week_start"])
    assert panel.loc[("p1", pd.Timestamp("2024-01-01")), ["display", "mailer"]].tolist() == [0.5, 1.0]
    assert panel.loc[("p2", pd.Timestamp("2024-01-01")), "display"] == 0.0
    assert bool(panel.loc[("p1", pd.Timestamp("2024-01-01")), "stockout"])
    assert not bool(panel.loc[("p1", pd.Timestamp("2024-01-08")), "stockout"])


def test_weeks_can_start_on_another_day(lines):
    assert P.week_start(pd.Series(pd.to_datetime(["2024-01-02 08:00", "2024-01-03 00:00", "2024-01-09 23:59"])), "Wednesday").tolist() == [
        pd.Timestamp("2023-12-27"), pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-03")
    ]
    panel = P.build_panel(lines, week_starts_on="sunday", partial="keep").set_index(["product_id", "week_start"])
    # Sunday 2024-01-07 opens a week with Monday 2024-01-08: p1's lines split 2 | 3 units, not 4 | 1
    assert panel.loc[("p1", pd.Timestamp("2023-12-31")), "units"] == 2
    assert panel.loc[("p1", pd.Timestamp("2024-01-07")), "units"] == 3
    assert (panel.index.get_level_values("week_start").dayofweek == 6).all()
    with pytest.raises(EngineError, match="week_starts_on"):
        P.build_panel(lines, week_starts_on="caturday")


def test_tables_on_other_weeks_are_refused(lines):
    promotions = pd.DataFrame({"product_id": ["p1"], "week_start": [pd.Timestamp("2024-01-01")], "display": [0.5], "mailer": [1.0]})
    with pytest.raises(EngineError, match="promotions table's weeks start on monday.*week_starts_on"):
        P.build_panel(lines, promotions=promotions, week_starts_on="sunday")
    stock = pd.DataFrame({"product_id": ["p1"], "week_start": [pd.Timestamp("2024-01-01")], "stock_on_hand": [4]})
    with pytest.raises(EngineError, match="stock table"):
        P.build_panel(lines, stock=stock, week_starts_on="sunday")


def test_matches_the_synthetic_truth(unconfounded_shop):
    panel = P.shop_panel(unconfounded_shop).set_index(["product_id", "week_start"])
    weekly = unconfounded_shop.truth.weekly.set_index(["product_id", "week_start"]).loc[panel.index]
    np.testing.assert_array_equal(panel["units"], weekly["units"])
    np.testing.assert_allclose(panel["price"], weekly["price"], atol=0.011)
    np.testing.assert_allclose(panel["regular_price"], weekly["regular_price"])
    np.testing.assert_allclose(panel["unit_cost"], weekly["unit_cost"])
    np.testing.assert_array_equal(panel["display"], weekly["display"].astype(float))
    np.testing.assert_array_equal(panel["stock_on_hand"], weekly["stock"])


def test_selection_and_split(unconfounded_shop):
    panel = P.shop_panel(unconfounded_shop)
    top = P.select_products(panel, min_weeks=10, top=5)
    assert top["product_id"].nunique() == 5
    with pytest.raises(EngineError, match="min_weeks"):
        P.select_products(panel, min_weeks=10_000)
    split = P.holdout_split(panel, 10)
    holdout = split.holdout(panel, "week_start")
    assert holdout["week_start"].nunique() == 10
    assert split.calibration(panel, "week_start")["week_start"].max() < holdout["week_start"].min()
    with pytest.raises(EngineError, match="holdout_weeks"):
        P.holdout_split(panel, 0)


def test_log_units_removes_the_small_count_bias_of_a_log_log_slope():
    """Poisson weekly units with a known elasticity of -2 at 10 units a week at the regular price: the
    slope on plain logs is too elastic by 0.08; on log_units it is right. units_from_log inverts log_units."""
    rng = np.random.default_rng(0)
    log_price = np.log(rng.choice([0.7, 1.0], size=200_000))
    units = rng.poisson(10.0 * np.exp(-2.0 * log_price))
    keep = units > 0  # a week without a sale has no observed price
    x = log_price[keep] - log_price[keep].mean()

    def slope(y):
        return float(np.sum(x * (y - y.mean())) / np.sum(x * x))

    assert slope(np.log(units[keep])) < -2.05
    assert abs(slope(P.log_units(units[keep])) + 2.0) < 0.02
    assert np.allclose(P.units_from_log(P.log_units(units)), units)
    assert P.units_from_log(np.array([-5.0]))[0] == 0.0


def test_daily_calendar_and_stock_are_summed_into_the_weeks(lines):
    promotions = pd.DataFrame(
        {"product_id": ["p1"] * 3, "date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-09"]), "display": [1.0, 1.0, 1.0], "mailer": [0.0, 0.0, 1.0]}
    )
    stock = pd.DataFrame({"product_id": ["p1"] * 3, "date": pd.to_datetime(["2024-01-02", "2024-01-08", "2024-01-10"]), "stock_on_hand": [9, 5, 0]})
    panel = P.build_panel(lines, promotions=promotions, stock=stock, week_starts_on="monday", partial="keep")
    panel = panel.set_index(["product_id", "week_start"])
    week1, week2 = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-08")
    assert panel.loc[("p1", week1), "display"] == pytest.approx(2 / 7) and panel.loc[("p1", week2), "mailer"] == pytest.approx(1 / 7)
    assert panel.loc[("p1", week1), "stock_on_hand"] == 9 and not bool(panel.loc[("p1", week1), "stockout"])
    # opened with 5 on hand, sold 1, but a day had none: censored
    assert panel.loc[("p1", week2), "stock_on_hand"] == 5 and bool(panel.loc[("p1", week2), "stockout"])
    # a daily calendar needs no alignment with the panel's weeks
    sunday = P.build_panel(lines, promotions=promotions, week_starts_on="sunday", partial="keep").set_index(["product_id", "week_start"])
    assert sunday.loc[("p1", pd.Timestamp("2023-12-31")), "display"] == pytest.approx(2 / 7)


def test_partial_first_and_last_weeks_are_dropped(lines):
    # the lines run from Monday 2024-01-01 to Monday 2024-01-22: the last week has one day of seven
    assert P.partial_weeks(lines) == [pd.Timestamp("2024-01-22")]
    assert pd.Timestamp("2024-01-22") not in set(P.build_panel(lines)["week_start"])
    # Wednesday weeks: the data start on Monday 1 January, inside the week from Wednesday 27 December
    assert P.partial_weeks(lines, "wednesday") == [pd.Timestamp("2023-12-27"), pd.Timestamp("2024-01-17")]
    assert P.build_panel(lines, week_starts_on="wednesday")["week_start"].unique().tolist() == [
        pd.Timestamp("2024-01-03")
    ]


def test_daily_data_from_wednesday_to_tuesday_leaves_out_its_partial_weeks():
    # one row per product-day at midnight (a shop that exports daily totals), Wednesday 3 to Tuesday 23 January
    days = pd.date_range("2024-01-03", "2024-01-23", freq="D")
    raw = pd.DataFrame(
        {"customer_id": "all", "product_id": "p1", "order_id": [f"d{i}" for i in range(len(days))], "timestamp": days,
         "quantity": 10, "unit_price": 2.0}
    )
    lines = validate_transactions(raw)[0]
    assert P.partial_weeks(lines) == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-22")]
    weekly = P.build_panel(lines)
    assert weekly["week_start"].tolist() == [pd.Timestamp("2024-01-08"), pd.Timestamp("2024-01-15")]
    assert weekly["units"].tolist() == [70, 70]  # whole weeks only: no week of 5 or 2 days reads as a collapse
    # a daily calendar over the partial days joins to nothing; at day grain every day is whole and kept
    promotions = pd.DataFrame({"product_id": "p1", "date": days, "display": 1.0, "mailer": 0.0})
    assert P.build_panel(lines, promotions=promotions)["display"].tolist() == [1.0, 1.0]
    assert len(P.build_panel(lines, grain="day")) == len(days)


def test_posted_price_is_what_most_lines_paid_whatever_their_size():
    rows = [
        ("a", "p1", "o1", "2024-01-01", 1, 10.0),
        ("b", "p1", "o2", "2024-01-02", 2, 10.0),
        ("c", "p1", "o3", "2024-01-03", 100, 7.0),  # a wholesale order at the tier price
        ("a", "p2", "o4", "2024-01-01", 1, 4.0),
        ("b", "p2", "o5", "2024-01-02", 1, 5.0),  # a tie: the higher price is the list price
    ]
    raw = pd.DataFrame(rows, columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price"])
    lines = validate_transactions(raw)[0]
    paid = P.build_panel(lines, partial="keep").set_index("product_id")
    posted = P.build_panel(lines, price_basis="posted", partial="keep").set_index("product_id")
    assert paid.loc["p1", "price"] == pytest.approx(730 / 103)
    assert posted.loc["p1", "price"] == 10.0 and posted.loc["p2", "price"] == 5.0
    assert posted.loc["p1", "units"] == 103 and posted.loc["p1", "regular_price"] == 10.0
    daily = P.build_panel(lines, grain="day", price_basis="posted").set_index(["product_id", "week_start"])
    assert daily.loc[("p1", pd.Timestamp("2024-01-03")), "price"] == 7.0
    assert daily.loc[("p1", pd.Timestamp("2024-01-02")), "units_last_week"] == 1  # the day before
    with pytest.raises(EngineError, match="grain"):
        P.build_panel(lines, grain="month")


def test_less_than_one_whole_week_is_an_error_that_says_so(lines):
    few_days = lines.loc[lines["timestamp"] < "2024-01-04"]
    with pytest.raises(EngineError, match="covers only in part"):
        P.build_panel(few_days)
    assert len(P.build_panel(few_days, partial="keep")) == 2
