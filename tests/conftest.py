"""Fixtures shared by the whole suite: small canonical tables built in code, and paths to real data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data.schema import validate_transactions

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def require(available: bool, message: str) -> None:
    """Go on when ``available``; else skip the test on a user's machine (``make test`` on a fresh machine
    with only Python) but fail it in CI (``CI`` set, as ``.ci/run`` does): a check must not pass by not
    running where everything it needs is provided."""
    if available:
        return
    if os.environ.get("CI", "").strip() not in ("", "0", "false"):
        pytest.fail(f"{message} (CI is set: this test must run)")
    pytest.skip(message)


def shared_data(relative: str) -> Path:
    """Path of a file under ../shared/data (see :func:`require`)."""
    path = SHARED_DATA / relative
    require(path.exists(), f"real data set not available: {path}")
    return path


@pytest.fixture
def tiny_transactions() -> pd.DataFrame:
    """Twelve hand-made lines for three customers, validated, with one return."""
    rows = [
        # customer, product, order, timestamp, quantity, unit_price
        ("a", "p1", "o1", "2024-01-05", 2, 10.0),
        ("a", "p2", "o1", "2024-01-05", 1, 5.0),
        ("a", "p1", "o2", "2024-03-01", 1, 10.0),
        ("a", "p3", "o3", "2024-03-20", 1, 30.0),
        ("b", "p2", "o4", "2024-02-10", 4, 5.0),
        ("b", "p2", "o5", "2024-02-11", -1, 5.0),
        ("b", "p4", "o6", "2024-03-25", 1, 2.5),
        ("c", "p1", "o7", "2023-06-01", 1, 10.0),
        ("c", "p3", "o8", "2023-07-01", 3, 30.0),
        ("c", "p4", "o9", "2023-08-01", 2, 2.5),
        ("c", "p4", "o10", "2023-09-01", 2, 2.5),
        ("c", "p2", "o11", "2023-10-01", 1, 5.0),
    ]
    raw = pd.DataFrame(
        rows, columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price"]
    )
    clean, _ = validate_transactions(raw)
    return clean


@pytest.fixture
def random_transactions() -> pd.DataFrame:
    """A few thousand random lines (seeded) for property tests: 200 customers over a year."""
    rng = np.random.default_rng(7)
    n = 4000
    raw = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 200, n).astype(str),
            "product_id": rng.integers(0, 50, n).astype(str),
            "order_id": np.arange(n).astype(str),
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h"),
            "quantity": np.where(rng.random(n) < 0.03, -1, rng.integers(1, 4, n)),
            "unit_price": rng.gamma(2.0, 10.0, n).round(2) + 0.01,
        }
    )
    clean, _ = validate_transactions(raw)
    return clean
