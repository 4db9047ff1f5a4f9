"""Time splits never let the future leak into calibration."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.data.split import TimeSplit
from engine.errors import EngineError


def test_last_holds_out_whole_days_at_the_end(tiny_transactions):
    split = TimeSplit.last(tiny_transactions, holdout=30)
    assert split.holdout_end == pd.Timestamp("2024-03-26")
    assert split.as_of == pd.Timestamp("2024-02-25")
    calibration, holdout = split.split(tiny_transactions)
    assert len(calibration) + len(holdout) == len(tiny_transactions)
    assert calibration["timestamp"].max() < split.as_of <= holdout["timestamp"].min()


def test_earlier_carves_validation_from_calibration(tiny_transactions):
    split = TimeSplit.last(tiny_transactions, holdout=30)
    validation = split.earlier(60)
    assert validation.holdout_end == split.as_of
    assert validation.as_of == split.as_of - pd.Timedelta(days=60)
    assert validation.holdout(tiny_transactions)["timestamp"].max() < split.as_of


def test_calibration_window_start_is_respected(tiny_transactions):
    split = TimeSplit.at("2024-03-01", holdout="30D", calibration=60)
    assert split.calibration(tiny_transactions)["timestamp"].min() >= pd.Timestamp("2024-01-01")


def test_bad_windows_are_errors(tiny_transactions):
    with pytest.raises(EngineError, match="no calibration data"):
        TimeSplit.last(tiny_transactions, holdout=10_000)
    with pytest.raises(EngineError, match="must be positive"):
        TimeSplit.at("2024-01-01", holdout="-5D")
