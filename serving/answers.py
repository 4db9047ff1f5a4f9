"""Turn engine results into the typed answers of :mod:`serving.schemas` (no decisions are made here)."""

from __future__ import annotations

from typing import Any

from serving.bundle import Bundle
from serving.customer_table import REASON_SEPARATOR, RFM_COLUMNS
from serving.schemas import CustomerRow, ModelVersions, ProfileResponse, Recommendation, Rfm, ScoredItem


def versions(bundle: Bundle) -> ModelVersions:
    return ModelVersions(bundle=bundle.tag, **bundle.versions)


def scored_items(bundle: Bundle, item_ids: tuple[str, ...], scores: tuple[float, ...]) -> list[ScoredItem]:
    return [
        ScoredItem(item_id=item, score=score, category=bundle.category_of(item))
        for item, score in zip(item_ids, scores)
    ]


def recommendation(bundle: Bundle, result: Any) -> Recommendation:
    """A recommender's ``Recommendations`` for one customer as an answer."""
    return Recommendation(
        customer_id=result.subject,
        items=scored_items(bundle, result.item_ids, result.scores),
        source=result.source,
        cold_start=result.cold_start,
    )


def profile(bundle: Bundle, customer_id: str) -> ProfileResponse:
    """The customer's precomputed row, or the cold-start profile of a customer with no purchase before
    the bundle's as-of date: entry tier, no segment, no scores."""
    row = bundle.customers.lookup(customer_id)
    if row is None:
        return ProfileResponse(
            customer_id=customer_id, known=False, as_of=bundle.as_of.to_pydatetime(), rfm=None,
            segment=None, tier=bundle.entry_tier, versions=versions(bundle),
        )
    reasons = row.get("reasons") or ""
    return ProfileResponse(
        customer_id=customer_id,
        known=True,
        as_of=bundle.as_of.to_pydatetime(),
        rfm=Rfm(**{column: row[column] for column in RFM_COLUMNS}),
        reasons=[reason for reason in reasons.split(REASON_SEPARATOR) if reason],
        versions=versions(bundle),
        **{field: row[field] for field in CustomerRow.model_fields if field != "customer_id"},
    )
