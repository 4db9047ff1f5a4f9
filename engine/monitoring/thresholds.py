"""Monitoring thresholds (``configs/monitor.yaml``) and the breaches they name.

A breach says which model, which feature or metric, the value and the threshold it crossed, so that a
message, an alert label and a retraining decision can all be read off it. Checks are judged only on
enough data (``min_rows``, ``min_customers``, ...): below that a figure is reported but not judged, and
the report says so instead of raising a false alarm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class DriftThresholds(BaseModel):
    """PSI per feature and per prediction."""

    model_config = ConfigDict(extra="forbid")
    bins: int = Field(10, ge=2, description="reference-quantile bins of a numeric variable")
    epsilon: float = Field(1e-4, gt=0, lt=0.01, description="a share of 0 counts as this in the PSI's logarithm")
    feature_psi: float = Field(0.25, gt=0, description="a feature whose PSI exceeds this is a breach")
    feature_psi_warn: float = Field(0.1, gt=0, description="above this a feature is listed as moving (no breach)")
    prediction_psi: float = Field(0.25, gt=0, description="a model's prediction PSI above this is a breach")
    min_rows: int = Field(100, ge=1, description="fewer rows on either side: PSI reported, not judged")
    ignore_features: list[str] = Field(
        default_factory=list, description="features whose PSI is reported but never a breach (e.g. tenure_days in a closed panel, which only grows)"
    )


class ChurnThresholds(BaseModel):
    """Realised churn performance of predictions whose horizon has passed."""

    model_config = ConfigDict(extra="forbid")
    min_auc: float = Field(0.65, ge=0, le=1)
    max_auc_drop: float = Field(0.05, ge=0, description="realised AUC below the AUC recorded at training by more than this")
    max_ece: float = Field(0.05, gt=0, le=1, description="expected calibration error")
    min_customers: int = Field(100, ge=1)


class RecommenderThresholds(BaseModel):
    """Realised hit rate of top-N lists against purchases, and the event funnel."""

    model_config = ConfigDict(extra="forbid")
    k: int = Field(10, ge=1, le=100, description="list length of the hit rate")
    task: Literal["repeat", "discovery"] = Field("repeat", description="which answer of the model is checked against purchases")
    min_lift_over_popularity: float = Field(
        1.0, ge=0, description="the champion's hit rate over that of its training data's bestsellers, in the same period"
    )
    min_hit_rate: float = Field(0.0, ge=0, le=1, description="absolute floor of the champion's hit rate (0: off)")
    max_unknown_item_share: float = Field(0.2, gt=0, le=1, description="share of the period's purchase lines on items the model has never seen")
    min_event_hit_rate: float = Field(0.0, ge=0, le=1, description="floor of the share of shown answers clicked or bought (0: off)")
    max_customers: int = Field(3000, ge=10, description="customers sampled (seeded) for the hit rate; all when fewer")
    min_customers: int = Field(50, ge=1)
    min_answers: int = Field(200, ge=1, description="shown answers needed to judge the event funnel")


class PricingThresholds(BaseModel):
    """Realised units against the forecast at the charged price."""

    model_config = ConfigDict(extra="forbid")
    max_wmape: float = Field(0.6, gt=0)
    max_wmape_increase: float = Field(0.25, ge=0, description="realised WMAPE above the holdout WMAPE recorded at training by this share")
    min_product_weeks: int = Field(50, ge=1)


class MonitorConfig(BaseModel):
    """``configs/monitor.yaml``: every threshold of ``crm monitor``."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    drift: DriftThresholds = Field(default_factory=DriftThresholds)
    churn: ChurnThresholds = Field(default_factory=ChurnThresholds)
    recommender: RecommenderThresholds = Field(default_factory=RecommenderThresholds)
    pricing: PricingThresholds = Field(default_factory=PricingThresholds)


@dataclass(frozen=True)
class Breach:
    """One threshold crossed: ``model`` (e.g. crm-churn), ``kind`` (feature_drift, prediction_drift,
    performance), ``name`` (the feature or metric), its ``value``, the ``threshold`` and the side."""

    model: str
    kind: str
    name: str
    value: float
    threshold: float
    direction: Literal["above", "below"]

    def message(self) -> str:
        return f"{self.model}: {self.kind} {self.name} = {self.value:.4f} is {self.direction} the threshold {self.threshold:.4f}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message()}


def above(model: str, kind: str, name: str, value: float | None, threshold: float) -> list[Breach]:
    """A breach when ``value`` exceeds ``threshold`` (none for a missing value)."""
    return [] if value is None or value <= threshold else [Breach(model, kind, name, float(value), float(threshold), "above")]


def below(model: str, kind: str, name: str, value: float | None, threshold: float) -> list[Breach]:
    """A breach when ``value`` falls short of ``threshold`` (none for a missing value)."""
    return [] if value is None or value >= threshold else [Breach(model, kind, name, float(value), float(threshold), "below")]


def drift_breaches(model: str, table: Any, thresholds: DriftThresholds, kind: str = "feature_drift") -> list[Breach]:
    """Breaches of a :func:`engine.monitoring.drift.drift_table` (judged only with ``min_rows`` on both sides)."""
    limit = thresholds.feature_psi if kind == "feature_drift" else thresholds.prediction_psi
    enough = (table["reference_rows"] >= thresholds.min_rows) & (table["current_rows"] >= thresholds.min_rows)
    judged = table.loc[enough & ~table["feature"].isin(thresholds.ignore_features)]
    return [breach for row in judged.itertuples() for breach in above(model, kind, row.feature, row.psi, limit)]
