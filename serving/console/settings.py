"""Run-time configuration of the marketing console: its part of the service's settings
(:class:`serving.settings.ServingSettings`, the one reader of the environment; the key is the API's).

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
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from serving.settings import ServingSettings, SettingsError, current, variable

# console field -> the ServingSettings field it comes from
_SOURCE = {
    "api_key": "api_key",
    "secure_cookie": "console_secure_cookie",
    "session_hours": "console_session_hours",
    "locale": "console_locale",
    "currency": "console_currency",
    "retrain_days": "console_retrain_days",
    "mlflow_uri": "mlflow_tracking_uri",
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
    def of(cls, settings: ServingSettings) -> ConsoleSettings:
        """The console's part of the service's settings; a bad value is a :class:`SettingsError` naming
        its environment variable."""
        values = {field: getattr(settings, source) for field, source in _SOURCE.items()}
        try:
            return cls(**{field: value for field, value in values.items() if value is not None})
        except ValidationError as error:
            problems = "; ".join(f"{variable(_SOURCE[str(e['loc'][0])])}: {e['msg']}" for e in error.errors())
            raise SettingsError(f"invalid console configuration: {problems}") from error

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConsoleSettings:
        """The console's settings from ``environ``, default the process's settings (:func:`serving.settings.current`,
        read once for the service and the console); empty variables count as unset."""
        return cls.of(current() if environ is None else ServingSettings.from_env(environ))
