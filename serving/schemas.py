"""Typed requests and answers of every endpoint, with the documented limits.

The limits are part of the API (they show in the OpenAPI document): a request over a limit is refused
with a 400 that names the field, before any model runs. Unknown fields are refused too (a misspelt
``task`` must not silently mean the default). Every number has a range, and a number that is not finite
(``NaN``, ``Infinity``, or ``1e999`` which JSON parsers read as infinity) is refused. Every date-time in an
answer carries its time zone (UTC).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_K = 100
MAX_BATCH_CUSTOMERS = 200
MAX_PRICE_BATCH = 500
MAX_EXCLUDE = 500
MAX_PAGE_SIZE = 500
MAX_CSV_ROWS = 100_000
MAX_ID_LENGTH = 128
MAX_PAGE = 1_000_000
MAX_PRICE = 1e7  # currency units: a shelf price (or offer) above this is a typo, not a product
MIN_PRICE = 0.01  # one cent: prices are whole cents (a 5e-324 price made the optimizer's log fail)
MAX_STOCK = 1e9  # units on hand
MAX_CLV = 1e9  # currency units of expected customer value
MAX_FILTER_VALUES = 50

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
Task = Literal["discovery", "repeat"]
Band = Literal["low", "medium", "high"]
SortKey = Literal["value_at_risk", "churn_probability", "expected_clv", "recency_days", "monetary"]


class Request(BaseModel):
    """Base of every request: unknown fields are an error, numbers must be finite."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Answer(BaseModel):
    """Base of every answer."""

    model_config = ConfigDict(extra="forbid")


class ModelVersions(Answer):
    """Which models produced an answer: the bundle and the MLflow registry version of each model in it
    (``None``: that capability is not in the bundle)."""

    bundle: str = Field(description="BentoML model tag of the served bundle")
    recommender: str | None = None
    churn: str | None = None
    clv: str | None = None
    pricing: str | None = None


# --- recommendations ---------------------------------------------------------------------------------


class RecommendOptions(Request):
    k: int = Field(10, ge=1, le=MAX_K, description=f"how many items, 1..{MAX_K}")
    task: Task = Field("discovery", description="discovery: never items the customer bought; repeat: may repeat")
    exclude: list[Id] = Field(default_factory=list, max_length=MAX_EXCLUDE, description="never recommend these")
    category: Name | None = Field(None, description="only items of this category")


class RecommendRequest(RecommendOptions):
    customer_id: Id


class BatchRecommendRequest(RecommendOptions):
    customer_ids: list[Id] = Field(min_length=1, max_length=MAX_BATCH_CUSTOMERS)


class ScoredItem(Answer):
    item_id: str
    score: float
    category: str | None = None


class Recommendation(Answer):
    customer_id: str
    items: list[ScoredItem]
    source: str = Field(description="model | cold_start_segment | cold_start_global")
    cold_start: bool = Field(description="true: no usable history, the list is (segment) popularity")
    variant: str | None = Field(None, description="experiment arm that answered (champion | challenger); null outside an experiment")
    model_version: str | None = Field(None, description="registry version of the recommender that answered")


class Traced(Answer):
    """What a feedback event copies from the answer it responds to (POST /v1/events)."""

    request_id: str = Field(description="unique id of this answer")
    bundle_version: str = Field(description="the served bundle (as versions.bundle)")


class RecommendResponse(Recommendation, Traced):
    task: Task
    versions: ModelVersions


class BatchRecommendResponse(Traced):
    task: Task
    results: list[Recommendation]
    versions: ModelVersions


class SimilarItemsRequest(Request):
    item_id: Id
    k: int = Field(10, ge=1, le=MAX_K)


class SimilarItemsResponse(Answer):
    item_id: str
    items: list[ScoredItem]
    known: bool = Field(description="false: the item is not in the model's catalogue; items is empty")
    reason: str | None = None
    versions: ModelVersions


# --- prices --------------------------------------------------------------------------------------------


class PriceRequest(Request):
    product_id: Id
    customer_id: Id | None = Field(None, description="quote this customer's segment or tier offer (if any)")
    segment: Name | None = Field(None, description="quote this RFM segment's or loyalty tier's offer (wins over customer_id)")
    stock: float | None = Field(None, ge=0, le=MAX_STOCK, description=f"units on hand (0..{MAX_STOCK:g}), for the stock-aware adjustment")
    current_price: float | None = Field(
        None, ge=MIN_PRICE, le=MAX_PRICE,
        description=f"the shelf price now ({MIN_PRICE:g} <= price <= {MAX_PRICE:g}; default: the last one seen)",
    )


class BatchPriceRequest(Request):
    requests: list[PriceRequest] = Field(min_length=1, max_length=MAX_PRICE_BATCH)


class PriceAnswer(Answer):
    """The wire form of the engine's :class:`engine.pricing.optimizer.PriceQuote` (its one definition):
    the guarded price and why; amounts are per week at the quoted and at the current price."""

    product_id: str
    known: bool = Field(description="false: no price model for the product; the price is kept (reason unknown_product)")
    price: float | None
    current_price: float | None
    reason: str = Field(description="the binding guardrail or the reason for keeping the price (optimal, max_change, ...)")
    flags: list[str] = Field(description="other drivers and notes (e.g. stock_scarce, segment_offer)")
    elasticity: float | None = None
    elasticity_low: float | None = None
    elasticity_high: float | None = None
    unit_cost: float | None = None
    expected_units: float | None = None
    expected_revenue: float | None = None
    expected_margin: float | None = None
    current_units: float | None = None
    current_revenue: float | None = None
    current_margin: float | None = None
    segment: str | None = None
    segment_price: float | None = Field(None, description="the segment's offer price, when it has one")
    segment_discount: float = 0.0
    stock: float | None = None


class PriceResponse(PriceAnswer):
    versions: ModelVersions


class BatchPriceResponse(Answer):
    results: list[PriceAnswer]
    versions: ModelVersions


# --- customers -----------------------------------------------------------------------------------------


class ProfileRequest(Request):
    customer_id: Id


class Rfm(Answer):
    recency_days: float
    frequency: int
    monetary: float
    r_score: int
    f_score: int
    m_score: int


class CustomerRow(Answer):
    """What the service knows of a customer as of the bundle's date."""

    customer_id: str
    segment: str | None
    tier: str | None
    churn_probability: float | None = None
    churn_band: Band | None = None
    expected_clv: float | None = None
    value_at_risk: float | None = Field(None, description="churn probability x expected CLV")


class AfterSalesProfile(Answer):
    """What the customer said after the sale, as of the bundle's date (None: not in the shop's data)."""

    support_contacts: int | None = None
    open_complaints: int | None = None
    complaint_days_open: float | None = Field(None, description="days the oldest open complaint has been open")
    mean_days_to_resolve: float | None = None
    satisfaction_last: float | None = Field(None, description="last satisfaction rating of a resolved contact, 1-5")
    nps_last: float | None = Field(None, description="last NPS answer, 0-10")
    csat_last: float | None = Field(None, description="last CSAT answer, 1-5")


class ProfileResponse(CustomerRow):
    known: bool = Field(description="false: no purchase before as_of; a cold-start profile (entry tier)")
    as_of: AwareDatetime
    rfm: Rfm | None
    reasons: list[str] = Field(default_factory=list, description="top drivers of the churn score")
    aftersales: AfterSalesProfile | None = Field(None, description="null when the bundle has no after-sales data")
    versions: ModelVersions


class ChurnRiskFilters(Request):
    """Which customers, in which order (each list: any of; all filters together)."""

    segments: list[Name] | None = Field(None, max_length=MAX_FILTER_VALUES, description="any of these RFM segments")
    tiers: list[Name] | None = Field(None, max_length=MAX_FILTER_VALUES, description="any of these loyalty tiers")
    bands: list[Band] | None = Field(None, max_length=3, description="any of these churn-risk bands")
    min_clv: float | None = Field(None, ge=0, le=MAX_CLV, description=f"expected CLV at least this (0..{MAX_CLV:g})")
    search: Id | None = Field(None, description="customers whose id contains this text (ignoring case)")
    sort_by: SortKey = "value_at_risk"
    descending: bool = True


class ChurnRiskRequest(ChurnRiskFilters):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class ChurnRiskExportRequest(ChurnRiskFilters):
    limit: int = Field(MAX_CSV_ROWS, ge=1, le=MAX_CSV_ROWS, description="at most this many rows")


class ChurnRiskResponse(Answer):
    as_of: AwareDatetime
    total: int = Field(description="customers matching the filters")
    page: int
    page_size: int
    customers: list[CustomerRow]
    versions: ModelVersions


# --- operations ----------------------------------------------------------------------------------------


class ReloadAttempt(Answer):
    at: AwareDatetime
    bundle: str
    ok: bool
    error: str | None = None


class ExperimentStatus(Answer):
    name: str
    challenger_share: float
    champion_version: str | None
    challenger_version: str


class StatusResponse(Answer):
    ready: bool
    bundle: str | None
    loaded_at: AwareDatetime | None
    as_of: AwareDatetime | None
    capabilities: list[str] = Field(description="what the served bundle can answer")
    last_reload: ReloadAttempt | None
    versions: ModelVersions | None
    experiment: ExperimentStatus | None = Field(None, description="the online experiment served, if any")
