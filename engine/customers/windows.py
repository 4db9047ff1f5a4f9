"""Out-of-time windows for churn and CLV: train on earlier snapshots, calibrate and choose on held-out
customers of the latest pre-test snapshot, test on the last window.

With test as-of T1 and outcome window h, training snapshots stand at T1 - h, T1 - h - step, ... so
that every training outcome ends by T1: nothing the test measures is seen in training. A fraction of
the customers (drawn with the seed) is held out of every training snapshot; their rows at T1 - h form
the validation set used for early stopping, probability calibration and model choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.customers.aftersales import AfterSales
from engine.customers.features import FeatureSpec, Snapshot, customer_features, window_outcomes
from engine.data.columns import Columns
from engine.data.split import TimeSplit
from engine.errors import EngineError

AS_OF = "as_of"


@dataclass(frozen=True)
class WindowPlan:
    """When each snapshot stands: ``train_as_of`` latest first (the first is also the validation
    snapshot) and ``test_as_of``; every outcome window lasts ``horizon_days``."""

    test_as_of: pd.Timestamp
    horizon_days: int
    train_as_of: tuple[pd.Timestamp, ...]

    @classmethod
    def for_data(
        cls,
        transactions: pd.DataFrame,
        horizon_days: int,
        test_as_of: str | pd.Timestamp | None = None,
        train_windows: int = 3,
        step_days: int = 28,
    ) -> WindowPlan:
        """Plan on ``transactions``: the test window is the last ``horizon_days`` of the data unless
        ``test_as_of`` is given; training snapshots that would stand before the first purchase are
        dropped, and none left is an error."""
        if train_windows < 1 or step_days < 1:
            raise EngineError(f"train_windows and step_days must be >= 1, got {train_windows} and {step_days}")
        if test_as_of is None:
            test = TimeSplit.last(transactions, horizon_days).as_of
        else:
            test = pd.Timestamp(test_as_of)
        last = transactions[Columns.timestamp].max()
        if test + pd.Timedelta(days=horizon_days) > last + pd.Timedelta(days=1):
            raise EngineError(
                f"the test window {test.date()} + {horizon_days} days runs past the data's end ({last.date()}); "
                "choose an earlier as_of or a shorter horizon"
            )
        return cls(test, horizon_days, _training_snapshots(transactions, test, horizon_days, train_windows, step_days))

    @classmethod
    def ending_at(
        cls,
        transactions: pd.DataFrame,
        horizon_days: int,
        as_of: str | pd.Timestamp,
        train_windows: int = 3,
        step_days: int = 28,
    ) -> WindowPlan:
        """The plan of a model to serve as of ``as_of``: the same training snapshots as a test window
        starting at ``as_of`` would have (every outcome ends by ``as_of``, so only lines before it are
        used), with no test window after it. ``test_as_of`` is then the scoring date, whose outcomes are
        not known yet."""
        if train_windows < 1 or step_days < 1:
            raise EngineError(f"train_windows and step_days must be >= 1, got {train_windows} and {step_days}")
        moment = pd.Timestamp(as_of)
        return cls(moment, horizon_days, _training_snapshots(transactions, moment, horizon_days, train_windows, step_days))


def _training_snapshots(
    transactions: pd.DataFrame, test: pd.Timestamp, horizon_days: int, train_windows: int, step_days: int
) -> tuple[pd.Timestamp, ...]:
    """Snapshots at ``test - horizon``, then every ``step_days`` earlier, after the data's first step."""
    first = transactions[Columns.timestamp].min()
    candidates = [test - pd.Timedelta(days=horizon_days + k * step_days) for k in range(train_windows)]
    train = tuple(moment for moment in candidates if moment > first + pd.Timedelta(days=step_days))
    if not train:
        raise EngineError(
            f"no training window fits: data start {first.date()}, as_of {test.date()}, "
            f"horizon {horizon_days} days; use a later as_of or a shorter horizon"
        )
    return train


@dataclass
class LabelledSnapshots:
    """Feature rows with their outcomes: train (several snapshots, held-out customers removed),
    validation (held-out customers at the latest training snapshot) and test; ``test_snapshot`` keeps
    the probabilistic models fitted as of the test date."""

    plan: WindowPlan
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    test_snapshot: Snapshot


def held_out_customers(customers: pd.Index, fraction: float, seed: int) -> pd.Index:
    """A reproducible random ``fraction`` of ``customers`` (same seed and customers, same draw)."""
    if not 0 < fraction < 1:
        raise EngineError(f"validation_fraction must be in (0, 1), got {fraction}")
    ordered = np.sort(customers.astype(str).unique())
    chosen = np.random.default_rng(seed).permutation(len(ordered))[: max(1, int(round(fraction * len(ordered))))]
    return pd.Index(ordered[chosen])


def labelled(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp,
    spec: FeatureSpec,
    products: pd.DataFrame | None,
    aftersales: AfterSales | None = None,
) -> tuple[pd.DataFrame, Snapshot]:
    """Features as of ``as_of`` joined with the outcomes of the window that follows."""
    snapshot = customer_features(transactions, as_of, spec, products, aftersales)
    outcomes = window_outcomes(transactions, as_of, spec.horizon_days, snapshot.features.index)
    return snapshot.features.join(outcomes).assign(**{AS_OF: as_of}), snapshot


def training_rows(
    transactions: pd.DataFrame,
    plan: WindowPlan,
    spec: FeatureSpec,
    products: pd.DataFrame | None = None,
    validation_fraction: float = 0.25,
    seed: int = 0,
    aftersales: AfterSales | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training rows of every snapshot of ``plan`` (held-out customers removed) and the validation
    rows (the held-out customers at the latest snapshot); ``spec``'s horizon must be the plan's.
    ``aftersales`` (the shop's support contacts and surveys) adds the after-sales features."""
    if spec.horizon_days != plan.horizon_days:
        raise EngineError(f"feature horizon {spec.horizon_days} days differs from the plan's {plan.horizon_days}")
    frames = [labelled(transactions, moment, spec, products, aftersales)[0] for moment in plan.train_as_of]
    held_out = held_out_customers(frames[0].index, validation_fraction, seed)
    validation = frames[0].loc[frames[0].index.isin(held_out)]
    train = pd.concat([frame.loc[~frame.index.isin(held_out)] for frame in frames])
    return train, validation


def labelled_snapshots(
    transactions: pd.DataFrame,
    plan: WindowPlan,
    spec: FeatureSpec,
    products: pd.DataFrame | None = None,
    validation_fraction: float = 0.25,
    seed: int = 0,
    aftersales: AfterSales | None = None,
) -> LabelledSnapshots:
    """Build every snapshot of ``plan`` with ``spec``, the test window's included."""
    train, validation = training_rows(transactions, plan, spec, products, validation_fraction, seed, aftersales)
    test, test_snapshot = labelled(transactions, plan.test_as_of, spec, products, aftersales)
    return LabelledSnapshots(plan, train, validation, test, test_snapshot)
