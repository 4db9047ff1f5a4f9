"""Dense id maps: the one place where a shop's external ids become internal row/column indices.

Models work on matrices indexed ``0..n-1``; customers and products arrive with the shop's own ids
(strings after validation). An :class:`IdMap` converts in both directions, reports unknown ids as
``-1`` instead of raising (callers decide what unknown means), and saves as a plain string array so a
model folder never needs a pickle.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from engine.errors import EngineError

UNKNOWN = -1


class IdMap:
    """External ids <-> dense indices ``0..len-1``, in the order given (duplicates are an error)."""

    def __init__(self, external_ids: Iterable[object]) -> None:
        ids = np.asarray([str(value) for value in external_ids], dtype=str)
        index = {value: position for position, value in enumerate(ids.tolist())}
        if len(index) != len(ids):
            raise EngineError(f"IdMap: external ids must be unique, got {len(ids) - len(index)} duplicates")
        self._ids = ids
        self._index = index
        self._lookup = pd.Index(ids)

    @classmethod
    def from_values(cls, values: Iterable[object]) -> IdMap:
        """The distinct values, sorted, so that the same data always gives the same indices."""
        return cls(sorted({str(value) for value in values}))

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, external_id: object) -> bool:
        return str(external_id) in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and np.array_equal(self._ids, other._ids)

    def __repr__(self) -> str:
        return f"IdMap({len(self)} ids)"

    @property
    def external_ids(self) -> np.ndarray:
        """All external ids in index order (a string array; do not modify)."""
        return self._ids

    def index_of(self, external_id: object) -> int:
        """The index of one id, or ``UNKNOWN`` (-1)."""
        return self._index.get(str(external_id), UNKNOWN)

    def to_internal(self, external_ids: Iterable[object]) -> np.ndarray:
        """Indices of many ids (int64), ``UNKNOWN`` (-1) for ids not in the map (vectorized)."""
        values = external_ids if isinstance(external_ids, (pd.Series, np.ndarray)) else list(external_ids)
        values = pd.Index(values).astype(str)
        return self._lookup.get_indexer(values).astype(np.int64)

    def to_external(self, indices: Iterable[int] | np.ndarray) -> np.ndarray:
        """External ids of indices (which must be valid)."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise EngineError(f"IdMap: index out of range 0..{len(self) - 1}")
        return self._ids[indices]
