"""Service settings come from the environment; bad values are refused naming the variable."""

from __future__ import annotations

import pytest

from serving.settings import ServingSettings, SettingsError


def test_defaults_keep_marketing_closed_and_follow_the_latest_bundle() -> None:
    settings = ServingSettings.from_env({})
    assert settings.api_key is None
    assert settings.storefront_open is True
    assert settings.bundle == "crm-bundle:latest"
    assert settings.follows_latest
    assert settings.reload_seconds == 30.0
    assert settings.personal_answers_need_key is True
    assert settings.max_body_bytes == 2**20


def test_values_are_read_from_the_environment() -> None:
    settings = ServingSettings.from_env(
        {"CRM_API_KEY": "s3cret", "CRM_STOREFRONT_OPEN": "false", "CRM_BUNDLE": "crm-bundle:abc", "CRM_RELOAD_SECONDS": "0"}
    )
    assert settings.api_key.get_secret_value() == "s3cret"
    assert settings.storefront_open is False
    assert not settings.follows_latest
    assert settings.reload_seconds == 0


def test_the_key_is_not_shown_in_reprs() -> None:
    assert "s3cret" not in repr(ServingSettings.from_env({"CRM_API_KEY": "s3cret"}))


def test_an_empty_variable_counts_as_unset() -> None:
    assert ServingSettings.from_env({"CRM_API_KEY": "  ", "CRM_RELOAD_SECONDS": ""}).api_key is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CRM_STOREFRONT_OPEN", "maybe"), ("CRM_RELOAD_SECONDS", "-1"), ("CRM_RELOAD_SECONDS", "often"),
     ("CRM_PERSONAL_ANSWERS_NEED_KEY", "perhaps"), ("CRM_MAX_BODY_BYTES", "10"), ("CRM_MAX_BODY_BYTES", "1e12")],
)
def test_a_bad_value_is_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        ServingSettings.from_env({variable: value})


def test_personal_answers_and_the_body_limit_are_configurable() -> None:
    settings = ServingSettings.from_env({"CRM_PERSONAL_ANSWERS_NEED_KEY": "false", "CRM_MAX_BODY_BYTES": "4096"})
    assert settings.personal_answers_need_key is False and settings.max_body_bytes == 4096


def test_the_console_takes_its_settings_from_the_one_service_source(monkeypatch) -> None:
    from serving.console.settings import ConsoleSettings
    from serving.settings import current

    monkeypatch.setenv("CRM_API_KEY", "first")
    monkeypatch.setenv("CRM_CONSOLE_LOCALE", "de_DE")
    current.cache_clear()
    try:
        console = ConsoleSettings.from_env()
        monkeypatch.setenv("CRM_API_KEY", "second")  # read once, for the service and the console alike
        assert console.api_key.get_secret_value() == current().api_key.get_secret_value() == "first"
        assert ConsoleSettings.from_env().api_key.get_secret_value() == "first" and console.locale == "de_DE"
        assert ConsoleSettings.of(ServingSettings(api_key="k", mlflow_tracking_uri="https://m/")).mlflow_link == "https://m"
    finally:
        current.cache_clear()


def test_the_tracking_uri_is_read_from_mlflows_own_variable() -> None:
    assert ServingSettings.from_env({"MLFLOW_TRACKING_URI": "http://tracking:5000"}).mlflow_tracking_uri == "http://tracking:5000"
    assert ServingSettings.from_env({"CRM_MLFLOW_TRACKING_URI": "http://elsewhere"}).mlflow_tracking_uri is None
