"""The console's ASGI app (Starlette): its routes and middlewares.

Mounted on the BentoML service under ``/console`` (see :mod:`serving.service`); it reads the bundle the
service serves through ``bundles`` (a callable), so the console and the API always answer from the same
bundle. Pages are rendered on the server with Jinja2 (autoescaped); the only assets are the package's
own stylesheet and icon, so the content security policy allows nothing but ``'self'``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from serving.console import login, pages
from serving.console.middleware import RequireSession, SecurityHeaders
from serving.console.settings import ConsoleSettings
from serving.console.state import Bundles

STATIC = Path(__file__).parent / "static"


def create_app(bundles: Bundles | None = None, settings: ConsoleSettings | None = None) -> Starlette:
    """The console app. ``bundles`` returns the served bundle (default: the running service's);
    ``settings`` default to the environment, read at the first request (not at import)."""

    app = Starlette(
        routes=[
            Route("/", pages.overview), Route("/login", login.login_page, methods=["GET"]),
            Route("/login", login.login, methods=["POST"]), Route("/logout", login.logout, methods=["POST"]),
            Route("/churn", pages.churn), Route("/churn.csv", pages.churn_csv), Route("/customer", pages.customer),
            Route("/segments", pages.segments), Route("/segment.csv", pages.segment_csv), Route("/models", pages.models),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders), Middleware(RequireSession)],
    )
    app.state.bundles, app.state.settings, app.state.console = bundles, settings, None
    return app
