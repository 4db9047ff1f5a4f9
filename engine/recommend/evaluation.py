"""Evaluation protocols: what counts as relevant, how data is split, and one call to score a model.

- Time split (the shop's question, "what will they buy next?"): fit before ``as_of``, relevant items
  are what each customer bought in the holdout window (net of returns). In the ``discovery`` task
  only items the customer had not bought before count, in ``repeat`` all of them.
- Classic MovieLens-100k (to sit beside published tables): :func:`stratified_split` reproduces
  Microsoft Recommenders' ``python_stratified_split`` (a seeded random 75/25 split within each item,
  or user), every rating counts, seen items are filtered.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.errors import EngineError
from engine.recommend.base import RecommenderModel, Task
from engine.recommend.metrics import evaluate


def relevant_items(
    holdout: pd.DataFrame, history: pd.DataFrame | None = None, task: Task = "repeat"
) -> dict[str, set[str]]:
    """Per customer, the items with a net positive quantity in ``holdout``; for ``discovery`` minus
    the items the customer bought in ``history``. Customers left with no item are dropped."""
    c = Columns
    net = holdout.groupby([c.customer, c.item], sort=False)[c.quantity].sum()
    bought = net[net > 0].reset_index()[[c.customer, c.item]]
    if task == "discovery":
        if history is None:
            raise EngineError("relevant_items: the discovery task needs the history the model was fitted on")
        past = history.loc[history[c.quantity] > 0, [c.customer, c.item]].drop_duplicates()
        merged = bought.merge(past, on=[c.customer, c.item], how="left", indicator=True)
        bought = merged.loc[merged["_merge"] == "left_only", [c.customer, c.item]]
    elif task != "repeat":
        raise EngineError(f"task must be 'repeat' or 'discovery', got {task!r}")
    grouped = bought.groupby(c.customer, sort=True)[c.item]
    return {str(customer): set(items.astype(str)) for customer, items in grouped}


def evaluate_model(
    model: RecommenderModel, relevant: Mapping[str, Collection[str]], k: int = 10, task: Task = "discovery"
) -> dict[str, float]:
    """Recommend for every customer of ``relevant`` and compute the metric set at ``k``."""
    customers = list(relevant)
    lists = model.recommend(customers, k=k, task=task)
    recommended = {result.subject: result.item_ids for result in lists}
    return evaluate(recommended, relevant, k=k, catalog_size=model.n_items)


def stratified_split(
    transactions: pd.DataFrame, ratio: float = 0.75, seed: int = 42, by: str = Columns.item
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Within each value of ``by`` (item or customer), a random ``ratio`` of the lines to train, the
    rest to test: the lines get ``numpy.random.seed(seed); rand(n)`` in their given order, are sorted
    by (``by``, that number), and a line goes to train if its rank / group size <= ``ratio``
    (so a group of one goes to test), exactly as Microsoft Recommenders' ``python_stratified_split``."""
    if not 0 < ratio < 1:
        raise EngineError(f"ratio must be between 0 and 1, got {ratio}")
    if by not in (Columns.item, Columns.customer):
        raise EngineError(f"by must be {Columns.item!r} or {Columns.customer!r}, got {by!r}")
    rng = np.random.RandomState(seed)
    frame = transactions.assign(_random=rng.rand(len(transactions)))
    frame = frame.sort_values([by, "_random"])
    groups = frame.groupby(by, sort=False)
    rank = (groups.cumcount() + 1) / groups[by].transform("count")
    train = rank <= ratio
    frame = frame.drop(columns="_random")
    return frame.loc[train], frame.loc[~train]
