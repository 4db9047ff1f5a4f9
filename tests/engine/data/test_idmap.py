"""Dense id maps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.idmap import UNKNOWN, IdMap
from engine.errors import EngineError


def test_round_trip_unknown_ids_and_sorted_construction():
    ids = IdMap.from_values(["b", "a", 3, "a"])
    assert list(ids.external_ids) == ["3", "a", "b"] and len(ids) == 3
    assert ids.index_of("a") == 1 and ids.index_of(3) == 0 and ids.index_of("zz") == UNKNOWN
    np.testing.assert_array_equal(ids.to_internal(["b", "zz", "3"]), [2, UNKNOWN, 0])
    np.testing.assert_array_equal(ids.to_internal(pd.Series([3, "a"])), [0, 1])
    assert ids.to_internal([]).size == 0
    assert list(ids.to_external([2, 0])) == ["b", "3"]
    assert "a" in ids and "zz" not in ids
    assert ids == IdMap(["3", "a", "b"]) and ids != IdMap(["a", "b"])


def test_duplicates_and_out_of_range_are_errors():
    with pytest.raises(EngineError, match="unique"):
        IdMap(["a", "a"])
    with pytest.raises(EngineError, match="range"):
        IdMap(["a"]).to_external([1])
