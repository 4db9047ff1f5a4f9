"""The login form (the API key, once, in a POST with a CSRF token; failures limited per client by
:mod:`serving.console.throttle`) and the sign-out."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from serving.console.session import LOGIN_COOKIE, SESSION_COOKIE
from serving.console.state import console

FAILED_LOGIN_DELAY = 0.2  # seconds: slows guessing a little (the key itself should be long)


def _inside(target: str, base: str) -> str:
    """``target`` if it is a page of this console (no open redirect), else the overview."""
    return target if target.startswith(base + "/") and not target.startswith("//") else base + "/"


async def login_page(request: Request) -> Response:
    state = console(request)
    if state.session(request) is not None:
        return RedirectResponse(request.scope.get("root_path", "") + "/", status_code=303)
    return state.login_form(request, status=200)


async def login(request: Request) -> Response:
    state = console(request)
    base = request.scope.get("root_path", "")
    if state.signer is None:
        return state.login_form(request)
    form = await request.form()
    target = _inside(str(form.get("next") or ""), base)
    client = request.client.host if request.client else "unknown"
    if (wait := state.throttle.retry_after(client)) is not None:
        refused = state.login_form(request, 429, f"Too many failed sign-ins from your address; try again in {wait} seconds.", target)
        refused.headers["Retry-After"] = str(wait)
        return refused
    pre = state.signer.verify("login", request.cookies.get(LOGIN_COOKIE))
    if not state.signer.csrf_ok(pre, form.get("csrf")):
        return state.login_form(request, 403, "The form expired or did not come from this console; please sign in again.", target)
    if not state.signer.key_matches(state.settings.api_key.get_secret_value(), str(form.get("api_key") or "")):
        state.throttle.failed(client)
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        return state.login_form(request, 401, "That is not the API key.", target)
    response = RedirectResponse(target, status_code=303)
    seconds = int(state.settings.session_hours * 3600)
    state.cookie(response, SESSION_COOKIE, state.signer.issue("session", seconds), seconds, base + "/")
    response.delete_cookie(LOGIN_COOKIE, path=base + "/")
    return response


async def logout(request: Request) -> Response:
    state = console(request)
    form = await request.form()
    if not state.signer or not state.signer.csrf_ok(state.session(request), form.get("csrf")):
        return state.problem(request, 403, "Not signed out", "The form did not come from this session.")
    base = request.scope.get("root_path", "")
    response = RedirectResponse(base + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=base + "/")
    return response
