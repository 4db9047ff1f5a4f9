"""The console's ASGI app (Starlette): routes, the login, the session check and the security headers.

Mounted on the BentoML service under ``/console`` (see :mod:`serving.service`); it reads the bundle the
service serves through ``bundles`` (a callable), so the console and the API always answer from the same
bundle. Pages are rendered on the server with Jinja2 (autoescaped); the only assets are the package's
own stylesheet, so the content security policy allows nothing but ``'self'``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import wraps
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from serving import answers
from serving.bundle import Bundle
from serving.console import charts, views
from serving.console.formatting import Formats
from serving.console.session import LOGIN_COOKIE, LOGIN_SECONDS, SESSION_COOKIE, Signer, Token
from serving.console.settings import ConsoleSettings
from serving.customer_table import SEGMENT, TIER
from serving.schemas import MAX_CSV_ROWS, ChurnRiskExportRequest, ChurnRiskRequest

PREFIX = "/console"
STATIC = Path(__file__).parent / "static"
PAGE_SIZE = 50
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}
PAGE_CACHING = "no-store"  # pages and exports hold personal data
ASSET_CACHING = "public, max-age=3600"  # the stylesheet and the icon
Bundles = Callable[[], Bundle | None]


def _served_bundle() -> Bundle | None:
    """The bundle of the running BentoML service (the default source of the console's data)."""
    import bentoml

    return bentoml.get_current_service().holder.current


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every answer of the console (pages, files, errors), and a
    ``Server-Timing`` header with the console's own time for the request (``crm bench console``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        caching = ASSET_CACHING if "/static/" in scope.get("path", "") else PAGE_CACHING
        started = time.perf_counter()

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                elapsed = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
                wanted = {**SECURITY_HEADERS, "cache-control": caching, "server-timing": elapsed}
                extra = [(k.encode(), v.encode()) for k, v in wanted.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


class RootRedirect:
    """``GET /`` of the service goes to the console (BentoML would show its Swagger page there)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] in ("GET", "HEAD"):
            await RedirectResponse(PREFIX + "/", status_code=307)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class Console:
    """The console's state: settings, signer, templates, and the source of the served bundle."""

    def __init__(self, bundles: Bundles, settings: ConsoleSettings) -> None:
        self.bundles = bundles
        self.settings = settings
        key = settings.api_key.get_secret_value() if settings.api_key else None
        self.signer = Signer(key) if key else None
        self.formats = Formats(settings.locale, settings.currency)
        self.templates = Environment(loader=PackageLoader("serving.console", "templates"), autoescape=True)
        self.templates.filters.update(self.formats.filters())

    # --- rendering ------------------------------------------------------------------------------------

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        token = self.session(request)
        html = self.templates.get_template(template).render(
            base=request.scope.get("root_path", ""), csrf=self.signer.csrf(token) if token and self.signer else "",
            signed_in=token is not None, path=request.url.path, **context,
        )
        return HTMLResponse(html, status_code=status)

    def problem(self, request: Request, status: int, title: str, message: str, **context: Any) -> HTMLResponse:
        return self.page(request, "problem.html", status, title=title, message=message, **context)

    # --- sessions -------------------------------------------------------------------------------------

    def session(self, request: Request) -> Token | None:
        if self.signer is None:
            return None
        return self.signer.verify("session", request.cookies.get(SESSION_COOKIE))

    def cookie(self, response: Response, name: str, value: str, seconds: int, path: str) -> None:
        response.set_cookie(name, value, max_age=seconds, path=path, secure=self.settings.secure_cookie,
                            httponly=True, samesite="strict")

    def login_form(self, request: Request, status: int = 401, error: str | None = None) -> HTMLResponse:
        """The login page with a fresh pre-login token (the form's CSRF token is bound to it)."""
        base = request.scope.get("root_path", "")
        if self.signer is None:
            return self.problem(request, 403, "Console closed",
                                "The server has no API key configured (CRM_API_KEY), so nobody can sign in.")
        value = self.signer.issue("login", LOGIN_SECONDS)
        token = self.signer.verify("login", value)
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = wanted if wanted.startswith(base + "/") and not wanted.startswith(base + "/login") else base + "/"
        response = self.page(request, "login.html", status, login_csrf=self.signer.csrf(token), error=error,
                             next=request.query_params.get("next") if request.method == "POST" else target)
        self.cookie(response, LOGIN_COOKIE, value, LOGIN_SECONDS, base + "/")
        return response


def console_of(app: Starlette) -> Console:
    """The app's console state, built on first use (settings are read then, not at import)."""
    state = app.state
    if getattr(state, "console", None) is None:
        state.console = Console(state.bundles or _served_bundle, state.settings or ConsoleSettings.from_env())
    return state.console


def _console(request: Request) -> Console:
    return console_of(request.app)


def with_bundle(page: Callable[[Request, Bundle], Response]) -> Callable[[Request], Awaitable[Response]]:
    """A page that reads the served bundle (taken once per request; 503 saying what to run without
    one). The page runs in a worker thread, like the API's list endpoints, so its pandas work never
    holds the event loop that answers the storefront."""

    @wraps(page)
    async def answer(request: Request) -> Response:
        bundle = _console(request).bundles()
        if bundle is None:
            return _console(request).problem(request, 503, "No model bundle loaded",
                                             "The service has no bundle yet: run `crm serve import`.")
        return await run_in_threadpool(page, request, bundle)

    return answer


# --- login -------------------------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    console = _console(request)
    if console.session(request) is not None:
        return RedirectResponse(request.scope.get("root_path", "") + "/", status_code=303)
    return console.login_form(request, status=200)


async def login(request: Request) -> Response:
    console = _console(request)
    base = request.scope.get("root_path", "")
    if console.signer is None:
        return console.login_form(request)
    form = await request.form()
    pre = console.signer.verify("login", request.cookies.get(LOGIN_COOKIE))
    if not console.signer.csrf_ok(pre, form.get("csrf")):
        return console.login_form(request, 403, "The form expired or did not come from this console; please sign in again.")
    key = str(form.get("api_key") or "")
    if not console.signer.key_matches(console.settings.api_key.get_secret_value(), key):
        await asyncio.sleep(0.2)  # slows guessing a little (the key itself should be long)
        return console.login_form(request, 401, "That is not the API key.")
    wanted = str(form.get("next") or "")
    target = wanted if wanted.startswith(base + "/") and not wanted.startswith("//") else base + "/"
    response = RedirectResponse(target, status_code=303)
    seconds = int(console.settings.session_hours * 3600)
    console.cookie(response, SESSION_COOKIE, console.signer.issue("session", seconds), seconds, base + "/")
    response.delete_cookie(LOGIN_COOKIE, path=base + "/")
    return response


async def logout(request: Request) -> Response:
    console = _console(request)
    form = await request.form()
    if not console.signer or not console.signer.csrf_ok(console.session(request), form.get("csrf")):
        return console.problem(request, 403, "Not signed out", "The form did not come from this session.")
    response = RedirectResponse(request.scope.get("root_path", "") + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path", "") + "/")
    return response


# --- pages -------------------------------------------------------------------------------------------


@with_bundle
def overview(request: Request, bundle: Bundle) -> Response:
    formats = _console(request).formats
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
    return _console(request).page(request, "overview.html", bundle=bundle, as_of=answers.as_of(bundle), groups=groups,
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
    return _console(request).problem(request, 400, "These filters cannot be used", "; ".join(problems),
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
    return _console(request).page(
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
        message = f"No customer with the id “{customer_id}” bought before {_console(request).formats.day(answers.as_of(bundle))}." \
            if customer_id else "Give a customer id."
        return _console(request).problem(request, 404, "Customer not found", message,
                                         back=request.scope.get("root_path", "") + "/churn")
    formats = _console(request).formats
    timeline = detail["timeline"]
    timeline_chart = None if timeline is None or timeline.empty else charts.column_chart(
        f"Monthly spend of customer {customer_id}", [formats.month(m, year=True) for m in timeline["month"]],
        timeline["spend"].tolist(), lambda v: formats.money(v))
    return _console(request).page(request, "customer.html", customer_id=customer_id, as_of=answers.as_of(bundle),
                                  timeline_chart=timeline_chart, priced=bundle.pricing is not None, **detail)


@with_bundle
def segments(request: Request, bundle: Bundle) -> Response:
    known = views.names(bundle, SEGMENT)
    chosen = [name for name in (request.query_params.getlist("name") or [])[:2] if name]
    unknown = views.unknown_names(chosen, known)
    profiles = [views.segment_profile(bundle, name) for name in chosen if name not in unknown]
    status = 404 if unknown else 200
    return _console(request).page(request, "segments.html", status, known=known, profiles=profiles, unknown=unknown,
                                  chosen=chosen, summary=views.group_summary(bundle, SEGMENT), as_of=answers.as_of(bundle))


@with_bundle
def segment_csv(request: Request, bundle: Bundle) -> Response:
    name = request.query_params.get("name", "")
    known = views.names(bundle, SEGMENT)
    if name not in known:
        close = views.unknown_names([name], known)[name]
        hint = f" Did you mean {', '.join(close)}?" if close else f" Segments: {', '.join(known)}."
        return _console(request).problem(request, 404, "Unknown segment", f"No segment “{name}”.{hint}")
    selected = bundle.customers.query(segments=[name])
    return _csv(bundle.customers.to_csv(selected), f"segment-{''.join(c if c.isalnum() else '-' for c in name)}.csv", bundle)


@with_bundle
def models(request: Request, bundle: Bundle) -> Response:
    settings = _console(request).settings
    retrain = None
    if settings.retrain_days:
        retrain = answers.as_of(bundle) + timedelta(days=settings.retrain_days)
    return _console(request).page(request, "models.html", bundle=bundle, cards=views.model_cards(bundle),
                                  as_of=answers.as_of(bundle), retrain=retrain, mlflow=settings.mlflow_link,
                                  retrain_days=settings.retrain_days)


PUBLIC = ("/login", "/static/")


class RequireSession:
    """Every route but the login and the stylesheet answers 401 with the login form without a session."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            inner = scope["path"][len(scope.get("root_path", "")):] if scope["path"].startswith(scope.get("root_path", "")) else scope["path"]
            if not inner.startswith(PUBLIC):
                request = Request(scope, receive)
                console = console_of(scope["app"])
                if console.session(request) is None:
                    await console.login_form(request)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(bundles: Bundles | None = None, settings: ConsoleSettings | None = None) -> Starlette:
    """The console app. ``bundles`` returns the served bundle (default: the running service's);
    ``settings`` default to the environment, read at the first request (not at import)."""

    app = Starlette(
        routes=[
            Route("/", overview), Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]), Route("/churn", churn), Route("/churn.csv", churn_csv),
            Route("/customer", customer), Route("/segments", segments), Route("/segment.csv", segment_csv),
            Route("/models", models), Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders), Middleware(RequireSession)],
    )
    app.state.bundles, app.state.settings, app.state.console = bundles, settings, None
    return app
