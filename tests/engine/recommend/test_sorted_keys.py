"""Packed integer keys against pandas' own distinct rows and groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import EngineError
from engine.recommend.sorted_keys import distinct_sorted, packed_key, runs, unpack


def _random_rows(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user": rng.integers(0, 40, 3000), "item": rng.integers(0, 25, 3000), "age": rng.integers(0, 9, 3000)})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distinct_rows_are_pandas_distinct_rows_in_lexicographic_order(seed):
    rows = _random_rows(seed)
    key, radices = packed_key(*(rows[name].to_numpy() for name in rows))
    distinct = pd.DataFrame(dict(zip(rows, unpack(distinct_sorted(key), radices))))
    expected = rows.drop_duplicates().sort_values(list(rows)).reset_index(drop=True)
    pd.testing.assert_frame_equal(distinct, expected, check_dtype=False)


def test_runs_give_each_groups_size_and_first_row():
    rows = _random_rows(3).sort_values(["user", "item"]).reset_index(drop=True)
    key, radices = packed_key(rows["user"].to_numpy(), rows["item"].to_numpy())
    values, starts, lengths = runs(key)
    sizes = rows.groupby(["user", "item"]).size()
    users, items = unpack(values, radices)
    assert list(zip(users, items)) == list(sizes.index)
    assert lengths.tolist() == sizes.tolist()
    assert np.array_equal(key[starts], values)


def test_empty_columns_give_empty_keys_and_runs():
    key, _ = packed_key(np.empty(0, np.int64), np.empty(0, np.int64))
    assert distinct_sorted(key).size == 0
    assert [part.size for part in runs(key)] == [0, 0, 0]


def test_columns_that_do_not_fit_one_key_are_refused():
    huge = np.array([2**40], dtype=np.int64)
    with pytest.raises(EngineError, match="64-bit"):
        packed_key(huge, huge)


def test_negative_values_are_refused():
    with pytest.raises(EngineError, match="non-negative"):
        packed_key(np.array([1, -1]), np.array([0, 0]))
