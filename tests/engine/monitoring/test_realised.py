"""Realised churn, event funnel, top-N hit rate and price response on small hand-made frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.errors import EngineError
from engine.feedback.events import EventColumns as E
from engine.monitoring.realised import (
    check_events,
    churn_realised,
    event_funnel,
    forecast_units,
    list_hit_rate,
    price_response,
    served_lists,
)


def test_churn_realised_against_labels() -> None:
    result = churn_realised(np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.6, 0.4]), bins=2)
    assert result["auc"] == 1.0 and result["customers"] == 4 and result["churn_rate"] == 0.5
    assert result["log_loss"] == pytest.approx(-(math.log(0.9) + math.log(0.8) + math.log(0.6) + math.log(0.6)) / 4)
    # two equal-count bins by prediction: (0.2, 0.4) predicted 0.3 vs observed 0; (0.6, 0.9) 0.75 vs 1
    assert result["ece"] == pytest.approx((0.3 + 0.25) / 2)
    assert churn_realised(np.array([0, 0]), np.array([0.1, 0.2]))["auc"] is None


def _events(rows: list[tuple]) -> pd.DataFrame:
    columns = [E.event_id, E.event_type, E.timestamp, E.customer_id, E.item_id, E.request_id, E.model_version]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(**{E.bundle_version: "b1", E.variant: "", E.price: np.nan, E.quantity: np.nan, E.value: 0.0})


EVENTS = _events([
    ("e1", "rec_shown", "2024-01-01T10:00:00Z", "c1", "a", "r1", "1"),
    ("e2", "rec_shown", "2024-01-01T10:00:00Z", "c1", "b", "r1", "1"),
    ("e3", "rec_shown", "2024-01-02T10:00:00Z", "c2", "a", "r2", "1"),
    ("e4", "rec_shown", "2024-01-02T11:00:00Z", "c3", "x", "r3", "2"),
    ("e5", "rec_clicked", "2024-01-01T10:01:00Z", "c1", "a", "r1", "1"),
    ("e6", "rec_bought", "2024-01-01T10:05:00Z", "c1", "a", "r1", "1"),
    ("e7", "rec_bought", "2024-01-02T12:00:00Z", "c3", "x", "r3", "2"),
    ("e8", "rec_clicked", "2024-01-03T12:00:00Z", "c9", "z", "r9", "2"),  # matches no exposure
    ("e8", "rec_clicked", "2024-01-03T12:00:00Z", "c9", "z", "r9", "2"),  # the same event twice
])


def test_event_funnel_per_model_version() -> None:
    table = event_funnel(check_events(EVENTS)).set_index(E.model_version)
    assert table.loc["1", ["answers", "exposed", "rec_clicked", "rec_bought"]].tolist() == [2, 3, 1, 1]
    assert table.at["1", "rec_clicked_rate"] == pytest.approx(1 / 3)
    assert table.at["1", "hit_rate"] == 0.5  # r1 got a response, r2 none
    assert table.loc["2", ["answers", "exposed", "rec_bought", "hit_rate"]].tolist() == [1, 1, 1, 1.0]
    assert table.attrs["unmatched"] == 1  # counted once: duplicates of an event id are dropped


def test_served_lists_in_order_first_shown() -> None:
    assert served_lists(check_events(EVENTS), k=5) == {"c1": ["a", "b"], "c2": ["a"], "c3": ["x"]}


def test_check_events_names_the_problem() -> None:
    with pytest.raises(EngineError, match=r"missing column\(s\) \['variant'\]"):
        check_events(EVENTS.drop(columns=[E.variant]))
    bad = EVENTS.copy()
    bad.loc[2, E.event_type] = "rec_liked"
    with pytest.raises(EngineError, match="events row 3, field event_type: 'rec_liked'"):
        check_events(bad)
    bad = EVENTS.copy()
    bad.loc[1, E.timestamp] = "yesterday"
    with pytest.raises(EngineError, match="events row 2, field timestamp"):
        check_events(bad)


def test_list_hit_rate_over_buyers() -> None:
    result = list_hit_rate({"c1": ["a", "b"], "c2": ["x"]}, {"c1": {"b"}, "c2": {"y"}, "c3": {"a"}}, k=2)
    assert result["hit_rate@2"] == pytest.approx(1 / 3)  # c1 hit; c2 missed; c3 had no list
    assert result["precision@2"] == pytest.approx((1 / 2) / 3)
    assert result["listed_customers"] == 2 and result["n_customers"] == 3
    with pytest.raises(EngineError, match="no customer bought"):
        list_hit_rate({"c1": ["a"]}, {"c1": set()}, k=1)


def test_forecast_and_price_response() -> None:
    # 10 units at 2.00 with elasticity -2: at 4.00, 10 x 2^-2 = 2.5; at the same price, 10
    assert forecast_units(np.array([10.0, 10.0]), np.array([2.0, 2.0]), np.array([-2.0, -2.0]), np.array([4.0, 2.0])).tolist() == [2.5, 10.0]
    result = price_response(np.array([10.0, 5.0]), np.array([8.0, 6.0]))
    assert result["wmape"] == pytest.approx(3 / 15) and result["bias"] == pytest.approx(14 / 15) and result["product_weeks"] == 2
    with pytest.raises(EngineError, match="no units sold"):
        price_response(np.array([0.0]), np.array([1.0]))
