import numpy as np
import pandas as pd
import pytest

from engine.data.columns import Columns as C
from engine.data.schema import validate_transactions
from engine.errors import EngineError
from engine.feedback.events import EventColumns as E
from engine.feedback.experiments import customer_outcomes
from engine.feedback.replay import complete_weeks, plant_new_range, recommendation_events, week_of, week_start
from engine.feedback.shift_detection import ShiftRule, breaches, item_bins
from engine.monitoring.drift import psi_from_shares as psi
from engine.recommend.base import Recommendations
from engine.recommend.evaluation import relevant_items
from engine.recommend.metrics import evaluate


def _lines(rows) -> pd.DataFrame:
    raw = pd.DataFrame(rows, columns=[C.customer, C.item, C.order, C.timestamp, C.quantity, C.unit_price])
    return validate_transactions(raw)[0]


def test_events_match_purchases_and_engine_hit_rate():
    week = _lines(
        [
            ("a", "p1", "o1", "2024-01-02 10:00", 2, 3.0),
            ("a", "p1", "o2", "2024-01-04 10:00", 1, 3.0),  # p1 twice: one event, quantity 3
            ("a", "p9", "o1", "2024-01-02 10:00", 1, 1.0),  # bought, not shown: no event
            ("b", "p2", "o3", "2024-01-03 10:00", 1, 5.0),
            ("b", "p2", "o4", "2024-01-05 10:00", -1, 5.0),  # returned: net 0, not bought
            ("c", "p3", "o5", "2024-01-03 10:00", 1, 2.0),
        ]
    )
    shown = [
        Recommendations("a", ("p1", "p2"), (2.0, 1.0), "model"),
        Recommendations("b", ("p2", "p3"), (2.0, 1.0), "model"),
        Recommendations("c", ("p3", "p1"), (2.0, 1.0), "model"),
    ]
    events = recommendation_events(shown, week, pd.Timestamp("2024-01-01"), "w0:", {"a": "champion"}, {"champion": "m1"})
    assert list(events.columns) == list(E.ALL)
    assert events[E.event_id].is_unique
    assert (events[E.event_type] == "rec_shown").sum() == 6
    bought = events[events[E.event_type] == "rec_bought"].set_index(E.customer_id)
    assert sorted(zip(bought.index, bought[E.item_id])) == [("a", "p1"), ("c", "p3")]
    assert bought.loc["a", E.quantity] == 3 and bought.loc["a", E.value] == pytest.approx(9.0)
    assert bought.loc["a", E.timestamp] == pd.Timestamp("2024-01-02 10:00")
    assert bought.loc["a", E.model_version] == "m1" and bought.loc["c", E.variant] == ""
    # the realised hit rate from events is the engine's hit_rate@k on the same lists and purchases
    totals = customer_outcomes(events).sum()
    relevant = relevant_items(week, task="repeat")
    engine = evaluate({r.subject: r.item_ids for r in shown}, relevant, k=2)
    assert totals["hits"] / len(relevant) == pytest.approx(engine["hit_rate@2"])
    assert totals["hits"] == 2 and totals["requests"] == 3


def test_weeks_and_new_range():
    lines = _lines(
        [(f"c{i % 3}", f"p{i % 10}", f"o{i}", pd.Timestamp("2024-01-01 09:00") + pd.Timedelta(days=i), 1, 1.0) for i in range(30)]
    )
    start = week_start(lines)
    assert start == pd.Timestamp("2024-01-01")
    assert week_of(lines, start).tolist() == [i // 7 for i in range(30)]
    assert complete_weeks(lines, start) == 4  # 30 days: the fifth week is partial
    since = pd.Timestamp("2024-01-15")
    shifted, renewed = plant_new_range(lines, since, 0.5, seed=3)
    assert len(renewed) == 5
    before = shifted[C.timestamp] < since
    assert shifted.loc[before, C.item].equals(lines.loc[before, C.item].astype(str))
    moved = shifted.loc[~before, C.item]
    assert set(moved[moved.str.startswith("new:")].str[4:]) == set(renewed) & set(lines.loc[~before, C.item])
    assert not moved[~moved.str.startswith("new:")].isin(renewed).any()
    with pytest.raises(EngineError, match="share"):
        plant_new_range(lines, since, 0.0, seed=3)


def test_psi_and_breaches():
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    # (0.8 - 0.5) ln(0.8 / 0.5) + (0.2 - 0.5) ln(0.2 / 0.5)
    assert psi(np.array([0.5, 0.5]), np.array([0.8, 0.2])) == pytest.approx(0.3 * np.log(1.6) - 0.3 * np.log(0.4))
    bins = item_bins(pd.Series(["a", "a", "b", "c"]), model_items={"a", "b", "c", "d"}, bins=2)
    assert bins.shares(pd.Series(["a", "d", "x", "x"])).tolist() == [0.25, 0.0, 0.25, 0.5]  # a, b, known, unseen
    rule = ShiftRule(hit_rate_drop=0.2, psi_threshold=0.25)
    assert breaches(rule, 0.5, 0.6, 0.1) == []
    found = breaches(rule, 0.4, 0.6, 0.3)
    assert len(found) == 2 and "hit rate 0.400 below 0.480" in found[0] and "PSI 0.300" in found[1]
