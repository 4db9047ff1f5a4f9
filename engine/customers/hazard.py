"""Discrete-time hazard of the next purchase over each customer's own inter-purchase gaps.

Every gap between two purchase days of a customer's history (and the current pause, censored at
``as_of``) becomes one row per week it lasted: ``event`` is 1 in the week the next purchase came. A
LightGBM classifier learns the weekly hazard from the week of the gap and the customer's history when
the gap began (purchase days so far, mean and last earlier gap, regularity, tenure). The churn
probability over a window is then the survival through its weeks from the current pause:
P(no purchase in the next H weeks | paused a weeks) = prod_{t=a}^{a+H-1} (1 - h(t)).

Like BG/NBD it is fitted without the window's labels, on the history before ``as_of`` alone, but it
uses every gap of every customer as a training event (the field's next-purchase formulation) instead
of one count per customer.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from engine.base import EngineModel
from engine.customers.btyd_data import purchase_days
from engine.data.columns import Columns
from engine.errors import EngineError
from engine.gbm import lightgbm_params

WEEK = "week"
SPELL_FEATURES = ("purchase_days", "mean_gap", "last_gap", "gap_cv", "tenure")


def spells(transactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per gap of each customer before ``as_of``: its start, length in days, whether it ended
    in a purchase (False for the current pause) and the customer's history when it began."""
    c = Columns
    daily = purchase_days(transactions, as_of)[[c.customer, "day"]]
    customer = daily[c.customer]
    nxt = daily["day"].shift(-1).where(customer.eq(customer.shift(-1)))
    frame = pd.DataFrame({c.customer: customer, "start": daily["day"]})
    frame["ended"] = nxt.notna().to_numpy()
    frame["days"] = ((nxt.fillna(as_of) - daily["day"]) / pd.Timedelta(days=1)).to_numpy()
    grouped = frame.groupby(c.customer, sort=False)
    frame["purchase_days"] = grouped.cumcount() + 1
    earlier = grouped["days"].shift(1)  # the gap before this one
    frame["last_gap"] = earlier
    frame["mean_gap"] = earlier.groupby(customer).expanding().mean().reset_index(level=0, drop=True)
    spread = earlier.groupby(customer).expanding().std().reset_index(level=0, drop=True)
    frame["gap_cv"] = spread / frame["mean_gap"]
    frame["tenure"] = (frame["start"] - grouped["start"].transform("min")) / pd.Timedelta(days=1)
    return frame


class GapHazard(EngineModel):
    """Weekly next-purchase hazard over inter-purchase gaps (see the module docstring).

    ``fit(transactions, as_of)`` learns from the history before ``as_of``;
    ``p_no_purchase(horizon_days)`` is each customer's probability of no purchase in the
    ``horizon_days`` from ``as_of`` on, from their current pause.
    """

    fitted_attribute = "booster_"

    def __init__(self, max_weeks: int = 52, n_estimators: int = 200, learning_rate: float = 0.05, num_leaves: int = 15,
                 min_child_samples: int = 200, seed: int = 0, n_jobs: int = 1) -> None:
        self.max_weeks = max_weeks
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.seed = seed
        self.n_jobs = n_jobs

    def fit(self, transactions: pd.DataFrame, as_of: str | pd.Timestamp) -> GapHazard:
        if self.max_weeks < 1:
            raise EngineError(f"max_weeks must be >= 1, got {self.max_weeks}")
        self.as_of_ = pd.Timestamp(as_of)
        table = spells(transactions, self.as_of_)
        ended = table["ended"].to_numpy()
        weeks = np.floor(table["days"].to_numpy() / 7).astype(int)
        # an ended gap counts the week of its purchase; a pause still running counts whole weeks only
        # (a pause of 3 days has not survived its first week: counting it would bias the hazard down)
        count = np.minimum(np.where(ended, weeks + 1, weeks), self.max_weeks)
        rows = np.repeat(np.arange(len(table)), count)
        week = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
        event = (week == weeks[rows]) & ended[rows]
        x = table.iloc[rows][list(SPELL_FEATURES)].assign(**{WEEK: week}).reset_index(drop=True)
        if event.all() or not event.any():
            raise EngineError("the history holds no censored or no completed gaps; a hazard needs both")
        params = lightgbm_params("binary", learning_rate=self.learning_rate, num_leaves=self.num_leaves,
                                 min_child_samples=self.min_child_samples, seed=self.seed, num_threads=self.n_jobs)
        self.booster_ = lgb.train(params, lgb.Dataset(x, event.astype(float)), num_boost_round=self.n_estimators)
        self.current_ = table.loc[~table["ended"]].set_index(Columns.customer)
        return self

    def p_no_purchase(self, horizon_days: int) -> pd.Series:
        """P(no purchase in ``[as_of, as_of + horizon_days)``) per customer, from the current pause."""
        self.check_is_fitted()
        current = self.current_
        horizon = int(np.ceil(horizon_days / 7))
        paused = np.floor(current["days"].to_numpy() / 7).astype(int)
        survival = np.ones(len(current))
        for step in range(horizon):
            x = current[list(SPELL_FEATURES)].assign(**{WEEK: np.minimum(paused + step, self.max_weeks - 1)})
            survival *= 1 - np.asarray(self.booster_.predict(x), dtype=float)
        return pd.Series(survival, index=current.index, name="hazard_p_no_purchase")
