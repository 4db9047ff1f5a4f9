"""A blend for the ``repeat`` task: "buy it again" plus a collaborative model.

Per customer, both score rows are put on a 0..1 scale (buy-again divided by its maximum, the
collaborative scores min-max scaled) and mixed: ``(1 - weight) x buy_again + weight x collaborative``.
Items the customer bought keep the lead their own purchase history gives them; the collaborative
model orders the rest and breaks ties, so a short history is filled with sensible new items. With
seen items filtered (``discovery``) buy-again is zero everywhere and the blend ranks exactly as its
collaborative model, so one blend serves both tasks. ``weight`` only acts at scoring time: tune it
on a validation window with :meth:`set_weight`, without refitting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import sparse

from engine.errors import EngineError
from engine.recommend.base import RecommenderModel, TrainingData
from engine.recommend.buy_again import BuyAgainRecommender
from engine.recommend.interactions import Value

_COLLABORATIVE = "collaborative__"
_BUY_AGAIN = "buy_again__"


class BlendRecommender(RecommenderModel):
    """``(1 - weight) x scaled buy-again + weight x scaled collaborative``; the catalogue and counts
    (``min_item_buyers``, ``value``) are the collaborative model's."""

    kind = "blend"

    def __init__(
        self,
        collaborative: RecommenderModel,
        buy_again: BuyAgainRecommender | None = None,
        weight: float = 0.2,
    ) -> None:
        self.collaborative = collaborative
        self.buy_again = buy_again
        self.weight = weight

    def _catalogue_params(self) -> tuple[int, int | None, Value]:
        return self.collaborative._catalogue_params()

    def _repeat_part(self) -> BuyAgainRecommender:
        return self.buy_again if self.buy_again is not None else BuyAgainRecommender()

    def _fit(self, data: TrainingData) -> None:
        _check_weight(self.weight)
        if not isinstance(self.collaborative, RecommenderModel) or isinstance(self.collaborative, BlendRecommender):
            raise EngineError(f"collaborative must be a (non-blend) RecommenderModel, got {self.collaborative!r}")
        self.buy_again_ = self._repeat_part()
        self.buy_again_._fit_data(data)
        self.collaborative._fit_data(data)

    def set_weight(self, weight: float) -> BlendRecommender:
        """Change the mix of a fitted blend (no refit needed)."""
        self.weight = _check_weight(weight)
        return self

    def _score(self, users: np.ndarray, rows: sparse.csr_matrix) -> np.ndarray:
        again = self.buy_again_._score(users, rows)
        peak = again.max(axis=1, keepdims=True)
        again = again / np.where(peak > 0, peak, 1.0)
        collaborative = self.collaborative._score(users, rows).astype(np.float64)
        low = collaborative.min(axis=1, keepdims=True)
        spread = collaborative.max(axis=1, keepdims=True) - low
        collaborative = (collaborative - low) / np.where(spread > 0, spread, 1.0)
        return (1.0 - self.weight) * again + self.weight * collaborative

    def _similar(self, item: int) -> np.ndarray:
        return self.collaborative._similar(item)

    def _state(self) -> dict[str, np.ndarray]:
        return {
            **{_COLLABORATIVE + key: value for key, value in self.collaborative._state().items()},
            **{_BUY_AGAIN + key: value for key, value in self.buy_again_._state().items()},
        }

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.buy_again_ = self._repeat_part()
        for part, prefix in ((self.collaborative, _COLLABORATIVE), (self.buy_again_, _BUY_AGAIN)):
            self._share_base(part)
            part._restore({key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)})

    def _manifest_params(self) -> dict[str, Any]:
        return {
            "collaborative": self.collaborative.spec(),
            "buy_again": self._repeat_part().spec(),
            "weight": self.weight,
        }

    @classmethod
    def _from_manifest_params(cls, params: dict[str, Any]) -> BlendRecommender:
        from engine.recommend.registry import make_recommender

        if not isinstance(params.get("collaborative"), dict):
            raise EngineError("a blend needs collaborative={'kind': ..., 'params': {...}}")
        parts = {
            name: make_recommender(spec.get("kind", ""), spec.get("params"))
            for name in ("collaborative", "buy_again")
            if isinstance(spec := params.get(name), dict)
        }
        return cls(parts["collaborative"], parts.get("buy_again"), params.get("weight", 0.2))  # type: ignore[arg-type]


def _check_weight(weight: float) -> float:
    if not 0.0 <= weight <= 1.0:
        raise EngineError(f"blend weight must be between 0 and 1, got {weight!r}")
    return float(weight)
