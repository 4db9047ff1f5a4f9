"""Packaged default configs: read when no --config is given, identical to the checkout's configs/."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.customers.config import ChurnConfig, ClvConfig
from training.commands.segments import SegmentsConfig
from training.config import ConfigError, default_config_text, load_config
from training.pricing import PricingConfig
from training.recommender import RecommenderConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("model", [ChurnConfig, ClvConfig, PricingConfig, SegmentsConfig, RecommenderConfig])
def test_without_a_path_the_packaged_default_file_is_read(model):
    assert load_config(None, model) == load_config(CONFIGS / model.default_file, model)


def test_the_packaged_defaults_are_the_checkouts_configs():
    for path in CONFIGS.glob("*.yaml"):
        assert default_config_text(path.name) == path.read_text(encoding="utf-8")


def test_the_default_file_is_read_not_the_field_defaults():
    # configs/pricing.yaml lists the bench's design family; the field default has one design only
    assert load_config(None, PricingConfig).bench != PricingConfig().bench


def test_a_missing_packaged_default_is_named():
    with pytest.raises(ConfigError, match="defaults/nope.yaml"):
        default_config_text("nope.yaml")
