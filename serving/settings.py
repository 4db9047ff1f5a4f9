"""Run-time configuration of the service, read from environment variables (never hard-coded secrets).

| variable | default | meaning |
|---|---|---|
| ``CRM_API_KEY`` | unset | key the marketing endpoints require in the ``X-API-Key`` header; unset: they refuse everyone |
| ``CRM_STOREFRONT_OPEN`` | ``true`` | ``false``: the storefront endpoints require the key too |
| ``CRM_BUNDLE`` | ``crm-bundle:latest`` | the bundle (BentoML model tag) to serve; a fixed version pins it |
| ``CRM_RELOAD_SECONDS`` | ``30`` | how often a worker looks for a newer bundle under ``latest``; ``0``: never |
| ``CRM_PERSONAL_ANSWERS_NEED_KEY`` | ``true`` | a price with a ``customer_id`` and ``task=repeat`` recommendations need the key even on an open storefront |
| ``CRM_MAX_BODY_BYTES`` | ``1048576`` | larger request bodies are refused with 413 (the largest valid request, a full price batch, is ~0.3 MiB); ``POST /v1/events`` has room for 1,000 of the longest valid events, ~3.7 MB (:func:`serving.events.body_limit`) |
| ``CRM_EVENTS_URL`` | ``sqlite:///<BentoML home>/events.sqlite`` | SQLAlchemy URL of the feedback event store (:mod:`serving.events`) |
| ``CRM_CONSOLE_*``, ``MLFLOW_TRACKING_URI`` | | the marketing console's settings (:mod:`serving.console.settings`) |

This is the one place the service's environment is read: the API, its middlewares, the console and the
``crm serve`` commands all take their settings from one :class:`ServingSettings` (:func:`current`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.errors import EngineError

BUNDLE_NAME = "crm-bundle"
API_KEY_HEADER = "x-api-key"
ENV_PREFIX = "CRM_"


class SettingsError(EngineError):
    """An environment variable of the service has a value it cannot use (the message names it)."""


class ServingSettings(BaseSettings):
    """What an operator configures; everything else (limits, routes) is part of the documented API.
    Each field is read from ``CRM_<FIELD>`` (pydantic-settings); an empty variable counts as unset."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True, env_ignore_empty=True,
                                      populate_by_name=True)

    api_key: SecretStr | None = Field(None, description="key for marketing endpoints (X-API-Key header)")
    storefront_open: bool = Field(True, description="storefront endpoints answer without a key")
    bundle: str = Field(f"{BUNDLE_NAME}:latest", min_length=1, description="BentoML model tag of the bundle")
    reload_seconds: float = Field(30.0, ge=0, description="interval of the check for a newer bundle; 0: off")
    personal_answers_need_key: bool = Field(
        True,
        description="answers built from one customer's own records (the customer's price offer, which shows "
        "their segment or tier; repeat recommendations, which list their purchases) need the key even on an "
        "open storefront, because customer ids are easy to guess",
    )
    max_body_bytes: int = Field(2**20, ge=2**10, le=2**26, description="largest request body accepted (bytes)")
    events_url: str | None = Field(None, description="SQLAlchemy URL of the event store; None: a SQLite file "
                                   "next to the model store (serving.events.default_events_url)")

    # the console's own settings, checked further by serving.console.settings.ConsoleSettings
    console_secure_cookie: bool = Field(True, description="console session cookie only over https")
    console_session_hours: float = Field(8.0, description="console session lifetime after the login (hours)")
    console_locale: str = Field("en_US", description="CLDR locale of the console's dates and numbers")
    console_currency: str = Field("USD", description="ISO 4217 code of the shop's currency")
    console_retrain_days: int | None = Field(None, description="days between retrains (the console shows the next date)")
    mlflow_tracking_uri: str | None = Field(None, validation_alias="MLFLOW_TRACKING_URI",
                                            description="MLflow tracking URI; the console links it when it is http(s)")

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def follows_latest(self) -> bool:
        """True when the bundle is not pinned, so a newer import is picked up by the reload check."""
        return self.bundle.endswith(":latest") or ":" not in self.bundle

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServingSettings:
        """Settings from ``environ`` (default: the process environment); empty variables count as unset.
        A bad value is a :class:`SettingsError` naming the variable."""
        try:
            if environ is None:
                return cls()
            values = {name: environ[variable(name)] for name in cls.model_fields if environ.get(variable(name), "").strip()}
            return cls.model_validate(values)  # validates the mapping alone, without reading os.environ
        except ValidationError as error:
            problems = "; ".join(f"{variable(str(e['loc'][0]))}: {e['msg']}" for e in error.errors())
            raise SettingsError(f"invalid service configuration: {problems}") from error


def variable(field: str) -> str:
    """The environment variable of a settings field (``api_key`` -> ``CRM_API_KEY``; a field with an
    alias is read from the alias: ``mlflow_tracking_uri`` -> ``MLFLOW_TRACKING_URI``)."""
    alias = ServingSettings.model_fields[field].validation_alias if field in ServingSettings.model_fields else None
    return alias if isinstance(alias, str) else f"{ENV_PREFIX}{field.upper()}"


@cache
def current() -> ServingSettings:
    """The process's settings, read from the environment once (the service, its middlewares and the
    ``crm serve`` commands all ask here)."""
    return ServingSettings.from_env()
