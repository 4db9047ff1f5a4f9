"""Score every customer as of a date with loaded churn and CLV models: what marketing acts on.

One row per customer with a purchase before ``as_of``: churn probability for the models' window,
risk band, expected CLV (discounted, over the CLV model's months), value at risk (churn probability x
CLV), RFM segment and loyalty tier, and the top reasons of the churn score. Sorted by value at risk,
highest first. The serving layer calls :func:`score_customers` with models loaded once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from engine.customers.aftersales import AfterSales
from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.clv import ClvModel
from engine.customers.features import customer_features
from engine.customers.rfm import F_SCORE, M_SCORE, R_SCORE
from engine.customers.segments import SegmentRules, assign_segments
from engine.customers.tiers import TIER_RANK
from engine.customers.view import default_as_of

CHURN_PROBABILITY = "churn_probability"
RISK_BAND = "churn_band"
EXPECTED_CLV = "expected_clv"
VALUE_AT_RISK = "value_at_risk"
TOP_REASONS = "reasons"
SCORE_COLUMNS = (CHURN_PROBABILITY, RISK_BAND, EXPECTED_CLV, VALUE_AT_RISK, "segment", "tier",
                 "recency_days", "frequency", "monetary", TOP_REASONS)


class RiskBands(BaseModel):
    """Cut-offs on the churn probability: high if >= ``high``, medium if >= ``medium``, else low.
    Over a whole population (:meth:`assign_population`) a high band with fewer than
    ``min_customers`` customers is merged into medium: a band of three is neither a group to act on
    nor one whose realised rate can check its prediction (at CJ 2017-07-24 a 3-customer high
    band predicted 0.70 and realised 0)."""

    model_config = ConfigDict(extra="forbid")
    medium: float = Field(0.3, gt=0, lt=1)
    high: float = Field(0.6, gt=0, lt=1)
    min_customers: int = Field(30, ge=1, description="a high band with fewer customers in a scored population joins medium")
    _high_as_medium: bool = PrivateAttr(False)

    @model_validator(mode="after")
    def _ordered(self) -> RiskBands:
        if self.medium >= self.high:
            raise ValueError(f"risk bands: medium ({self.medium}) must be below high ({self.high})")
        return self

    def assign(self, probability: np.ndarray) -> np.ndarray:
        """The band of each probability on its own (one customer, or a chunk of a population); with
        bands made :meth:`for_population` of a population whose high band is too small, high reads medium."""
        band = np.where(probability >= self.high, "high", np.where(probability >= self.medium, "medium", "low"))
        return np.where(band == "high", "medium", band) if self._high_as_medium else band

    @property
    def high_as_medium(self) -> bool:
        """Whether these bands list the high band as medium (set by :meth:`for_population`)."""
        return self._high_as_medium

    def for_population(self, probability: np.ndarray) -> RiskBands:
        """These bands for a whole scored population, to hand to whatever scores it in chunks (which
        no chunk can decide alone): high lists as medium when the population's high band is too small
        (:meth:`small_high_band`)."""
        bands = self.model_copy()
        bands._high_as_medium = self.small_high_band(probability)
        return bands

    def small_high_band(self, probability: np.ndarray) -> bool:
        """Whether a population with these churn probabilities has a high band of fewer than
        ``min_customers`` customers (listed as medium). A small medium band stays: merging it into
        low would call customers at 0.3-0.6 low risk."""
        size = int((np.asarray(probability) >= self.high).sum())
        return 0 < size < self.min_customers

    def assign_population(self, probability: np.ndarray) -> np.ndarray:
        """The bands of a whole scored population: :meth:`assign`, with a high band of fewer than
        ``min_customers`` customers merged into medium."""
        return self.for_population(probability).assign(probability)

    def merged(self, scores: pd.DataFrame) -> list[str]:
        """A note when :meth:`assign_population` merged the high band of ``scores`` (churn probability
        and band) into medium."""
        probability, band = scores[CHURN_PROBABILITY].to_numpy(dtype=float), scores[RISK_BAND].to_numpy()
        moved = int(((probability >= self.high) & (band != "high")).sum())
        return [self.merged_note(moved)] if moved else []

    def merged_note(self, moved: int) -> str:
        """What a list says when its ``moved`` high-risk customers are listed as medium risk."""
        return (f"small band: the {moved:,} customer{'' if moved == 1 else 's'} with churn probability >= {self.high:g} are listed "
                f"as medium risk: a high band under {self.min_customers} customers (risk_bands.min_customers) is too small "
                "to act on or to check")


def score_customers(
    transactions: pd.DataFrame,
    churn: ChurnClassifier,
    clv: ClvModel,
    as_of: str | pd.Timestamp | None = None,
    products: pd.DataFrame | None = None,
    bands: RiskBands | None = None,
    reasons: int = 3,
    segment_rules: SegmentRules | None = None,
    aftersales: AfterSales | None = None,
) -> pd.DataFrame:
    """Score every customer with a purchase before ``as_of`` (default: the day after the last line).

    Segment and tier come from the features the churn model scored (RFM scores; the tier of the
    loyalty ladder in the churn model's feature spec), so they match what the model saw. Models fitted
    with after-sales features need the shop's ``aftersales`` tables to score.
    """
    as_of = pd.Timestamp(as_of) if as_of is not None else default_as_of(transactions)
    bands = bands or RiskBands()
    features, value = features_and_clv(transactions, churn, clv, as_of, products, aftersales)
    probability = churn.predict_proba(features)
    band = bands.assign_population(probability)
    scores_1_to_5 = features[[R_SCORE, F_SCORE, M_SCORE]].astype("int64")
    tier_names = np.array([tier.name for tier in churn.spec_.tiers.tiers], dtype=object)
    scores = pd.DataFrame(
        {
            CHURN_PROBABILITY: probability,
            RISK_BAND: band,
            EXPECTED_CLV: value.to_numpy(),
            VALUE_AT_RISK: probability * value.to_numpy(),
            "segment": assign_segments(scores_1_to_5, segment_rules),
            "tier": tier_names[features[TIER_RANK].to_numpy(dtype="int64")],
            "recency_days": features["recency_days"],
            "frequency": features["frequency"],
            "monetary": features["monetary"],
            TOP_REASONS: churn.top_reasons(features, reasons, explain=band != "low") if reasons else "",
        },
        index=features.index,
    )
    return scores.sort_values(VALUE_AT_RISK, ascending=False, kind="stable")


def select_customers(
    scores: pd.DataFrame,
    segments: Sequence[str] | None = None,
    tiers: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
    min_clv: float | None = None,
    sort_by: str = VALUE_AT_RISK,
    descending: bool = True,
    search: str | None = None,
) -> pd.DataFrame:
    """The customers (rows of ``scores``, indexed by customer id) matching every filter given (each
    list: any of; ``search``: the id contains this text, ignoring case), sorted by ``sort_by`` with missing values last and ties by customer id, so lists
    and pages are stable. ``crm churn-list`` and the service's churn-risk routes both use it."""
    keep = np.ones(len(scores), dtype=bool)
    for column, wanted in (("segment", segments), ("tier", tiers), (RISK_BAND, bands)):
        if wanted:
            keep &= scores[column].isin(list(wanted)).to_numpy()
    if min_clv is not None:
        keep &= (pd.to_numeric(scores[EXPECTED_CLV], errors="coerce") >= min_clv).to_numpy()
    if search:
        keep &= scores.index.astype(str).str.contains(search, case=False, regex=False)
    selected = scores.loc[keep]
    key = pd.to_numeric(selected[sort_by], errors="coerce").to_numpy(dtype=np.float64)
    order = np.lexsort((selected.index.to_numpy(), -key if descending else key))
    return selected.iloc[order]


def features_and_clv(
    transactions: pd.DataFrame,
    churn: ChurnClassifier,
    clv: ClvModel,
    as_of: pd.Timestamp,
    products: pd.DataFrame | None = None,
    aftersales: AfterSales | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """The churn model's features of every customer with a purchase before ``as_of`` and their expected
    CLV (aligned on the features' index). The CLV is a whole-population computation (its LightGBM
    spend is scaled to the probabilistic total); the churn score of a row depends on that row alone."""
    snapshot = customer_features(transactions, as_of, churn.spec_, products, aftersales)
    clv_snapshot = snapshot if clv.spec_ == churn.spec_ else customer_features(transactions, as_of, clv.spec_, products, aftersales)
    value = pd.Series(clv.lifetime_value(clv_snapshot), index=clv_snapshot.features.index)
    return snapshot.features, value.reindex(snapshot.features.index)


def churn_list(
    scores: pd.DataFrame,
    top: int,
    segment: str | None = None,
    tier: str | None = None,
    band: str | None = None,
    min_clv: float | None = None,
) -> pd.DataFrame:
    """The ``top`` customers by value at risk among those matching every filter given."""
    def one(value: str | None) -> list[str] | None:
        return None if value is None else [value]

    return select_customers(scores, one(segment), one(tier), one(band), min_clv).head(top)
