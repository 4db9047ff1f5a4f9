"""Customers simulated from the BG/NBD and Pareto/NBD generative stories (for recovery tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _frame(x: list[float], t_x: list[float], age: np.ndarray) -> pd.DataFrame:
    """Times in weeks, rounded down to whole days as a shop's calendar records them."""
    days = 7.0
    return pd.DataFrame(
        {"frequency": np.asarray(x, float), "recency": np.floor(np.asarray(t_x) * days) / days, "T": np.floor(age * days) / days}
    )


def simulate_bgnbd(r: float, alpha: float, a: float, b: float, n: int, seed: int) -> pd.DataFrame:
    """Poisson purchases at a gamma rate; after each purchase drop out with a beta probability."""
    rng = np.random.default_rng(seed)
    rate, drop, age = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n), rng.uniform(20, 40, n)
    xs, last_times = [], []
    for i in range(n):
        t = last = 0.0
        x = 0
        while (t := t + rng.exponential(1 / rate[i])) <= age[i]:
            x, last = x + 1, t
            if rng.random() < drop[i]:
                break
        xs.append(x)
        last_times.append(last)
    return _frame(xs, last_times, age)


def simulate_pareto_nbd(r: float, alpha: float, s: float, beta: float, n: int, seed: int) -> pd.DataFrame:
    """Poisson purchases at a gamma rate until an exponential lifetime with a gamma dropout rate ends."""
    rng = np.random.default_rng(seed)
    rate, age = rng.gamma(r, 1 / alpha, n), rng.uniform(20, 40, n)
    end = np.minimum(rng.exponential(1 / rng.gamma(s, 1 / beta, n)), age)
    xs, last_times = [], []
    for i in range(n):
        t = last = 0.0
        x = 0
        while (t := t + rng.exponential(1 / rate[i])) <= end[i]:
            x, last = x + 1, t
        xs.append(x)
        last_times.append(last)
    return _frame(xs, last_times, age)
