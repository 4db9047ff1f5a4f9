"""Turn engine results into the typed answers of :mod:`serving.schemas` (no decisions are made here)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

from engine.pricing.guardrails import UNKNOWN_PRODUCT
from serving.bundle import Bundle
from serving.customer_table import AFTERSALES_COLUMNS, REASON_SEPARATOR, RFM_COLUMNS
from serving.experiments import Arm
from serving.schemas import (
    AfterSalesProfile,
    CustomerRow,
    ExperimentStatus,
    ModelVersions,
    PriceAnswer,
    PriceRequest,
    ProfileResponse,
    Recommendation,
    Rfm,
    ScoredItem,
)

# an absolute path (POSIX, home-relative or Windows) of two or more parts: never shown to a caller
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:~|\.{1,2})?(?:[/\\][^\s/\\'\"():,;]+){2,}[/\\]?")


def without_paths(text: str) -> str:
    """``text`` with every file path replaced by ``<path>`` (error messages can name the server's files;
    the log keeps the full message)."""
    return _PATH.sub("<path>", text)


def as_of(bundle: Bundle) -> datetime:
    """The bundle's as-of moment in UTC (the data's timestamps are UTC; a naive one is read as UTC)."""
    moment = bundle.as_of
    return (moment.tz_localize(timezone.utc) if moment.tzinfo is None else moment.tz_convert(timezone.utc)).to_pydatetime()


def versions(bundle: Bundle) -> ModelVersions:
    return ModelVersions(bundle=bundle.tag, **bundle.versions)


def export_headers(bundle: Bundle, filename: str) -> dict[str, str]:
    """Headers of a CSV export: the bundle and model versions it came from, and its file name."""
    headers = {f"X-Model-{part.title()}": str(version) for part, version in bundle.versions.items()}
    headers["X-Model-Bundle"] = bundle.tag
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return headers


def scored_items(bundle: Bundle, item_ids: tuple[str, ...], scores: tuple[float, ...]) -> list[ScoredItem]:
    return [
        ScoredItem(item_id=item, score=score, category=bundle.category_of(item))
        for item, score in zip(item_ids, scores)
    ]


def experiment(bundle: Bundle) -> ExperimentStatus | None:
    """The bundle's online experiment for the status answer (None without one)."""
    if bundle.experiment is None:
        return None
    return ExperimentStatus(**bundle.experiment.model_dump(), champion_version=bundle.versions.get("recommender"))


def traced(bundle: Bundle) -> dict[str, str]:
    """A new ``request_id`` and the bundle version, for an answer that feedback events will name."""
    return {"request_id": uuid.uuid4().hex, "bundle_version": bundle.tag}


def recommendation(bundle: Bundle, result: Any, arm: Arm) -> Recommendation:
    """A recommender's ``Recommendations`` for one customer as an answer, naming the arm that gave it."""
    return Recommendation(
        customer_id=result.subject,
        items=scored_items(bundle, result.item_ids, result.scores),
        source=result.source,
        cold_start=result.cold_start,
        variant=arm.variant,
        model_version=arm.model_version,
    )


def profile(bundle: Bundle, customer_id: str) -> ProfileResponse:
    """The customer's precomputed row, or the cold-start profile of a customer with no purchase before
    the bundle's as-of date: entry tier, no segment, no scores."""
    row = bundle.customers.lookup(customer_id)
    if row is None:
        return ProfileResponse(
            customer_id=customer_id, known=False, as_of=as_of(bundle), rfm=None,
            segment=None, tier=bundle.entry_tier, versions=versions(bundle),
        )
    reasons = row.get("reasons") or ""
    return ProfileResponse(
        customer_id=customer_id,
        known=True,
        as_of=as_of(bundle),
        rfm=Rfm(**{column: row[column] for column in RFM_COLUMNS}),
        reasons=[reason for reason in reasons.split(REASON_SEPARATOR) if reason],
        aftersales=aftersales(row),
        versions=versions(bundle),
        **{field: row[field] for field in CustomerRow.model_fields if field != "customer_id"},
    )


def aftersales(row: dict[str, Any]) -> AfterSalesProfile | None:
    """The after-sales part of a profile; None when the bundle has none of its columns."""
    values = {column: row.get(column) for column in AFTERSALES_COLUMNS}
    if all(value is None for value in values.values()):
        return None
    counts = {"support_contacts", "open_complaints"}
    return AfterSalesProfile(**{k: (int(v) if k in counts and v is not None else v) for k, v in values.items()})


def offer_segment(bundle: Bundle, request: PriceRequest) -> str | None:
    """Whose offer to quote: the request's segment, else the customer's RFM segment or loyalty tier,
    whichever the pricing model has an offer for (the segment if neither)."""
    if request.segment is not None or request.customer_id is None:
        return request.segment
    row = bundle.customers.lookup(request.customer_id)
    if row is None:
        return None
    offers = bundle.pricing.segment_offers_.index
    return next((row[key] for key in ("segment", "tier") if row[key] in offers), row["segment"])


def price_quote(bundle: Bundle, request: PriceRequest) -> PriceAnswer:
    """The pricing model's quote for one request as an answer (raises EngineError on a bad value)."""
    quote = bundle.pricing.quote(
        request.product_id, current_price=request.current_price, stock=request.stock,
        segment=offer_segment(bundle, request),
    )
    fields = quote.as_dict()
    low, high = fields.pop("elasticity_interval") or (None, None)
    fields.pop("model_version")
    return PriceAnswer(
        **fields, known=quote.reason != UNKNOWN_PRODUCT, elasticity_low=low, elasticity_high=high,
    )
