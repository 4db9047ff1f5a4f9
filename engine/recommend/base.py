"""The one interface of every recommender (template method).

:class:`RecommenderModel` does the shared work once: mapping the shop's ids to matrix indices, building
the interaction matrix, filtering what a customer already bought (``task="discovery"``) or not
(``task="repeat"``), excluding items on request, falling back to segment or global popularity for a
customer without history, answering an unknown item with an empty, flagged result, folding in a customer
seen after training from their items, and saving/loading with a manifest. A model implements only:

- ``_fit(data)``: learn from :class:`TrainingData`;
- ``_score(users, rows)``: scores of every item for a batch of customers, given their internal index
  (``-1`` for a customer folded in after training) and their history rows (counts);
- ``_similar(item)``: scores of every item for one item;
- ``_state()`` / ``_restore(arrays)``: its learned arrays, for save/load.

A model made of parts (the blend) may also override ``_score_task`` (a task-specific score),
``_catalogue_params`` (whose catalogue it uses) and ``_save_parts`` / ``_load_parts`` (sub-folders).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from engine.base import EngineModel
from engine.customers.segments import SegmentRules
from engine.data.columns import Columns
from engine.data.idmap import UNKNOWN, IdMap
from engine.data.split import default_as_of
from engine.errors import EngineError, ModelFormatError
from engine.recommend.categories import ItemCategories
from engine.recommend.fallback import NO_SEGMENT, PopularityTable, customer_segments
from engine.recommend.interactions import (
    VALUES,
    Value,
    buyers,
    check_transactions,
    interaction_matrix,
    select_items,
    sparse_arrays,
    sparse_from_arrays,
)
from engine.recommend.ranking import top_k, top_k_sparse
from engine.recommend.recommendations import COLD_START_GLOBAL, COLD_START_SEGMENT, MODEL, UNKNOWN_ITEM, Recommendations
from engine.recommend.training_data import TrainingData

__all__ = ["COLD_START_GLOBAL", "COLD_START_SEGMENT", "MODEL", "UNKNOWN_ITEM", "Recommendations", "RecommenderModel", "Task", "TASKS"]

Task = Literal["discovery", "repeat"]
TASKS: tuple[str, ...] = ("discovery", "repeat")


_BASE_FILE = "base.npz"
_MODEL_FILE = "model.npz"
_BATCH = 512
_BATCH_CELLS = 4_000_000  # customers x items scored at once: large catalogues get smaller batches


class RecommenderModel(EngineModel, ABC):
    """Recommend items for customers and similar items for items, for two tasks: ``discovery``
    (items the customer already bought are filtered out) and ``repeat`` (everything may come back).

    Shared parameters: ``min_item_buyers`` (an item may be recommended only if at least that many
    customers bought it in training) and ``value`` (``purchases`` or ``quantity``, what a cell counts).
    """

    kind: ClassVar[str]
    format_version: ClassVar[int] = 1
    fitted_attribute: ClassVar[str] = "items_"

    def __init__(self, min_item_buyers: int = 1, value: Value = "purchases") -> None:
        self.min_item_buyers = min_item_buyers
        self.value = value

    # --- parameters (scikit-learn style) -----------------------------------------------------------

    def spec(self) -> dict[str, Any]:
        """``{"kind": ..., "params": ...}`` in plain JSON types: rebuild with
        :func:`engine.recommend.registry.make_recommender` (it is what the manifest stores)."""
        return {"kind": self.kind, "params": self._manifest_params()}

    # --- fitting -------------------------------------------------------------------------------------

    def fit(
        self,
        transactions: pd.DataFrame,
        as_of: str | pd.Timestamp | None = None,
        segment_rules: SegmentRules | None = None,
    ) -> RecommenderModel:
        """Learn from canonical transactions (lines before ``as_of``; default: the day after the last
        line). ``segment_rules`` name the segments of the cold-start fallback: pass the configured
        table that also names the customers' segments in serving (default: the built-in table).
        Returns ``self``."""
        check_transactions(transactions)
        as_of = default_as_of(transactions) if as_of is None else pd.Timestamp(as_of)
        self._fit_data(self._training_data(transactions, as_of, segment_rules))
        return self

    def _training_data(
        self, transactions: pd.DataFrame, as_of: pd.Timestamp, segment_rules: SegmentRules | None = None
    ) -> TrainingData:
        """This model's catalogue, counts, customer segments, popularity table and item categories."""
        min_item_buyers, max_items, value = self._catalogue_params()
        if value not in VALUES:
            raise EngineError(f"value must be one of {VALUES}, got {value!r}")
        customers = IdMap.from_values(transactions[Columns.customer].unique())
        every_item = IdMap.from_values(transactions[Columns.item].unique())
        all_counts = interaction_matrix(transactions, customers, every_item, value)
        items = select_items(pd.Series(buyers(all_counts), index=every_item.external_ids), min_item_buyers, max_items)
        counts = sparse.csr_matrix(all_counts[:, every_item.to_internal(items.external_ids)])
        names, per_customer = customer_segments(transactions, as_of, customers, segment_rules)
        popularity = PopularityTable.build(counts, names, per_customer)
        categories = ItemCategories.from_lines(transactions, items)
        return TrainingData(transactions, customers, items, counts, as_of, popularity, min_item_buyers, categories)

    def _catalogue_params(self) -> tuple[int, int | None, Value]:
        """(min_item_buyers, max_items, value): the catalogue and the counts this model is fitted on."""
        return self.min_item_buyers, None, self.value

    def _fit_data(self, data: TrainingData) -> None:
        """Set the shared learned state and fit the model (a blend fits its parts through this)."""
        self.customers_ = data.customers
        self.items_ = data.items
        self.history_ = data.counts
        self.popularity_ = data.popularity
        self.as_of_ = data.as_of
        self._fit(data)

    @abstractmethod
    def _fit(self, data: TrainingData) -> None: ...

    @abstractmethod
    def _score(self, users: np.ndarray, rows: sparse.csr_matrix) -> np.ndarray:
        """Scores (n_users x n_items) for customers with internal index ``users`` (-1: folded in)."""

    def _score_task(self, users: np.ndarray, rows: sparse.csr_matrix, task: str) -> np.ndarray:
        """Scores for a task; the same for both unless a model (the blend) answers them differently."""
        return self._score(users, rows)

    def _sparse_task(
        self, users: np.ndarray, rows: sparse.csr_matrix, task: str, k: int
    ) -> sparse.csr_matrix | None:
        """Sparse task scores holding every item that can reach a customer's top ``k`` with a positive
        score, all others scoring exactly 0 (models of the customer's own items): ranked with
        :func:`top_k_sparse`, the same lists as dense scores. ``None``: use :meth:`_score_task`."""
        return None

    @abstractmethod
    def _similar(self, item: int) -> np.ndarray:
        """Scores of every item for item index ``item`` (its own score is discarded)."""

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Set learned attributes from the arrays of :meth:`_state`."""

    # --- recommending --------------------------------------------------------------------------------

    @property
    def n_items(self) -> int:
        self.check_is_fitted()
        return len(self.items_)

    def recommend(
        self,
        customer_ids: str | Sequence[str],
        k: int = 10,
        task: Task = "discovery",
        exclude: Iterable[str] | None = None,
        segments: Mapping[str, str] | None = None,
    ) -> list[Recommendations]:
        """Top-``k`` items for each customer, best first.

        ``exclude``: items never to recommend (e.g. out of stock). ``segments``: segment names for
        customers the model does not know, used for their cold-start list. Customers without usable
        history get segment or global popularity, flagged by ``source``.
        """
        self.check_is_fitted()
        k = _check_k(k)
        _check_task(task)
        ids = [customer_ids] if isinstance(customer_ids, str) else [str(c) for c in customer_ids]
        excluded = self._known_items(exclude)
        users = np.fromiter((self.customers_.index_of(c) for c in ids), dtype=np.int64, count=len(ids))
        history_length = np.diff(self.history_.indptr)
        has_history = (users != UNKNOWN) & (history_length[np.maximum(users, 0)] > 0)
        results: list[Recommendations | None] = [None] * len(ids)
        warm = np.flatnonzero(has_history)
        batch = max(1, min(_BATCH, _BATCH_CELLS // max(len(self.items_), 1)))
        for start in range(0, warm.size, batch):
            positions = warm[start : start + batch]
            rows = self.history_[users[positions]]
            listed = self._sparse_task(users[positions], rows, task, k + excluded.size)
            scores = self._score_task(users[positions], rows, task) if listed is None else None
            for row, position in enumerate(positions):
                seen = rows.indices[rows.indptr[row] : rows.indptr[row + 1]]
                if listed is None:
                    assert scores is not None  # scored above whenever the sparse path listed nothing
                    results[position] = self._ranked(ids[position], scores[row], k, task, seen, excluded, MODEL)
                else:
                    results[position] = self._ranked_sparse(ids[position], listed, row, k, task, seen, excluded)
        for position in np.flatnonzero(~has_history):
            segment = self._segment_of(ids[position], users[position], segments)
            results[position] = self._cold_start(ids[position], k, segment, excluded)
        return results  # type: ignore[return-value]

    def recommend_from_items(
        self,
        item_ids: Sequence[str],
        k: int = 10,
        task: Task = "discovery",
        exclude: Iterable[str] | None = None,
        customer_id: str = "",
        segment: str | None = None,
    ) -> Recommendations:
        """Recommendations for a customer seen after training, from the items they bought (repeat an
        item to count it more), without retraining. Unknown items are ignored; with no known item at
        all the answer is the cold-start list."""
        self.check_is_fitted()
        k = _check_k(k)
        _check_task(task)
        excluded = self._known_items(exclude)
        indices = self.items_.to_internal(list(item_ids)) if len(item_ids) else np.empty(0, dtype=np.int64)
        indices = indices[indices != UNKNOWN]
        if indices.size == 0:
            return self._cold_start(customer_id, k, self.popularity_.segment_index(segment), excluded)
        row = sparse.csr_matrix(
            (np.ones(indices.size, dtype=np.float32), (np.zeros(indices.size, dtype=np.int64), indices)),
            shape=(1, len(self.items_)),
        )
        row.sum_duplicates()
        scores = self._score_task(np.array([UNKNOWN]), row, task)[0]
        return self._ranked(customer_id, scores, k, task, row.indices, excluded, MODEL)

    def similar_items(self, item_ids: str | Sequence[str], k: int = 10) -> list[Recommendations]:
        """The ``k`` items most similar to each item. An item the model does not know gets an empty
        answer with ``source="unknown_item"`` and the reason, never an exception."""
        self.check_is_fitted()
        k = _check_k(k)
        ids = [item_ids] if isinstance(item_ids, str) else [str(i) for i in item_ids]
        results = []
        for item_id in ids:
            item = self.items_.index_of(item_id)
            if item == UNKNOWN:
                reason = (
                    f"item {item_id!r} is not in the model's catalogue (never bought in training, or by "
                    f"fewer than min_item_buyers={self._catalogue_params()[0]} customers)"
                )
                results.append(Recommendations(item_id, (), (), UNKNOWN_ITEM, reason))
                continue
            scores = np.asarray(self._similar(item), dtype=np.float64)
            scores[item] = -np.inf
            results.append(self._top(item_id, scores, k, MODEL))
        return results

    def _known_items(self, item_ids: Iterable[str] | None) -> np.ndarray:
        if item_ids is None:
            return np.empty(0, dtype=np.int64)
        if isinstance(item_ids, str):
            item_ids = [item_ids]
        indices = self.items_.to_internal(list(item_ids))
        return indices[indices != UNKNOWN]

    def _segment_of(self, customer_id: str, user: int, segments: Mapping[str, str] | None) -> int:
        if segments is not None and customer_id in segments:
            return self.popularity_.segment_index(segments[customer_id])
        return int(self.popularity_.customer_segment[user]) if user != UNKNOWN else NO_SEGMENT

    def _cold_start(self, subject: str, k: int, segment: int, excluded: np.ndarray) -> Recommendations:
        scores = self.popularity_.scores(segment)
        scores[excluded] = -np.inf
        source = COLD_START_GLOBAL if segment == NO_SEGMENT else COLD_START_SEGMENT
        return self._top(subject, scores, k, source)

    def _ranked(
        self,
        subject: str,
        scores: np.ndarray,
        k: int,
        task: str,
        seen: np.ndarray,
        excluded: np.ndarray,
        source: str,
    ) -> Recommendations:
        scores = np.array(scores, dtype=np.float64)
        if task == "discovery":
            scores[seen] = -np.inf
        scores[excluded] = -np.inf
        return self._top(subject, scores, k, source)

    def _ranked_sparse(
        self,
        subject: str,
        listed: sparse.csr_matrix,
        row: int,
        k: int,
        task: str,
        seen: np.ndarray,
        excluded: np.ndarray,
    ) -> Recommendations:
        """:meth:`_ranked` for the scores of :meth:`_sparse_task` (see :func:`top_k_sparse`)."""
        start, end = listed.indptr[row], listed.indptr[row + 1]
        blocked = np.concatenate([seen, excluded]) if task == "discovery" else excluded
        best, scores = top_k_sparse(
            listed.indices[start:end], listed.data[start:end], k, self.popularity_.rank, self.popularity_.order, blocked
        )
        return Recommendations(subject, tuple(self.items_.to_external(best).tolist()), tuple(scores.tolist()), MODEL)

    def _top(self, subject: str, scores: np.ndarray, k: int, source: str) -> Recommendations:
        best = top_k(scores, k, self.popularity_.rank)
        return Recommendations(
            subject, tuple(self.items_.to_external(best).tolist()), tuple(scores[best].tolist()), source
        )

    # --- save / load ---------------------------------------------------------------------------------

    def _manifest_params(self) -> dict[str, Any]:
        return self.get_params()

    @classmethod
    def _from_manifest_params(cls, params: dict[str, Any]) -> RecommenderModel:
        return cls(**params)

    def save(self, directory: str | Path, data_fingerprint: str | None = None, extra: dict[str, Any] | None = None) -> Path:
        """Write the fitted model to ``directory`` (manifest + npz arrays, no pickles); ``extra`` goes
        into the manifest beside its as-of date and sizes."""
        self.check_is_fitted()
        directory = Path(directory)
        self._write_manifest(
            directory,
            self._manifest_params(),
            data_fingerprint,
            extra={"as_of": str(self.as_of_), "n_customers": len(self.customers_), "n_items": len(self.items_), **(extra or {})},
        )
        arrays: dict[str, Any] = {
            "customers": self.customers_.external_ids,
            "items": self.items_.external_ids,
            **sparse_arrays("history", self.history_),
            "as_of": np.array(str(self.as_of_)),
            **{f"popularity_{key}": value for key, value in self.popularity_.arrays().items()},
        }
        np.savez(directory / _BASE_FILE, **arrays)
        state: dict[str, Any] = self._state()
        np.savez(directory / _MODEL_FILE, **state)
        self._save_parts(directory)
        return directory

    def _save_parts(self, directory: Path) -> None:
        """Save sub-models into sub-folders (a blend's collaborative part)."""

    def _load_parts(self, directory: Path) -> None:
        """Load what :meth:`_save_parts` saved (called before :meth:`_restore`)."""

    @classmethod
    def load(cls, directory: str | Path) -> RecommenderModel:
        """Load a model saved by :meth:`save` (this class's kind; see :func:`load_recommender`)."""
        manifest = cls._read_manifest(directory)
        model = cls._from_manifest_params(manifest["params"])
        try:
            with np.load(Path(directory) / _BASE_FILE, allow_pickle=False) as base:
                model._restore_base({key: base[key] for key in base.files})
            model._load_parts(Path(directory))
            with np.load(Path(directory) / _MODEL_FILE, allow_pickle=False) as arrays:
                model._restore({key: arrays[key] for key in arrays.files})
        except (OSError, KeyError, ValueError) as error:
            raise ModelFormatError(f"{directory}: saved {cls.kind} model is incomplete or corrupt: {error}") from error
        return model

    def _share_base(self, other: RecommenderModel) -> None:
        """Give ``other`` (a part of this model) the same id maps, history and popularity."""
        other.customers_, other.items_ = self.customers_, self.items_
        other.history_, other.popularity_, other.as_of_ = self.history_, self.popularity_, self.as_of_

    def _restore_base(self, base: Mapping[str, np.ndarray]) -> None:
        self.customers_ = IdMap(base["customers"])
        self.items_ = IdMap(base["items"])
        self.history_ = sparse_from_arrays(base, "history", (len(self.customers_), len(self.items_)))
        self.as_of_ = pd.Timestamp(str(base["as_of"]))
        prefix = "popularity_"
        self.popularity_ = PopularityTable.from_arrays(
            {key[len(prefix) :]: value for key, value in base.items() if key.startswith(prefix)}
        )


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise EngineError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise EngineError(f"task must be one of {TASKS}, got {task!r}")
