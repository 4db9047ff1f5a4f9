"""The console's pages: each reads the served bundle once and renders a template (or a CSV)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from serving import answers
from serving.bundle import Bundle
from serving.console import charts, views
from serving.console.state import console, with_bundle
from serving.customer_table import SEGMENT, TIER
from serving.schemas import MAX_CSV_ROWS, ChurnRiskExportRequest, ChurnRiskRequest

PAGE_SIZE = 50


@with_bundle
def overview(request: Request, bundle: Bundle) -> Response:
    formats = console(request).formats
    groups = {}
    for by, title in ((SEGMENT, "segment"), (TIER, "loyalty tier")):
        summary = views.group_summary(bundle, by)
        labels = [str(name) for name in summary.index]
        groups[by] = {
            "title": title, "table": summary,
            "customers_chart": charts.bar_chart(f"Customers by {title}", labels, summary["customers"].tolist(),
                                                lambda v: f"{formats.number(v)}"),
            "revenue_chart": charts.bar_chart(f"Revenue by {title}", labels, summary["revenue"].tolist(),
                                              lambda v: formats.money(v, cents=False)),
            "risk_chart": charts.bar_chart(f"Value at risk by {title}", labels, summary["value_at_risk"].fillna(0).tolist(),
                                           lambda v: formats.money(v, cents=False)),
        }
    trend = views.monthly_revenue(bundle)
    trend_chart = None if trend is None else charts.column_chart(
        "Revenue by month", [formats.month(m) for m in trend.index],
        trend.tolist(), lambda v: formats.money(v, cents=False))
    return console(request).page(request, "overview.html", bundle=bundle, as_of=answers.as_of(bundle), groups=groups,
                                  customers=len(bundle.customers), trend=trend, trend_chart=trend_chart)


def _values(request: Request, name: str) -> list[str] | None:
    found = [value.strip() for value in request.query_params.getlist(name) if value.strip()]
    return found or None


def _filters(request: Request, model: type) -> Any:
    """The page's query string as the API's own request model (same names, limits and errors)."""
    query = request.query_params
    fields: dict[str, Any] = {"segments": _values(request, "segment"), "tiers": _values(request, "tier"),
                              "bands": _values(request, "band")}
    for name in ("min_clv", "search", "sort_by", "page", "limit"):
        if query.get(name, "").strip() and name in model.model_fields:
            fields[name] = query[name].strip()
    if query.get("order") in ("asc", "desc"):
        fields["descending"] = query["order"] == "desc"
    if "page_size" in model.model_fields:
        fields["page_size"] = PAGE_SIZE
    return model(**{key: value for key, value in fields.items() if value is not None})


def _bad_filters(request: Request, error: ValidationError) -> HTMLResponse:
    problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    return console(request).problem(request, 400, "These filters cannot be used", "; ".join(problems),
                                     back=request.scope.get("root_path", "") + "/churn")


@with_bundle
def churn(request: Request, bundle: Bundle) -> Response:
    try:
        filters = _filters(request, ChurnRiskRequest)
        limit = _filters(request, ChurnRiskExportRequest).limit  # "top N": the list and its export stop there
    except ValidationError as error:
        return _bad_filters(request, error)
    matching = views.churn_list(bundle, filters)
    selected = matching.iloc[:limit]
    start = (filters.page - 1) * filters.page_size
    rows = bundle.customers.rows(selected.iloc[start : start + filters.page_size])
    for row, reasons in zip(rows, selected["reasons"].iloc[start : start + filters.page_size]):
        row["reasons"] = [reason for reason in reasons.split("; ") if reason]
    segments, tiers = views.names(bundle, SEGMENT), views.names(bundle, TIER)
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    return console(request).page(
        request, "churn.html", filters=filters, rows=rows, total=len(selected), matching=len(matching), start=start,
        limit=request.query_params.get("limit", "").strip(),
        pages=max(1, -(-len(selected) // filters.page_size)), segments=segments, tiers=tiers,
        unknown_segments=views.unknown_names(filters.segments, segments),
        unknown_tiers=views.unknown_names(filters.tiers, tiers),
        query=urlencode(query),
        scored=bundle.customers.has_value_scores, as_of=answers.as_of(bundle), max_rows=MAX_CSV_ROWS,
    )


def _csv(body: str, filename: str, bundle: Bundle) -> Response:
    return Response(body, media_type="text/csv", headers=answers.export_headers(bundle, filename))


@with_bundle
def churn_csv(request: Request, bundle: Bundle) -> Response:
    try:
        filters = _filters(request, ChurnRiskExportRequest)
    except ValidationError as error:
        return _bad_filters(request, error)
    return _csv(bundle.customers.to_csv(views.churn_list(bundle, filters).iloc[: filters.limit]), "churn-risk.csv", bundle)


@with_bundle
def customer(request: Request, bundle: Bundle) -> Response:
    customer_id = request.query_params.get("id", "").strip()
    detail = views.customer_detail(bundle, customer_id) if customer_id else None
    if detail is None:
        message = f"No customer with the id “{customer_id}” bought before {console(request).formats.day(answers.as_of(bundle))}." \
            if customer_id else "Give a customer id."
        return console(request).problem(request, 404, "Customer not found", message,
                                         back=request.scope.get("root_path", "") + "/churn")
    formats = console(request).formats
    timeline = detail["timeline"]
    timeline_chart = None if timeline is None or timeline.empty else charts.column_chart(
        f"Monthly spend of customer {customer_id}", [formats.month(m, year=True) for m in timeline["month"]],
        timeline["spend"].tolist(), lambda v: formats.money(v))
    return console(request).page(request, "customer.html", customer_id=customer_id, as_of=answers.as_of(bundle),
                                  timeline_chart=timeline_chart, priced=bundle.pricing is not None, **detail)


@with_bundle
def segments(request: Request, bundle: Bundle) -> Response:
    known = views.names(bundle, SEGMENT)
    chosen = [name for name in (request.query_params.getlist("name") or [])[:2] if name]
    unknown = views.unknown_names(chosen, known)
    profiles = [views.segment_profile(bundle, name) for name in chosen if name not in unknown]
    status = 404 if unknown else 200
    return console(request).page(request, "segments.html", status, known=known, profiles=profiles, unknown=unknown,
                                  chosen=chosen, summary=views.group_summary(bundle, SEGMENT), as_of=answers.as_of(bundle))


@with_bundle
def segment_csv(request: Request, bundle: Bundle) -> Response:
    name = request.query_params.get("name", "")
    known = views.names(bundle, SEGMENT)
    if name not in known:
        close = views.unknown_names([name], known)[name]
        hint = f" Did you mean {', '.join(close)}?" if close else f" Segments: {', '.join(known)}."
        return console(request).problem(request, 404, "Unknown segment", f"No segment “{name}”.{hint}")
    selected = bundle.customers.query(segments=[name])
    return _csv(bundle.customers.to_csv(selected), f"segment-{''.join(c if c.isalnum() else '-' for c in name)}.csv", bundle)


@with_bundle
def models(request: Request, bundle: Bundle) -> Response:
    settings = console(request).settings
    retrain = None
    if settings.retrain_days:
        retrain = answers.as_of(bundle) + timedelta(days=settings.retrain_days)
    return console(request).page(request, "models.html", bundle=bundle, cards=views.model_cards(bundle),
                                  as_of=answers.as_of(bundle), retrain=retrain, mlflow=settings.mlflow_link,
                                  retrain_days=settings.retrain_days)
