"""One served model for both tasks: "buy it again" blended with collaborative filtering.

- ``discovery``: the ``collaborative`` model's ranking, exactly (its catalogue only).
- ``repeat``: per customer, buy-again scores (divided by their maximum) and the scores of
  ``repeat_collaborative`` (default: the same collaborative model; min-max scaled) are mixed as
  ``(1 - weight) x buy_again + weight x collaborative``. The customer's own items keep the lead their
  history gives them, the collaborative model reorders them by what similar customers keep buying
  and fills a short history with new items. A model that scores the customer's own items (ALS) makes
  a better repeat partner than one built to exclude them (EASE's zero diagonal), hence two slots.

The blend's catalogue is the buy-again part's (every item bought by ``min_item_buyers`` customers):
customers re-buy their own long-tail items too. Each collaborative part keeps its own, possibly
smaller, catalogue (EASE caps it); items outside it get its lowest score. ``weight`` only acts at
scoring time: tune it on a validation window with :meth:`set_weight`, without refitting.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from engine.errors import EngineError
from engine.recommend.base import RecommenderModel
from engine.recommend.buy_again import BuyAgainRecommender
from engine.recommend.interactions import Value
from engine.recommend.training_data import TrainingData


class BlendRecommender(RecommenderModel):
    """Discovery: ``collaborative``. Repeat: ``(1 - weight) x scaled buy-again + weight x scaled
    repeat_collaborative`` (default: ``collaborative``)."""

    kind = "blend"

    def __init__(
        self,
        collaborative: RecommenderModel,
        buy_again: BuyAgainRecommender | None = None,
        weight: float = 0.2,
        repeat_collaborative: RecommenderModel | None = None,
    ) -> None:
        self.collaborative = collaborative
        self.buy_again = buy_again
        self.weight = weight
        self.repeat_collaborative = repeat_collaborative

    def _repeat_part(self) -> BuyAgainRecommender:
        return self.buy_again if self.buy_again is not None else BuyAgainRecommender()

    def _catalogue_params(self) -> tuple[int, int | None, Value]:
        return self._repeat_part()._catalogue_params()

    def _parts(self) -> dict[str, RecommenderModel]:
        """The collaborative parts by slot (one entry when the repeat partner is the same model)."""
        parts = {"collaborative": self.collaborative}
        if self.repeat_collaborative is not None:
            parts["repeat_collaborative"] = self.repeat_collaborative
        return parts

    def _fit(self, data: TrainingData) -> None:
        _check_weight(self.weight)
        for slot, part in self._parts().items():
            if not isinstance(part, RecommenderModel) or isinstance(part, (BlendRecommender, BuyAgainRecommender)):
                raise EngineError(f"{slot} must be a collaborative RecommenderModel, got {part!r}")
        self.buy_again_ = self._repeat_part()
        self.buy_again_._fit_data(data)
        _, _, value = self._catalogue_params()
        for slot, part in self._parts().items():
            min_item_buyers, max_items, part_value = part._catalogue_params()
            if part_value != value:
                raise EngineError(f"{slot} counts {part_value!r} but the blend counts {value!r}: use the same value")
            try:
                part._fit_data(data.within(min_item_buyers, max_items))
            except EngineError as error:
                message = f"{slot}: {error}; give it a min_item_buyers at least the buy-again part's"
                raise EngineError(message) from error
        self._map_columns()

    @classmethod
    def from_fitted(
        cls,
        collaborative: RecommenderModel,
        buy_again: BuyAgainRecommender,
        weight: float = 0.2,
        repeat_collaborative: RecommenderModel | None = None,
    ) -> BlendRecommender:
        """A blend of parts already fitted on the same transactions (no refit): how a validation
        search tries half-lives, partners and weights cheaply."""
        blend = cls(collaborative, buy_again, _check_weight(weight), repeat_collaborative)
        for part in (buy_again, *blend._parts().values()):
            part.check_is_fitted()
            if part.customers_ != buy_again.customers_:
                raise EngineError("from_fitted: the parts were fitted on different customers")
        buy_again._share_base(blend)
        blend.buy_again_ = buy_again
        blend._map_columns()
        return blend

    def _map_columns(self) -> None:
        """Where each collaborative part's items sit in the blend's catalogue."""
        self.columns_ = {}
        for slot, part in self._parts().items():
            columns = self.items_.to_internal(part.items_.external_ids)
            if (columns < 0).any():
                raise EngineError(
                    f"{slot}: its catalogue must lie within the buy-again part's; give it a min_item_buyers "
                    "at least as high"
                )
            self.columns_[slot] = columns

    def set_weight(self, weight: float) -> BlendRecommender:
        """Change the mix of a fitted blend (no refit needed)."""
        self.weight = _check_weight(weight)
        return self

    def _scaled(self, slot: str, users: np.ndarray, rows: sparse.csr_matrix, outside: float = 0.0) -> np.ndarray:
        """A part's scores min-max scaled to 0..1 per customer, on the blend's catalogue (``outside``
        for items not in the part's own)."""
        scaled = np.full((len(users), len(self.items_)), outside)
        scaled[:, self.columns_[slot]] = self._scaled_own(slot, users, rows)
        return scaled

    def _scaled_own(self, slot: str, users: np.ndarray, rows: sparse.csr_matrix) -> np.ndarray:
        """A part's scores min-max scaled to 0..1 per customer, on the part's own catalogue."""
        columns = self.columns_[slot]
        partial = self._parts()[slot]._score(users, sparse.csr_matrix(rows[:, columns])).astype(np.float64)
        low = partial.min(axis=1, keepdims=True)
        spread = partial.max(axis=1, keepdims=True) - low
        return (partial - low) / np.where(spread > 0, spread, 1.0)

    def _score_task(self, users: np.ndarray, rows: sparse.csr_matrix, task: str) -> np.ndarray:
        if task == "discovery":  # exactly the collaborative model: nothing from outside its catalogue
            return self._scaled("collaborative", users, rows, outside=-np.inf)
        return self._score(users, rows)

    def _score(self, users: np.ndarray, rows: sparse.csr_matrix) -> np.ndarray:
        """The repeat mix."""
        again = self.buy_again_._score(users, rows)
        peak = again.max(axis=1, keepdims=True)
        again = again / np.where(peak > 0, peak, 1.0)
        if self.weight == 0:  # buy-again (or its ranker) alone: the collaborative part need not be scored
            return again
        slot = "repeat_collaborative" if self.repeat_collaborative is not None else "collaborative"
        return (1.0 - self.weight) * again + self.weight * self._scaled(slot, users, rows)

    def _sparse_task(self, users: np.ndarray, rows: sparse.csr_matrix, task: str, k: int) -> sparse.csr_matrix | None:
        """The repeat mix on the customer's own items and on the ``k`` new items (ties included) the
        collaborative part scores highest: no other item can enter the top ``k``, and each of them
        scores ``weight x`` its scaled collaborative score, 0 at its lowest or outside its catalogue.
        Discovery: see :meth:`_sparse_discovery`."""
        if task == "discovery":
            return self._sparse_discovery(users, rows, k)
        again = self.buy_again_._sparse_task(users, rows, task, k)
        if again is None:
            return None
        again = sparse.csr_matrix(again, dtype=np.float64)
        peak = again.max(axis=1).toarray().ravel()
        again.data = again.data / np.where(peak > 0, peak, 1.0)[np.repeat(np.arange(len(users)), np.diff(again.indptr))]
        if self.weight == 0:
            return again
        slot = "repeat_collaborative" if self.repeat_collaborative is not None else "collaborative"
        columns = self.columns_[slot]
        scaled = self._scaled_own(slot, users, rows)
        own_rows = np.repeat(np.arange(len(users)), np.diff(again.indptr))
        at = np.full(len(self.items_), -1)
        at[columns] = np.arange(columns.size)
        position = at[again.indices]
        partner = np.where(position >= 0, scaled[own_rows, np.maximum(position, 0)], 0.0)
        own = (1.0 - self.weight) * again.data + self.weight * partner
        new_scores = scaled.copy()
        new_scores[own_rows[position >= 0], position[position >= 0]] = -np.inf  # own items are counted above
        top = min(k, columns.size)
        kth = np.partition(new_scores, columns.size - top, axis=1)[:, columns.size - top]
        new_rows, new_columns = np.nonzero((new_scores >= kth[:, None]) & (new_scores > 0))
        new = self.weight * scaled[new_rows, new_columns]
        return sparse.csr_matrix(
            (np.concatenate([own, new]), (np.concatenate([own_rows, new_rows]), np.concatenate([again.indices, columns[new_columns]]))),
            shape=(len(users), len(self.items_)),
        )

    def _sparse_discovery(self, users: np.ndarray, rows: sparse.csr_matrix, k: int) -> sparse.csr_matrix | None:
        """The collaborative part's own sparse discovery scores (a stored ranking), moved onto the blend's
        catalogue, when every customer has at least ``k`` of them: then no popularity fill from outside
        its catalogue is needed and the lists are those of the dense path. Otherwise ``None`` (dense)."""
        columns = self.columns_["collaborative"]
        listed = self.collaborative._sparse_task(users, sparse.csr_matrix(rows[:, columns]), "discovery", k)
        if listed is None or np.diff(listed.indptr).min(initial=k) < k:
            return None
        listed = sparse.csr_matrix(listed, dtype=np.float64)
        return sparse.csr_matrix((listed.data, columns[listed.indices], listed.indptr), shape=(len(users), len(self.items_)))

    def _similar(self, item: int) -> np.ndarray:
        scores = np.full(len(self.items_), -np.inf)
        own = self.collaborative.items_.index_of(self.items_.external_ids[item])
        if own >= 0:
            scores[self.columns_["collaborative"]] = self.collaborative._similar(own)
        return scores

    def _state(self) -> dict[str, np.ndarray]:
        return self.buy_again_._state()

    def _save_parts(self, directory: Path) -> None:
        for slot, part in self._parts().items():
            part.save(directory / slot)

    def _load_parts(self, directory: Path) -> None:
        self.collaborative = type(self.collaborative).load(directory / "collaborative")
        if self.repeat_collaborative is not None:
            self.repeat_collaborative = type(self.repeat_collaborative).load(directory / "repeat_collaborative")

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.buy_again_ = self._repeat_part()
        self._share_base(self.buy_again_)
        self.buy_again_._restore(arrays)
        self._map_columns()

    def _manifest_params(self) -> dict[str, Any]:
        return {
            "collaborative": self.collaborative.spec(),
            "buy_again": self._repeat_part().spec(),
            "weight": self.weight,
            "repeat_collaborative": None if self.repeat_collaborative is None else self.repeat_collaborative.spec(),
        }

    @classmethod
    def _from_manifest_params(cls, params: dict[str, Any]) -> BlendRecommender:
        from engine.recommend.registry import make_recommender

        if not isinstance(params.get("collaborative"), dict):
            raise EngineError("a blend needs collaborative={'kind': ..., 'params': {...}}")
        parts = {
            name: make_recommender(spec.get("kind", ""), spec.get("params"))
            for name in ("collaborative", "buy_again", "repeat_collaborative")
            if isinstance(spec := params.get(name), dict)
        }
        return cls(
            parts["collaborative"],
            parts.get("buy_again"),  # type: ignore[arg-type]
            params.get("weight", 0.2),
            parts.get("repeat_collaborative"),
        )


def _check_weight(weight: float) -> float:
    if not 0.0 <= weight <= 1.0:
        raise EngineError(f"blend weight must be between 0 and 1, got {weight!r}")
    return float(weight)
