"""The pricing fit's public API in the engine (no training/ import needed) and its settings."""

from __future__ import annotations

import typing

import pydantic
import pytest

import engine
from engine.pricing import PricingSettings, fit_pricing
from engine.pricing.fit import Weekday
from engine.pricing.panel import WEEKDAYS


def test_the_fit_is_public_in_the_engine():
    assert {"fit_pricing", "PricingSettings", "summarize_elasticities"} <= set(engine.__all__)
    assert engine.fit_pricing is fit_pricing


def test_the_settings_weekdays_are_the_panels_and_a_typo_names_itself():
    assert typing.get_args(Weekday) == WEEKDAYS
    with pytest.raises(pydantic.ValidationError, match="choice_alfa"):
        PricingSettings(choice_alfa=0.1)
    with pytest.raises(pydantic.ValidationError, match="bench"):
        PricingSettings(bench={})  # the bench section belongs to training's PricingConfig
