"""The synthetic shop's customers (step 1 of :mod:`engine.data.synthetic`): arrival, visit and dropout
rates of a Pareto/NBD process, the visits made while alive, and the customers' truth table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.data.synthetic.config import SyntheticShopConfig


def draw_customers(config: SyntheticShopConfig, rng: np.random.Generator, end_week: float) -> pd.DataFrame:
    n = config.n_customers
    joined = rng.uniform(0, config.acquisition_weeks, n)
    rate = rng.gamma(config.visit_shape, config.visit_mean / config.visit_shape, n)
    dropout_rate = rng.gamma(config.dropout_shape, config.dropout_mean / config.dropout_shape, n)
    lifetime = rng.exponential(1 / dropout_rate)
    return pd.DataFrame(
        {"joined_week": joined, "rate": rate, "dropout_rate": dropout_rate, "dropout_week": joined + lifetime}
    ).assign(alive=lambda d: d["dropout_week"] > end_week)


def draw_visits(customers: pd.DataFrame, rng: np.random.Generator, end_week: float) -> pd.DataFrame:
    """Visit times (in weeks since start) of a Poisson process while each customer is alive."""
    active = np.clip(np.minimum(customers["dropout_week"], end_week) - customers["joined_week"], 0, None)
    counts = rng.poisson(customers["rate"].to_numpy() * active.to_numpy())
    owner = np.repeat(np.arange(len(customers)), counts)
    time = customers["joined_week"].to_numpy()[owner] + rng.uniform(0, 1, owner.size) * active.to_numpy()[owner]
    order = np.argsort(time, kind="stable")
    return pd.DataFrame({"customer": owner[order], "week_time": time[order]})


def customer_truth(
    customers: pd.DataFrame, visits: np.ndarray, start: pd.Timestamp, end: pd.Timestamp, ids: np.ndarray
) -> pd.DataFrame:
    def as_date(weeks: pd.Series) -> pd.Series:
        return start + pd.to_timedelta(weeks * 7, unit="D")

    dead = ~customers["alive"]
    truth = pd.DataFrame(
        {
            "rate": customers["rate"].to_numpy(),
            "dropout_rate": customers["dropout_rate"].to_numpy(),
            "joined": as_date(customers["joined_week"]).to_numpy(),
            # the moment the customer was lost, NaT if still alive at the end (NaN weeks would make
            # pandas multiply uninitialised memory and warn of overflows at random)
            "dropout": as_date(customers["dropout_week"].where(dead, 0.0)).where(dead).to_numpy(),
            "lifetime_weeks": (customers["dropout_week"] - customers["joined_week"]).to_numpy(),
            "alive": customers["alive"].to_numpy(),
            "visits": visits,
        },
        index=pd.Index(ids, name=Columns.customer),
    )
    # given alive at the end, the remaining lifetime is Exp(dropout_rate) (memoryless)
    for horizon in (13, 26, 52):
        mu = truth["dropout_rate"]
        truth[f"expected_visits_{horizon}w"] = np.where(
            truth["alive"], truth["rate"] / mu * (1 - np.exp(-mu * horizon)), 0.0
        )
    return truth
