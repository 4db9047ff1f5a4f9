"""The shop's conventions for money, numbers and dates, and the console's settings."""

from __future__ import annotations

from datetime import date

import pytest

from serving.console.formatting import MISSING, Formats
from serving.console.settings import ConsoleSettings
from serving.settings import SettingsError


def test_us_and_german_conventions() -> None:
    us, de = Formats(), Formats("de_DE", "EUR")
    assert us.money(1234.5) == "$1,234.50" and us.money(1234.5, cents=False) == "$1,234"
    assert de.money(1234.5).replace("\xa0", " ") == "1.234,50 €"
    assert us.share(0.256) == "25.6%" and de.share(0.256).replace("\xa0", " ") == "25,6 %"
    assert us.day(date(2026, 12, 5)) == "Dec 5, 2026" and de.day(date(2026, 12, 5)) == "05.12.2026"
    assert us.number(12345.678, 1) == "12,345.7"
    assert us.money(None) == us.share(float("nan")) == MISSING


def test_settings_name_the_variable_that_is_wrong() -> None:
    assert ConsoleSettings.from_env({"CRM_CONSOLE_LOCALE": "fr_FR", "CRM_CONSOLE_CURRENCY": "eur"}).currency == "EUR"
    for variable, value in (("CRM_CONSOLE_LOCALE", "xx_YY"), ("CRM_CONSOLE_CURRENCY", "ZZZ"),
                            ("CRM_CONSOLE_SECURE_COOKIE", "perhaps"), ("CRM_CONSOLE_RETRAIN_DAYS", "0")):
        with pytest.raises(SettingsError, match=variable):
            ConsoleSettings.from_env({variable: value})


def test_only_a_web_tracking_server_gets_a_link() -> None:
    assert ConsoleSettings(mlflow_uri="https://mlflow.example/").mlflow_link == "https://mlflow.example"
    assert ConsoleSettings(mlflow_uri="sqlite:///mlflow.db").mlflow_link is None
