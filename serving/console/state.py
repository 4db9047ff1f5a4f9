"""The console's state: settings, the session signer, the templates and the source of the served bundle.

Built on the first request (:func:`console_of`), so the environment is read when the service runs, not
when it is imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from serving.bundle import Bundle
from serving.console.formatting import Formats
from serving.console.session import LOGIN_COOKIE, LOGIN_SECONDS, SESSION_COOKIE, Signer, Token
from serving.console.settings import ConsoleSettings
from serving.console.throttle import LoginThrottle

Bundles = Callable[[], Bundle | None]


def _served_bundle() -> Bundle | None:
    """The bundle of the running BentoML service (the default source of the console's data)."""
    import bentoml

    return bentoml.get_current_service().holder.current


class Console:
    """The console's state: settings, signer, templates, and the source of the served bundle."""

    def __init__(self, bundles: Bundles, settings: ConsoleSettings) -> None:
        self.bundles = bundles
        self.settings = settings
        key = settings.api_key.get_secret_value() if settings.api_key else None
        self.signer = Signer(key) if key else None
        self.throttle = LoginThrottle()
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

    def login_form(self, request: Request, status: int = 401, error: str | None = None,
                   target: str | None = None) -> HTMLResponse:
        """The login page with a fresh pre-login token (the form's CSRF token is bound to it); after
        the login it goes to ``target`` (default: the page that was asked for)."""
        base = request.scope.get("root_path", "")
        if self.signer is None:
            return self.problem(request, 403, "Console closed",
                                "The server has no API key configured (CRM_API_KEY), so nobody can sign in.")
        value = self.signer.issue("login", LOGIN_SECONDS)
        token = self.signer.verify("login", value)
        if target is None:
            asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target = asked if asked.startswith(base + "/") and not asked.startswith(base + "/login") else base + "/"
        response = self.page(request, "login.html", status, login_csrf=self.signer.csrf(token), error=error, next=target)
        self.cookie(response, LOGIN_COOKIE, value, LOGIN_SECONDS, base + "/")
        return response


def console_of(app: Starlette) -> Console:
    """The app's console state, built on first use (settings are read then, not at import)."""
    state = app.state
    if getattr(state, "console", None) is None:
        state.console = Console(state.bundles or _served_bundle, state.settings or ConsoleSettings.from_env())
    return state.console


def console(request: Request) -> Console:
    """The console state of the app serving ``request``."""
    return console_of(request.app)


def with_bundle(page: Callable[[Request, Bundle], Response]) -> Callable[[Request], Awaitable[Response]]:
    """A page that reads the served bundle (taken once per request; 503 saying what to run without
    one). The page runs in a worker thread, like the API's list endpoints, so its pandas work never
    holds the event loop that answers the storefront."""

    @wraps(page)
    async def answer(request: Request) -> Response:
        bundle = console(request).bundles()
        if bundle is None:
            return console(request).problem(request, 503, "No model bundle loaded",
                                             "The service has no bundle yet: run `crm serve import`.")
        return await run_in_threadpool(page, request, bundle)

    return answer
