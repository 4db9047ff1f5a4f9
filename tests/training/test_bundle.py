"""The bundle's settings fingerprint: one function, unset settings resolved from the packaged defaults,
so ``crm serve demo`` (nothing given) and ``crm serve import`` (configs read) share a bundle."""

from __future__ import annotations

import pytest

from engine.customers.config import ChurnConfig
from engine.customers.scoring import RiskBands
from training import config as config_module
from training.bundle import bundle_settings, settings_fingerprint
from training.commands.segments import SegmentsConfig
from training.config import load_config


def test_demo_and_import_fingerprint_the_same_settings_the_same_way():
    demo = settings_fingerprint()  # crm serve demo --data: nothing given
    imported = settings_fingerprint(load_config(None, SegmentsConfig), load_config(None, ChurnConfig).risk_bands)
    assert demo == imported


def test_unset_settings_follow_the_packaged_configs_not_the_class_defaults(monkeypatch):
    original = config_module.default_config_text

    def edited(name: str) -> str:
        text = original(name)
        return text.replace("medium: 0.3", "medium: 0.25") if name == "churn.yaml" else text

    monkeypatch.setattr(config_module, "default_config_text", edited)
    assert bundle_settings()[1] == RiskBands(medium=0.25, high=0.6)
    assert settings_fingerprint() != settings_fingerprint(SegmentsConfig(), RiskBands())


@pytest.mark.parametrize("bands", [RiskBands(medium=0.2, high=0.5)])
def test_given_settings_are_used_as_given(bands):
    assert bundle_settings(bands=bands)[1] is bands
