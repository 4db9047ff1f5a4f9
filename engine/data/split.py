"""Time-based splits: every model is fitted on the past and evaluated on a later window it never saw."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from engine.data.columns import Columns
from engine.errors import EngineError


def default_as_of(transactions: pd.DataFrame) -> pd.Timestamp:
    """The day after the last transaction: "now" for a table that ends today. Every model, view and
    command that is not given an as-of date uses this one."""
    return transactions[Columns.timestamp].max().normalize() + pd.Timedelta(days=1)


def _days(length: str | int | pd.Timedelta) -> pd.Timedelta:
    if isinstance(length, int):
        return pd.Timedelta(days=length)
    delta = pd.Timedelta(length)
    if delta <= pd.Timedelta(0):
        raise EngineError(f"window length must be positive, got {length!r}")
    return delta


@dataclass(frozen=True)
class TimeSplit:
    """A calibration window ``[calibration_start, as_of)`` and a holdout window ``[as_of, holdout_end)``.

    ``as_of`` is the moment the model "stands at": features and fits use only what happened before
    it; outcomes are measured in the holdout. ``calibration_start=None`` means from the first record.
    """

    as_of: pd.Timestamp
    holdout_end: pd.Timestamp
    calibration_start: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        if self.holdout_end <= self.as_of:
            raise EngineError(f"holdout_end {self.holdout_end} must be after as_of {self.as_of}")
        if self.calibration_start is not None and self.calibration_start >= self.as_of:
            raise EngineError(f"calibration_start {self.calibration_start} must be before as_of {self.as_of}")

    @classmethod
    def at(
        cls,
        as_of: str | pd.Timestamp,
        holdout: str | int | pd.Timedelta,
        calibration: str | int | pd.Timedelta | None = None,
    ) -> TimeSplit:
        """A split standing at ``as_of`` with a holdout of the given length (days if an int)."""
        as_of = pd.Timestamp(as_of)
        start = None if calibration is None else as_of - _days(calibration)
        return cls(as_of=as_of, holdout_end=as_of + _days(holdout), calibration_start=start)

    @classmethod
    def last(
        cls,
        transactions: pd.DataFrame,
        holdout: str | int | pd.Timedelta,
        calibration: str | int | pd.Timedelta | None = None,
    ) -> TimeSplit:
        """Hold out the last ``holdout`` of the data (whole days, ending after the last record)."""
        if transactions.empty:
            raise EngineError("cannot split an empty transactions table")
        end = default_as_of(transactions)
        split = cls.at(end - _days(holdout), holdout, calibration)
        first = transactions[Columns.timestamp].min()
        if split.as_of <= first:
            raise EngineError(
                f"holdout of {holdout} leaves no calibration data (data starts {first}, as_of {split.as_of})"
            )
        return split

    def earlier(self, validation: str | int | pd.Timedelta) -> TimeSplit:
        """A validation split carved from the end of this calibration window (for tuning and
        calibration), so that the holdout stays untouched."""
        return TimeSplit.at(self.as_of - _days(validation), validation).with_start(self.calibration_start)

    def with_start(self, calibration_start: pd.Timestamp | None) -> TimeSplit:
        return TimeSplit(self.as_of, self.holdout_end, calibration_start)

    def calibration(self, frame: pd.DataFrame, column: str = Columns.timestamp) -> pd.DataFrame:
        """Rows strictly before ``as_of`` (and from ``calibration_start`` on, if set)."""
        ts = frame[column]
        mask = ts < self.as_of
        if self.calibration_start is not None:
            mask &= ts >= self.calibration_start
        return frame.loc[mask]

    def holdout(self, frame: pd.DataFrame, column: str = Columns.timestamp) -> pd.DataFrame:
        """Rows in ``[as_of, holdout_end)``."""
        ts = frame[column]
        return frame.loc[(ts >= self.as_of) & (ts < self.holdout_end)]

    def split(self, frame: pd.DataFrame, column: str = Columns.timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
        return self.calibration(frame, column), self.holdout(frame, column)

    @property
    def holdout_days(self) -> float:
        return (self.holdout_end - self.as_of) / pd.Timedelta(days=1)
