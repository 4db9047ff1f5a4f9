"""Console sessions and CSRF tokens, signed with a secret derived from the API key.

A session is a cookie ``<expiry>.<nonce>.<signature>``: it says nothing but when it ends, and only the
server can make one (HMAC-SHA256). The secret is derived from ``CRM_API_KEY``, so every worker process
accepts every worker's sessions, and changing the key ends every session. The API key itself is never
stored in the cookie, a URL or a page.

Each form carries a CSRF token bound to the session's nonce (the login form: to a short pre-login
cookie's nonce), checked on every POST; with the cookie's ``SameSite=Strict`` this is two independent
defences against cross-site form posts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "crm_console_session"
LOGIN_COOKIE = "crm_console_login"
LOGIN_SECONDS = 15 * 60  # a login form is valid this long
_DERIVATION = b"crm-console-session-v1"


@dataclass(frozen=True)
class Token:
    """A verified signed token: when it ends and its random nonce (what CSRF tokens are bound to)."""

    expires: int
    nonce: str


class Signer:
    """Makes and checks signed tokens and CSRF tokens with one server secret."""

    def __init__(self, api_key: str) -> None:
        self._secret = hmac.new(api_key.encode(), _DERIVATION, hashlib.sha256).digest()

    def _mac(self, purpose: str, text: str) -> str:
        return hmac.new(self._secret, f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()

    def issue(self, purpose: str, seconds: float, now: float | None = None) -> str:
        """A new token for ``purpose`` (``session`` or ``login``) valid ``seconds`` from now."""
        payload = f"{int((now or time.time()) + seconds)}.{secrets.token_urlsafe(18)}"
        return f"{payload}.{self._mac(purpose, payload)}"

    def verify(self, purpose: str, value: str | None, now: float | None = None) -> Token | None:
        """The token if ``value`` was issued by this server for ``purpose`` and has not expired, else None."""
        if not value or value.count(".") != 2:
            return None
        expires, nonce, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, f"{expires}.{nonce}")):
            return None
        if not expires.isdigit() or int(expires) < (now or time.time()):
            return None
        return Token(int(expires), nonce)

    def csrf(self, token: Token) -> str:
        """The CSRF token that forms shown under ``token`` carry."""
        return self._mac("csrf", token.nonce)

    def csrf_ok(self, token: Token | None, given: str | None) -> bool:
        return token is not None and bool(given) and hmac.compare_digest(self.csrf(token), str(given))

    @staticmethod
    def key_matches(expected: str, given: str) -> bool:
        """Constant-time comparison of a typed key with the configured one."""
        return hmac.compare_digest(expected.encode(), given.encode())
