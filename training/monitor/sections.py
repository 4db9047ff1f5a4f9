"""What every model's monitoring shares: the champion downloaded from the registry, the report section
it fills, the customer snapshots churn and CLV share, and the feedback-event funnel."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from engine.customers.aftersales import AfterSales
from engine.customers.features import FeatureSpec, Snapshot, customer_features
from engine.data.dataset import ShopData
from engine.io import MANIFEST
from engine.monitoring import realised
from engine.monitoring.thresholds import Breach, below

_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Champion:
    """A registry champion: its version, files, manifest, the end of its training data (the day after
    its run's last line) and the primary metric recorded when it was promoted."""

    name: str
    version: str
    folder: Path
    manifest: dict[str, Any]
    trained_until: pd.Timestamp | None
    metric: str | None
    metric_value: float | None


def find_champion(name: str, scratch: Path) -> Champion | None:
    """Download ``name``'s champion into ``scratch`` (None when the registry has none)."""
    from training import tracking

    version = tracking.champion_version(name)
    if version is None:
        return None
    tags = tracking.version_tags(name, version)
    folder = tracking.download_champion(name, destination=scratch / name)
    # a run without its data summary: the manifest's as_of is used instead
    summary = tracking.version_run_json(name, version, "data_summary.json", scratch / f"{name}-run") or {}
    last = summary.get("last")
    value = tags.get("primary_metric_value")
    return Champion(
        name, version, folder, json.loads((folder / MANIFEST).read_text()),
        pd.Timestamp(last).normalize() + _DAY if last else None,
        tags.get("primary_metric"), float(value) if value is not None else None,
    )


@dataclass
class Section:
    """One model's part of the report."""

    model: str
    version: str | None
    status: str
    details: dict[str, Any] = field(default_factory=dict)
    drift: pd.DataFrame | None = None
    prediction_drift: pd.DataFrame | None = None
    breaches: list[Breach] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        tables = {name: None if table is None else table.round(6).to_dict(orient="records")
                  for name, table in (("drift", self.drift), ("prediction_drift", self.prediction_drift))}
        status = "breached" if self.breaches and self.status == "ok" else self.status  # never "ok" beside a breach
        return {"model": self.model, "version": self.version, "status": status, "details": self.details, **tables,
                "breaches": [breach.as_dict() for breach in self.breaches]}


class SnapshotCache:
    """Customer features by (as-of, spec): churn and CLV share their snapshots."""

    def __init__(self, shop: ShopData) -> None:
        self.shop, self._cache = shop, {}

    def get(self, moment: pd.Timestamp, spec: FeatureSpec) -> Snapshot:
        key = (moment, spec.model_dump_json())
        if key not in self._cache:
            self._cache[key] = customer_features(self.shop.transactions, moment, spec, self.shop.products,
                                                 AfterSales.of(self.shop))
        return self._cache[key]


def event_funnel(events: pd.DataFrame, funnel: str, model: str, min_answers: int, floor: float, section: Section) -> dict[str, Any]:
    """The event funnel of one kind of answer per model version, with the hit-rate floor judged on
    versions with at least ``min_answers`` exposed answers."""
    table = realised.event_funnel(events, funnel)
    if table.empty:
        return {"status": "no exposure events"}
    if floor > 0:
        for row in table.itertuples():
            if row.answers >= min_answers:
                section.breaches += below(model, "performance", f"event_hit_rate[v{row.model_version}]", row.hit_rate, floor)
    return {"by_model_version": table.round(6).to_dict(orient="records"), "unmatched_responses": table.attrs["unmatched"]}
