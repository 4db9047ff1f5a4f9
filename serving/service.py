"""The BentoML service: storefront recommendations and prices, marketing profiles and churn-risk lists.

Run it with ``crm serve`` (or ``bentoml serve serving.service:CRMService``). It serves the bundle that
``crm serve import`` put in the BentoML model store (``crm-bundle:latest`` unless ``CRM_BUNDLE`` pins
one); settings come from the environment (:mod:`serving.settings`). Each endpoint takes the current
bundle once and answers from it, so a reload never mixes two bundles in one answer.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import bentoml
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from engine.errors import EngineError
from serving import answers, console, events, experiments, routes
from serving.auth import ApiKeyMiddleware, caller_refusal
from serving.bundle import Bundle, BundleHolder, ReloadOutcome, load_bundle
from serving.guard import RequestGuard, quiet_client_errors
from serving.metrics import counters
from serving.openapi import OpenApiFix
from serving.schemas import (
    BatchPriceRequest,
    BatchPriceResponse,
    BatchRecommendRequest,
    BatchRecommendResponse,
    ChurnRiskExportRequest,
    ChurnRiskFilters,
    ChurnRiskRequest,
    ChurnRiskResponse,
    PriceRequest,
    PriceResponse,
    ProfileRequest,
    ProfileResponse,
    RecommendOptions,
    RecommendRequest,
    RecommendResponse,
    ReloadAttempt,
    SimilarItemsRequest,
    SimilarItemsResponse,
    StatusResponse,
)
from serving.settings import current as current_settings

logger = logging.getLogger("crm.serving")


class ServiceArguments(BaseModel):
    """Start-up arguments (``bentoml serve ... --arg workers=2``, or ``crm serve --workers 2``)."""

    model_config = ConfigDict(extra="forbid")
    workers: int = Field(1, ge=1, le=64, description="worker processes, each with its own copy of the bundle")


ARGUMENTS = bentoml.use_arguments(ServiceArguments)

# BentoML records a tracing span for every request even with tracing off, and its request-timeout
# timer keeps each one alive for the whole timeout: at a few hundred requests a second that is tens of
# thousands of live objects and long garbage-collection pauses. The API routes are therefore left out
# of tracing, and the timeout is short (every answer here takes milliseconds).
SERVICE_CONFIG = {
    "workers": ARGUMENTS.workers,
    "traffic": {"timeout": 10},
    "tracing": {"excluded_urls": ["/v1/", console.PREFIX]},
    "logging": {"access": {"enabled": False}},
}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _not_ready(holder: BundleHolder) -> JSONResponse:
    attempt = holder.last_attempt
    detail = f": {answers.without_paths(attempt.error)}" if attempt and attempt.error else ""
    return _error(503, f"no model bundle loaded{detail}; run `crm serve import`")


@bentoml.service(**SERVICE_CONFIG)
class CRMService:
    """One service for the storefront (open by configuration) and marketing (API key)."""

    def __init__(self) -> None:
        logger.setLevel(logging.INFO)  # BentoML's server logging keeps other loggers at WARNING
        quiet_client_errors()
        self.settings = current_settings()
        self.holder = BundleHolder(self._load)
        self._follower: asyncio.Task | None = None
        self.refresh()

    # --- bundle lifecycle ---------------------------------------------------------------------------

    @staticmethod
    def _load(reference: str) -> Bundle:
        stored = bentoml.models.get(reference)
        return load_bundle(stored.path, str(stored.tag))

    def refresh(self) -> ReloadOutcome | None:
        """Load the configured bundle if it is not the one served (and did not just fail to load)."""
        try:
            tag = str(bentoml.models.get(self.settings.bundle).tag)
        except Exception as error:  # no bundle in the store yet: stay unready, say why
            return self._record_missing(error)
        current, last = self.holder.current, self.holder.last_attempt
        if (current and current.tag == tag) or (last and last.bundle == tag and not last.ok):
            return None
        outcome = self.holder.load(tag)
        counters().bundle_loads.labels(outcome="ok" if outcome.ok else "failed").inc()
        if outcome.ok:
            # long-lived model objects leave the garbage collector's scans (keeps pauses short)
            gc.unfreeze()
            gc.collect()
            gc.freeze()
        return outcome

    def _record_missing(self, error: Exception) -> ReloadOutcome | None:
        if self.holder.last_attempt is None or self.holder.last_attempt.ok:
            counters().bundle_loads.labels(outcome="failed").inc()
            return self.holder.load(self.settings.bundle)
        logger.debug("bundle %s still unavailable: %s", self.settings.bundle, error)
        return None

    @bentoml.on_startup
    async def _follow_latest(self) -> None:
        if self.settings.reload_seconds and self.settings.follows_latest:
            self._follower = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reload_seconds)
            await asyncio.to_thread(self.refresh)

    @bentoml.on_shutdown
    async def _stop_following(self) -> None:
        if self._follower is not None:
            self._follower.cancel()

    @bentoml.on_startup
    async def _start_ingester(self) -> None:
        await events.ingester().start()

    @bentoml.on_shutdown
    async def _stop_ingester(self) -> None:
        events.ingester().stop()

    def __is_ready__(self) -> bool:
        return self.holder.current is not None

    # --- storefront -----------------------------------------------------------------------------------

    def _personal(self, field: str, what: str, hint: str = "") -> JSONResponse | None:
        """The refusal of a request part that reveals one customer's records, for a caller without the
        key (None: answer it)."""
        refused = caller_refusal() if self.settings.personal_answers_need_key else None
        if refused is None:
            return None
        status, message = refused
        return _error(status, f"{field}: {what} needs the API key, like the marketing routes ({message}){hint}")

    def _repeat_refusal(self, options: RecommendOptions) -> JSONResponse | None:
        if options.task != "repeat":
            return None
        return self._personal("task", "task=repeat (a customer's own purchases)")

    def _recommender(self) -> tuple[Bundle | None, JSONResponse | None]:
        bundle = self.holder.current
        if bundle is None:
            return None, _not_ready(self.holder)
        if bundle.recommender is None:
            return None, _error(404, "no recommender in the served bundle (train one, then crm serve import)")
        return bundle, None

    @staticmethod
    def _exclusions(bundle: Bundle, model: Any, options: RecommendOptions) -> list[str] | None:
        """The request's exclude list plus, with a category filter, every item of ``model`` outside the
        category (None when nothing is excluded, which spares the engine an id lookup)."""
        excluded = list(options.exclude)
        if options.category is not None:
            if bundle.catalogue is None:
                raise EngineError("category: the served bundle has no product categories to filter on")
            excluded += bundle.catalogue.outside(options.category, model.items_.external_ids).tolist()
        return excluded or None

    def _segments(self, bundle: Bundle, customer_ids: list[str]) -> dict[str, str]:
        found = {}
        for customer in customer_ids:
            row = bundle.customers.lookup(customer)
            if row is not None and row["segment"] is not None:
                found[customer] = row["segment"]
        return found

    @bentoml.api(route=routes.RECOMMEND)
    async def recommend(self, request: RecommendRequest, /) -> RecommendResponse:
        """Top-k items for one customer; a customer without history gets (segment) popularity, flagged."""
        bundle, refusal = self._recommender()
        refusal = refusal or self._repeat_refusal(request)
        if refusal:
            return refusal
        arm = experiments.arm_of(bundle, request.customer_id)
        try:
            (result,) = arm.model.recommend(
                [request.customer_id], k=request.k, task=request.task,
                exclude=self._exclusions(bundle, arm.model, request), segments=self._segments(bundle, [request.customer_id]),
            )
        except EngineError as error:
            return _error(400, str(error))
        answer = answers.recommendation(bundle, result, arm)
        if answer.cold_start:
            counters().cold_starts.labels(endpoint="recommend").inc()
        return RecommendResponse(**dict(answer), **answers.traced(bundle), task=request.task, versions=answers.versions(bundle))

    # batch and list endpoints run in BentoML's worker thread, so a long batch does not hold the event
    # loop that answers the single storefront calls

    @bentoml.api(route=routes.RECOMMEND_BATCH)
    def recommend_batch(self, request: BatchRecommendRequest, /) -> BatchRecommendResponse:
        """Top-k items for many customers in one call (same options for all)."""
        bundle, refusal = self._recommender()
        refusal = refusal or self._repeat_refusal(request)
        if refusal:
            return refusal
        try:
            results = experiments.recommend_by_arm(bundle, request.customer_ids, lambda model, customers: model.recommend(
                customers, k=request.k, task=request.task,
                exclude=self._exclusions(bundle, model, request), segments=self._segments(bundle, customers),
            ))
        except EngineError as error:
            return _error(400, str(error))
        answered = [answers.recommendation(bundle, result, arm) for result, arm in results]
        if cold := sum(answer.cold_start for answer in answered):
            counters().cold_starts.labels(endpoint="recommend_batch").inc(cold)
        return BatchRecommendResponse(**answers.traced(bundle), task=request.task, results=answered,
                                      versions=answers.versions(bundle))

    @bentoml.api(route=routes.SIMILAR_ITEMS)
    async def similar_items(self, request: SimilarItemsRequest, /) -> SimilarItemsResponse:
        """Items most similar to an item; an unknown item gets an empty answer with the reason."""
        bundle, refusal = self._recommender()
        if refusal:
            return refusal
        (result,) = bundle.recommender.similar_items([request.item_id], k=request.k)
        if result.reason is not None:
            counters().cold_starts.labels(endpoint="similar_items").inc()
        return SimilarItemsResponse(
            item_id=request.item_id, items=answers.scored_items(bundle, result.item_ids, result.scores),
            known=result.reason is None, reason=result.reason, versions=answers.versions(bundle),
        )

    def _pricing(self) -> tuple[Bundle | None, JSONResponse | None]:
        bundle = self.holder.current
        if bundle is None:
            return None, _not_ready(self.holder)
        if bundle.pricing is None:
            return None, _error(404, "no pricing model in the served bundle (train one, then crm serve import)")
        return bundle, None

    def _offer_refusal(self, requests: list[PriceRequest], prefix: str | None = None) -> JSONResponse | None:
        """A customer's own offer shows their segment or tier: refused without the key (first such item)."""
        index = next((i for i, item in enumerate(requests) if item.customer_id is not None), None)
        if index is None:
            return None
        field = f"{prefix}.{index}.customer_id" if prefix else "customer_id"
        return self._personal(field, "a customer's own offer (it shows their segment or tier)",
                              "; send `segment` to quote a segment's or tier's offer")

    @bentoml.api(route=routes.PRICE)
    async def price(self, request: PriceRequest, /) -> PriceResponse:
        """The guarded price of one product, with the explanation (elasticity, binding guardrail)."""
        bundle, refusal = self._pricing()
        refusal = refusal or self._offer_refusal([request])
        if refusal:
            return refusal
        try:
            quote = answers.price_quote(bundle, request)
        except EngineError as error:
            return _error(400, str(error))
        if not quote.known:
            counters().cold_starts.labels(endpoint="price").inc()
        return PriceResponse(**dict(quote), versions=answers.versions(bundle))

    @bentoml.api(route=routes.PRICE_BATCH)
    def price_batch(self, request: BatchPriceRequest, /) -> BatchPriceResponse:
        """Prices of many products in one call."""
        bundle, refusal = self._pricing()
        refusal = refusal or self._offer_refusal(request.requests, "requests")
        if refusal:
            return refusal
        try:
            quotes = [answers.price_quote(bundle, item) for item in request.requests]
        except EngineError as error:
            return _error(400, str(error))
        if unknown := sum(not quote.known for quote in quotes):
            counters().cold_starts.labels(endpoint="price_batch").inc(unknown)
        return BatchPriceResponse(results=quotes, versions=answers.versions(bundle))

    # --- marketing (API key) --------------------------------------------------------------------------

    @bentoml.api(route=routes.PROFILE)
    async def profile(self, request: ProfileRequest, /) -> ProfileResponse:
        """RFM scores and segment, loyalty tier, churn probability and band, expected CLV of a customer."""
        bundle = self.holder.current
        if bundle is None:
            return _not_ready(self.holder)
        profile = answers.profile(bundle, request.customer_id)
        if not profile.known:
            counters().cold_starts.labels(endpoint="profile").inc()
        return profile

    def _churn_list(self, request: ChurnRiskFilters) -> tuple[Bundle | None, pd.DataFrame | None, JSONResponse | None]:
        bundle = self.holder.current
        if bundle is None:
            return None, None, _not_ready(self.holder)
        if not bundle.customers.has_value_scores:
            return None, None, _error(404, "no churn/CLV scores in the served bundle (train crm-churn and crm-clv)")
        selected = bundle.customers.query(
            request.segments, request.tiers, request.bands, request.min_clv, request.sort_by, request.descending,
            request.search,
        )
        return bundle, selected, None

    @bentoml.api(route=routes.CHURN_RISK)
    def churn_risk(self, request: ChurnRiskRequest, /) -> ChurnRiskResponse:
        """Customers by churn risk and value, filtered, sorted and paginated."""
        bundle, selected, refusal = self._churn_list(request)
        if refusal:
            return refusal
        start = (request.page - 1) * request.page_size
        return ChurnRiskResponse(
            as_of=answers.as_of(bundle), total=len(selected), page=request.page,
            page_size=request.page_size, customers=bundle.customers.rows(selected.iloc[start : start + request.page_size]),
            versions=answers.versions(bundle),
        )

    @bentoml.api(route=routes.CHURN_RISK_CSV)
    def churn_risk_csv(self, request: ChurnRiskExportRequest, /) -> str:
        """The same list as CSV (up to ``limit`` rows); the model versions are in response headers."""
        bundle, selected, refusal = self._churn_list(request)
        if refusal:
            return refusal
        body = bundle.customers.to_csv(selected.iloc[: request.limit])
        return Response(body, media_type="text/csv", headers=answers.export_headers(bundle, "churn-risk.csv"))

    @bentoml.api(route=routes.RELOAD)
    async def reload(self) -> StatusResponse:
        """Load the configured bundle now if it changed (this worker; the others follow on their timer)."""
        await asyncio.to_thread(self.refresh)
        return self.status_now()

    # --- operations (open) -----------------------------------------------------------------------------

    def status_now(self) -> StatusResponse:
        bundle, attempt = self.holder.current, self.holder.last_attempt
        return StatusResponse(
            ready=bundle is not None,
            bundle=bundle.tag if bundle else None,
            loaded_at=bundle.loaded_at if bundle else None,
            as_of=answers.as_of(bundle) if bundle else None,
            capabilities=bundle.capabilities if bundle else [],
            last_reload=ReloadAttempt(**{**vars(attempt), "error": attempt.error and answers.without_paths(attempt.error)})
            if attempt else None,
            versions=answers.versions(bundle) if bundle else None,
            experiment=answers.experiment(bundle) if bundle else None,
        )

    @bentoml.api(route=routes.STATUS)
    async def status(self) -> StatusResponse:
        """What is served, and whether the last load worked (open: no personal data)."""
        return self.status_now()


# outermost first: size and form checks with the client-error log, the OpenAPI fix, the key check, events
CRMService.add_asgi_middleware(RequestGuard, route_limits={routes.EVENTS: events.body_limit()})
CRMService.add_asgi_middleware(OpenApiFix)
CRMService.add_asgi_middleware(ApiKeyMiddleware)
# POST /v1/events: the body goes to the ingesting process unparsed (serving.events), behind the key check
CRMService.add_asgi_middleware(events.EventsEndpoint)
# the marketing console (its own login with the same key), and GET / leads to it
CRMService.mount_asgi_app(console.create_app(), path=console.PREFIX)
CRMService.add_asgi_middleware(console.RootRedirect)
