"""Run-time configuration of the marketing console, read from environment variables.

| variable | default | meaning |
|---|---|---|
| ``CRM_API_KEY`` | unset | the key a marketer types into the login form (the API's key); unset: the console is closed |
| ``CRM_CONSOLE_SECURE_COOKIE`` | ``true`` | ``false`` drops the cookie's ``Secure`` flag: only for plain-http tests on localhost |
| ``CRM_CONSOLE_SESSION_HOURS`` | ``8`` | a session ends this long after the login |
| ``CRM_CONSOLE_LOCALE`` | ``en_US`` | the shop's language conventions for dates and numbers (a CLDR locale: ``de_DE``, ``fr_FR``, ...) |
| ``CRM_CONSOLE_CURRENCY`` | ``USD`` | ISO 4217 code of the shop's currency (Complete Journey is a US retailer) |
| ``CRM_CONSOLE_RETRAIN_DAYS`` | unset | days between retrains; the models page shows the next date (the bundle's as-of + this) |
| ``MLFLOW_TRACKING_URI`` | unset | an ``http(s)`` tracking server gets a link on the models page (no link for files or SQLite) |
"""

from __future__ import annotations

from collections.abc import Mapping

from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_name
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from serving.settings import from_environment

_ENV = {
    "api_key": "CRM_API_KEY",
    "secure_cookie": "CRM_CONSOLE_SECURE_COOKIE",
    "session_hours": "CRM_CONSOLE_SESSION_HOURS",
    "locale": "CRM_CONSOLE_LOCALE",
    "currency": "CRM_CONSOLE_CURRENCY",
    "retrain_days": "CRM_CONSOLE_RETRAIN_DAYS",
    "mlflow_uri": "MLFLOW_TRACKING_URI",
}


class ConsoleSettings(BaseModel):
    """What an operator configures for the console."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr | None = Field(None, description="the API key, typed into the login form")
    secure_cookie: bool = Field(True, description="session cookie only over https (false: plain-http tests)")
    session_hours: float = Field(8.0, gt=0, le=24 * 30, description="session lifetime after the login")
    locale: str = Field("en_US", description="CLDR locale of dates and numbers")
    currency: str = Field("USD", min_length=3, max_length=3, description="ISO 4217 currency code")
    retrain_days: int | None = Field(None, ge=1, le=3660, description="days between retrains (for the next date)")
    mlflow_uri: str | None = Field(None, description="MLflow tracking URI; linked when it is http(s)")

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError) as error:
            raise ValueError(f"unknown locale {value!r} (use a CLDR name such as en_US or de_DE)") from error
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if get_currency_name(value.upper(), locale="en") == value.upper():  # babel echoes unknown codes
            raise ValueError(f"unknown currency code {value!r} (use ISO 4217, such as USD or EUR)")
        return value.upper()

    @property
    def mlflow_link(self) -> str | None:
        """The tracking server's address when a browser can open it (http or https), else None."""
        uri = self.mlflow_uri or ""
        return uri.rstrip("/") if uri.startswith(("http://", "https://")) else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConsoleSettings:
        """Settings from ``environ`` (default: the process environment); empty variables count as unset."""
        return from_environment(cls, _ENV, environ, "console")
