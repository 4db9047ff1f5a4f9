"""The offline loop's weekly shift check: a drop of the realised hit rate, or a population stability
index (PSI) of what customers buy, against the first weeks the model was served.

Kept small and self-contained for the replay (``crm bench loop``); the general per-feature and
per-prediction drift of ``crm monitor`` is computed in the monitoring module, and this check is meant
to be wired to it. The purchased-item distribution is binned as the reference's ``bins`` most bought
items, every other item the model knows, and the items it has never seen: a new product range lands
in the last bin, a change of taste moves mass between the first ones.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from engine.errors import EngineError


class ShiftRule(BaseModel):
    """Thresholds of the weekly check (validated; a misspelt key is an error).

    ``reference_weeks``: served weeks after a (re)deployment that set the reference; no alarm fires in
    them. ``hit_rate_drop``: relative fall of the week's hit rate below the reference mean that is a
    breach. ``psi_threshold``: PSI of the week's purchased items against the reference that is a breach
    (0.1 is usually read as a moderate shift, 0.25 as a major one)."""

    model_config = ConfigDict(extra="forbid")
    reference_weeks: int = Field(2, ge=1)
    hit_rate_drop: float = Field(0.15, gt=0, lt=1)
    psi_threshold: float = Field(0.25, gt=0)
    bins: int = Field(100, ge=1)


@dataclass(frozen=True)
class ItemBins:
    """The bins of the purchased-item distribution, fixed on the reference weeks."""

    top: pd.Index
    known: frozenset[str]

    def shares(self, items: pd.Series) -> np.ndarray:
        """Share of ``items`` (one per purchase line) in each bin: top items, other known, never seen."""
        if items.empty:
            raise EngineError("no purchases to compare")
        items = items.astype(str)
        counts = items.value_counts()
        top = counts.reindex(self.top, fill_value=0).to_numpy(dtype=float)
        rest = counts.drop(self.top, errors="ignore")
        known = float(rest[rest.index.isin(self.known)].sum())
        unseen = float(rest.sum()) - known
        return np.append(top, [known, unseen]) / len(items)


def item_bins(reference_items: pd.Series, model_items: Collection[str], bins: int) -> ItemBins:
    """Bins from the reference weeks' purchased items and the items the served model knows."""
    top = reference_items.astype(str).value_counts().index[:bins]
    return ItemBins(pd.Index(top), frozenset(str(item) for item in model_items))


def breaches(rule: ShiftRule, hit_rate: float, reference_hit_rate: float, item_psi: float) -> list[str]:
    """The rule's breaches this week, named with their figures (empty: no shift)."""
    found = []
    floor = (1 - rule.hit_rate_drop) * reference_hit_rate
    if hit_rate < floor:
        found.append(
            f"hit rate {hit_rate:.3f} below {floor:.3f} ({rule.hit_rate_drop:.0%} under the reference {reference_hit_rate:.3f})"
        )
    if item_psi > rule.psi_threshold:
        found.append(f"purchased-item PSI {item_psi:.3f} above {rule.psi_threshold}")
    return found
