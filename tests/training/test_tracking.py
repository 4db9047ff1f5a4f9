"""The champion gate against a real (temporary) MLflow store."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pydantic import BaseModel

from engine.data.dataset import ShopData
from training import tracking


class _Config(BaseModel):
    factors: int = 8
    nested: dict = {"alpha": 1.0}


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tracking.configure(f"sqlite:///{tmp_path}/mlflow.db")
    return tmp_path


def _register(tmp_path, shop, value, name="gate-test", metric="ndcg@10", higher=True):
    model_dir = tmp_path / f"model-{value}"
    model_dir.mkdir()
    (model_dir / "manifest.json").write_text(json.dumps({"value": value}))
    with tracking.tracked_run("gate-test", _Config(), shop, seed=1):
        version = tracking.register_model(model_dir, name, metric, value, higher)
        decision = tracking.promote_if_better(name, version, metric, value, higher)
        tracking.log_gate(decision)
    return decision


def test_gate_promotes_first_then_only_better(store, tiny_transactions):
    shop = ShopData(tiny_transactions, source="tiny")
    first = _register(store, shop, 0.30)
    assert first.promoted and first.reason == "no champion yet"
    worse = _register(store, shop, 0.25)
    assert not worse.promoted and "does not beat" in worse.reason
    assert tracking.champion_version("gate-test") == first.version
    better = _register(store, shop, 0.35)
    assert better.promoted and better.champion == pytest.approx(0.30)
    assert tracking.champion_version("gate-test") == better.version
    downloaded = tracking.download_champion("gate-test", destination=store / "dl")
    assert json.loads((downloaded / "manifest.json").read_text()) == {"value": 0.35}


def test_gate_lower_is_better_and_metric_mismatch(store, tiny_transactions):
    shop = ShopData(tiny_transactions, source="tiny")
    assert _register(store, shop, 1.0, name="loss", metric="log_loss", higher=False).promoted
    assert _register(store, shop, 0.9, name="loss", metric="log_loss", higher=False).promoted
    assert not _register(store, shop, 0.95, name="loss", metric="log_loss", higher=False).promoted
    mismatch = _register(store, shop, 5.0, name="loss", metric="auc", higher=True)
    assert not mismatch.promoted and "scored on 'log_loss'" in mismatch.reason


def test_run_records_fingerprint_seed_and_config(store, tiny_transactions):
    import mlflow

    shop = ShopData(tiny_transactions, source="tiny")
    with tracking.tracked_run("rec", _Config(factors=16), shop, seed=42) as run:
        pass
    logged = mlflow.get_run(run.info.run_id)
    assert logged.data.params["factors"] == "16"
    assert logged.data.params["nested.alpha"] == "1.0"
    assert logged.data.tags["seed"] == "42"
    assert logged.data.tags["data.fingerprint"] == shop.fingerprint()
    assert pd.notna(logged.data.tags["version.numpy"])
