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
