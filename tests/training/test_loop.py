"""The offline loop's mechanics on a small habitual shop: the planted shift is detected, nothing fires
without it, the A/B picks the recommender the offline bench ranks first."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from engine.data.columns import Columns as C
from engine.data.schema import validate_transactions
from engine.errors import EngineError
from engine.feedback.shift_detection import ShiftRule
from training.cli import app
from training.loop import LoopConfig, ModelSpec, ShiftConfig, check_timeline, run_loop

WEEKS = 26


def _habitual_shop(seed: int = 0, customers: int = 160, items: int = 200) -> pd.DataFrame:
    """Each customer has 6 staples bought with probability 0.5 in each of ``WEEKS`` weeks, plus one
    item drawn from a mildly skewed popularity: buying again beats popularity, as in a grocery."""
    rng = np.random.default_rng(seed)
    popularity = 1 / np.arange(1, items + 1) ** 0.5
    popularity /= popularity.sum()
    rows = []
    for customer in range(customers):
        staples = rng.choice(items, 6, replace=False, p=popularity)
        for week in range(WEEKS):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=7 * week + int(rng.integers(0, 7)), hours=10)
            bought = set(staples[rng.random(6) < 0.5]) | {int(rng.choice(items, p=popularity))}
            rows += [(f"c{customer}", f"p{item}", f"o{customer}-{week}", day, 1, 2.0) for item in bought]
    raw = pd.DataFrame(rows, columns=[C.customer, C.item, C.order, C.timestamp, C.quantity, C.unit_price])
    return validate_transactions(raw)[0]


def _config(**changes) -> LoopConfig:
    settings = {
        "seed": 4,
        "k": 5,
        "train_weeks": 8,
        "offline_holdout_weeks": 2,
        "ab_weeks": 3,
        "champion": ModelSpec(kind="popularity"),
        "challenger": ModelSpec(kind="buy_again", params={"half_life_days": None}),
        "shift": ShiftConfig(week=14, share=0.5),
        "monitor": ShiftRule(bins=10),  # ~600 purchase lines a week: few bins, or PSI is mostly noise
        "restore_weeks": 3,
        "control": True,
    }
    return LoopConfig(**{**settings, **changes})


@pytest.fixture(scope="module")
def shop() -> pd.DataFrame:
    return _habitual_shop()


@pytest.fixture(scope="module")
def payload(shop) -> dict:
    return run_loop(shop, _config())


def test_shift_is_detected_and_a_retrain_restores(payload):
    assert payload["shift_detected_after_weeks"] in (1, 2)
    assert payload["false_alarms_before_shift"] == []
    detected = payload["detected_week"]
    by_week = {row["week"]: row for row in payload["weeks"]}
    assert by_week[detected]["retrained"] and by_week[detected]["breaches"]
    assert by_week[detected + 1]["model"] == f"buy_again@w{detected + 1}"
    assert by_week[14]["hit_rate"] < payload["pre_shift_hit_rate"]  # the shift does hurt
    assert any("PSI" in breach for breach in by_week[detected]["breaches"])  # new ids: the unseen bin fills
    after = [by_week[w]["hit_rate"] for w in range(detected + 1, detected + 4)]
    assert payload["restored_ratio"] == pytest.approx(np.mean(after) / payload["pre_shift_hit_rate"])


def test_the_schedule_keeps_its_calendar_after_a_breach_retrain(shop):
    scheduled = run_loop(shop, _config(retrain_every_weeks=5, control=False))
    first = scheduled["weeks"][0]["week"]  # 11: the first served week; the schedule retrains after weeks 15 and 20
    reasons = {row["week"]: row["retrain_reason"] for row in scheduled["weeks"] if row["retrained"]}
    assert {week for week, reason in reasons.items() if reason == "schedule"} == {15, 20} and first == 11
    assert reasons[scheduled["detected_week"]] == "breach", "a breach retrains at once, off the schedule"
    by_week = {row["week"]: row for row in scheduled["weeks"]}
    assert all(by_week[week + 1]["model"].endswith(f"@w{week + 1}") for week in reasons)


def test_no_alarm_without_the_shift(payload):
    assert payload["control"]["false_alarm_weeks"] == []
    assert all(row["psi"] is None or row["psi"] < 0.25 for row in payload["control"]["weeks"])


def test_ab_follows_the_offline_ordering(payload):
    assert payload["offline"]["better"] == "challenger"
    assert payload["ab"]["decision"] == "promote"
    assert payload["ab_agrees_with_offline"] is True
    events = payload["ab_events"]
    customers = events.groupby("customer_id")["variant"].nunique()
    assert customers.max() == 1  # sticky: a customer stays in one arm over the weeks


def test_timeline_errors_name_the_setting():
    with pytest.raises(EngineError, match="shift.week=12"):
        check_timeline(_config(shift=ShiftConfig(week=12)), WEEKS)
    with pytest.raises(EngineError, match="offline_holdout_weeks=8"):
        check_timeline(_config(offline_holdout_weeks=8), WEEKS)


@pytest.mark.slow  # the whole bench command
def test_bench_loop_command_writes_the_contract(tmp_path):
    data = tmp_path / "shop.csv"
    _habitual_shop(customers=50).drop(columns=[C.revenue]).to_csv(data, index=False)
    config = tmp_path / "loop.yaml"
    config.write_text(json.dumps(_config(control=False).model_dump()))
    out = tmp_path / "loop.json"
    result = CliRunner().invoke(app, ["bench", "loop", "--data", str(data), "--config", str(config), "--out", str(out), "--shift-week", "16"])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert {"shift_detected_after_weeks", "restored_ratio", "ab_agrees_with_offline", "weeks"} <= set(written)
    assert written["shift"]["week"] == 16
    assert (tmp_path / "loop.png").stat().st_size > 0
    report = CliRunner().invoke(app, ["experiment", "report", "--events", str(tmp_path / "loop.ab-events.parquet")])
    assert report.exit_code == 0, report.output
    assert f"decision: {written['ab']['decision']}" in report.output
