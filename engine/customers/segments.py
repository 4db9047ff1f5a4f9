"""Named customer segments from RFM scores, by a rule table a marketer can re-cut without code."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from engine.customers.rfm import F_SCORE, FREQUENCY, M_SCORE, MONETARY, R_SCORE, RECENCY, SCORE_BINS

SEGMENT = "segment"
ScoreRange = tuple[int, int]


class SegmentRule(BaseModel):
    """A segment: the customers whose R, F and M scores fall in these inclusive ranges."""

    model_config = ConfigDict(extra="forbid")
    name: str
    r: ScoreRange = (1, SCORE_BINS)
    f: ScoreRange = (1, SCORE_BINS)
    m: ScoreRange = (1, SCORE_BINS)

    @field_validator("r", "f", "m")
    @classmethod
    def _range_within_scores(cls, value: ScoreRange) -> ScoreRange:
        low, high = value
        if not 1 <= low <= high <= SCORE_BINS:
            raise ValueError(f"score range {list(value)} must satisfy 1 <= low <= high <= {SCORE_BINS}")
        return value

    def matches(self, r: int, f: int, m: int) -> bool:
        return all(low <= s <= high for s, (low, high) in zip((r, f, m), (self.r, self.f, self.m)))


class SegmentRules(BaseModel):
    """An ordered rule table: the first matching rule names the segment. Every one of the 125 (R, F, M)
    score cells must be matched by some rule, so every customer gets exactly one segment."""

    model_config = ConfigDict(extra="forbid")
    rules: list[SegmentRule]

    @model_validator(mode="after")
    def _covers_every_cell(self) -> SegmentRules:
        uncovered = [cell for cell in _cells() if not any(rule.matches(*cell) for rule in self.rules)]
        if uncovered:
            shown = ", ".join(f"R{r}F{f}M{m}" for r, f, m in uncovered[:10])
            raise ValueError(f"{len(uncovered)} score cells match no rule (e.g. {shown}); add a catch-all rule")
        return self

    def lookup_table(self) -> np.ndarray:
        """Segment index for every (r, f, m) cell, shape (6, 6, 6) indexed by the scores themselves."""
        table = np.full((SCORE_BINS + 1,) * 3, -1, dtype=np.int64)
        for r, f, m in _cells():
            table[r, f, m] = next(i for i, rule in enumerate(self.rules) if rule.matches(r, f, m))
        return table

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(rule.name for rule in self.rules))


def _cells() -> list[tuple[int, int, int]]:
    scores = range(1, SCORE_BINS + 1)
    return list(itertools.product(scores, scores, scores))


# The widely used R x F map (FM scores act together through F); first match wins.
DEFAULT_SEGMENT_RULES = SegmentRules(
    rules=[
        SegmentRule(name="Champions", r=(5, 5), f=(4, 5)),
        SegmentRule(name="Loyal", r=(3, 4), f=(4, 5)),
        SegmentRule(name="Potential Loyalist", r=(4, 5), f=(2, 3)),
        SegmentRule(name="New", r=(5, 5), f=(1, 1)),
        SegmentRule(name="Promising", r=(4, 4), f=(1, 1)),
        SegmentRule(name="Need Attention", r=(3, 3), f=(3, 3)),
        SegmentRule(name="About to Sleep", r=(3, 3), f=(1, 2)),
        SegmentRule(name="Can't Lose", r=(1, 2), f=(5, 5)),
        SegmentRule(name="At Risk", r=(1, 2), f=(3, 4)),
        SegmentRule(name="Hibernating", r=(1, 2), f=(1, 2)),
    ]
)


def assign_segments(scores: pd.DataFrame, rules: SegmentRules | None = None) -> pd.Series:
    """The segment name of every scored customer (index as ``scores``)."""
    rules = rules or DEFAULT_SEGMENT_RULES
    table = rules.lookup_table()
    index = table[scores[R_SCORE].to_numpy(), scores[F_SCORE].to_numpy(), scores[M_SCORE].to_numpy()]
    names = np.array([rule.name for rule in rules.rules], dtype=object)
    return pd.Series(names[index], index=scores.index, name=SEGMENT)


# after-sales columns of a customer view (engine.customers.aftersales) and their per-segment summary
AFTERSALES_SUMMARY = {
    "share_open_complaint": ("open_complaints", lambda values: (values > 0).mean()),
    "avg_days_to_resolve": ("mean_days_to_resolve", "mean"),
    "avg_satisfaction": ("satisfaction_last", "mean"),
    "avg_nps": ("nps_last", "mean"),
    "avg_csat": ("csat_last", "mean"),
}


def segment_profile(scores: pd.DataFrame, segments: pd.Series) -> pd.DataFrame:
    """One row per segment, like a shop's "segment insight" page: size, share of customers and of
    revenue, average recency, frequency, spend and order value; with after-sales columns in ``scores``,
    also the share with a complaint open and the average days to resolve, satisfaction, NPS and CSAT
    (of the customers who have one). Largest revenue first."""
    frame = scores.assign(**{SEGMENT: segments})
    grouped = frame.groupby(SEGMENT)
    profile = pd.DataFrame(
        {
            "customers": grouped.size(),
            "revenue": grouped[MONETARY].sum(),
            "avg_recency_days": grouped[RECENCY].mean(),
            "avg_frequency": grouped[FREQUENCY].mean(),
            "avg_monetary": grouped[MONETARY].mean(),
        }
    )
    profile["share_customers"] = profile["customers"] / profile["customers"].sum()
    total_revenue = profile["revenue"].sum()
    profile["share_revenue"] = profile["revenue"] / total_revenue if total_revenue else np.nan
    profile["avg_order_value"] = grouped[MONETARY].sum() / grouped[FREQUENCY].sum()
    profile.index.name = SEGMENT
    columns = ["customers", "share_customers", "revenue", "share_revenue", "avg_recency_days",
               "avg_frequency", "avg_monetary", "avg_order_value"]
    for name, (column, how) in AFTERSALES_SUMMARY.items():
        if column in frame:
            profile[name] = grouped[column].agg(how)
            columns.append(name)
    return profile[columns].sort_values("revenue", ascending=False)

