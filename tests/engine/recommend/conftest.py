"""Fixtures for the recommender tests: small shops built in code, one with a planted co-purchase signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.schema import validate_transactions


def _daily_lines(rows: list[tuple]) -> pd.DataFrame:
    """Validated lines from (customer, item, order, day, quantity, price) tuples, one line per item and order."""
    raw = pd.DataFrame(rows, columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price"])
    clean, _ = validate_transactions(raw.drop_duplicates(["customer_id", "product_id", "order_id"]))
    return clean


def planted_shop(seed: int = 0, n_customers: int = 160, n_groups: int = 4, items_per_group: int = 12,
                 n_staples: int = 6, days: int = 200) -> pd.DataFrame:
    """Customers in taste groups: each buys staples everyone buys, and items of their own group only.

    A customer's group items are drawn over time, so later purchases are of group items they had not
    bought yet: a collaborative model can find them from co-purchases, global popularity cannot
    (every group's items are equally popular overall).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for customer in range(n_customers):
        group = customer % n_groups
        own = [f"g{group}_{i}" for i in rng.permutation(items_per_group)]
        # taste: a few favourites bought again and again, the others one at a time over the period
        for day in np.sort(rng.integers(0, days, 14)):
            basket = list(rng.choice([f"s{i}" for i in range(n_staples)], 2, replace=False))
            basket.append(own[min(int(day * items_per_group / days), items_per_group - 1)])
            basket.append(own[int(rng.integers(0, 3))])
            for item in set(basket):
                when = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(day))
                rows.append((f"c{customer}", item, f"o{customer}-{day}", when, 1, 2.0))
    return _daily_lines(rows)


@pytest.fixture(scope="session")
def planted() -> pd.DataFrame:
    return planted_shop()


@pytest.fixture(scope="session")
def shop_lines() -> pd.DataFrame:
    """Sixty customers over twenty items with returns, repeat purchases and a customer whose only
    purchase was returned (net zero history)."""
    rng = np.random.default_rng(3)
    n = 900
    raw = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 60, n).astype(str),
            "product_id": ("p" + pd.Series(rng.zipf(1.6, n).clip(1, 20).astype(str))).to_numpy(),
            "order_id": np.arange(n).astype(str),
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 24, n), unit="h"),
            "quantity": np.where(rng.random(n) < 0.03, -1, rng.integers(1, 3, n)),
            "unit_price": 3.0,
        }
    )
    returned = pd.DataFrame(
        {
            "customer_id": ["returner", "returner"],
            "product_id": ["p1", "p1"],
            "order_id": ["r1", "r2"],
            "timestamp": [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-05")],
            "quantity": [1, -1],
            "unit_price": [3.0, 3.0],
        }
    )
    clean, _ = validate_transactions(pd.concat([raw, returned], ignore_index=True))
    return clean


def cyclic_shop(seed: int = 0, n_customers: int = 150, n_items: int = 16, days: int = 280) -> pd.DataFrame:
    """Customers who re-buy each of their items on its own regular cycle (every 7 to 56 days, with
    jitter): the item due next is the one whose usual gap has elapsed, which a regularity-aware ranker
    can see and a recency- or frequency-weighted buy-again list cannot."""
    rng = np.random.default_rng(seed)
    rows = []
    for customer in range(n_customers):
        for item in rng.choice(n_items, 6, replace=False):
            cycle = int(rng.choice([7, 14, 28, 56]))
            day = int(rng.integers(0, cycle))
            while day < days:
                when = pd.Timestamp("2024-01-01") + pd.Timedelta(days=day)
                rows.append((f"c{customer}", f"p{item}", f"o{customer}-{day}", when, 1, 2.0))
                day += max(1, cycle + int(rng.integers(-2, 3)))
    return _daily_lines(rows)


@pytest.fixture(scope="session")
def cyclic() -> pd.DataFrame:
    return cyclic_shop()
