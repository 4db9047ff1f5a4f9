"""The champion gate against a real (temporary) MLflow store."""

from __future__ import annotations

import json
import os
import tempfile

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


def test_champion_measured_on_other_data_is_not_compared_blindly(store, tiny_transactions, random_transactions):
    assert _register(store, ShopData(tiny_transactions, source="tiny"), 0.30).promoted
    other = _register(store, ShopData(random_transactions, source="random"), 0.99)
    assert not other.promoted and "measured on other data" in other.reason


def test_rescore_compares_both_models_on_this_runs_data(store, tiny_transactions, random_transactions):
    from engine.errors import DataValidationError, ModelFormatError

    first = _register(store, ShopData(tiny_transactions, source="tiny"), 0.30)
    grown = ShopData(random_transactions, source="grown")

    def register_with(value, rescore):
        model_dir = store / f"m-{value}"
        model_dir.mkdir()
        (model_dir / "manifest.json").write_text(json.dumps({"value": value}))
        with tracking.tracked_run("gate-test", _Config(), grown, seed=1):
            version = tracking.register_model(model_dir, "gate-test", "ndcg@10", value)
            return tracking.promote_if_better("gate-test", version, "ndcg@10", value, rescore=rescore)

    # the champion re-scored on the grown data reaches 0.50 there: a 0.40 challenger loses
    seen = []
    lost = register_with(0.40, lambda folder: seen.append((folder, json.loads((folder / "manifest.json").read_text()))) or 0.50)
    assert not lost.promoted and lost.champion == 0.50 and "re-scored" in lost.reason
    assert seen[0][1] == {"value": 0.30}
    assert not seen[0][0].exists()  # the downloaded champion is removed after re-scoring
    assert tracking.champion_version("gate-test") == first.version

    def unreadable(folder):
        raise ModelFormatError("format 1, this engine reads format 2")

    def unfit_for_this_data(folder):
        raise DataValidationError("instrument 'unit_cost' has no positive value")

    kept = register_with(0.90, unfit_for_this_data)
    assert not kept.promoted and "could not be re-scored" in kept.reason
    assert tracking.champion_version("gate-test") == first.version

    replaced = register_with(0.10, unreadable)
    assert replaced.promoted and "cannot be loaded" in replaced.reason


# --- interrupted runs end FAILED ------------------------------------------------------------------------

_CHILD = """
import sys, time
from pydantic import BaseModel
from engine.data.synthetic import SyntheticShopConfig, generate_shop
from training import tracking

class Config(BaseModel):
    purpose: str = "killed on purpose"

tracking.configure()
shop = generate_shop(SyntheticShopConfig(seed=1, n_customers=50, n_products=10, n_weeks=8))
with tracking.tracked_run("killed", Config(), shop, seed=0) as run:
    print(run.info.run_id, flush=True)
    time.sleep(60)  # the pipeline's work, interrupted by the signal
"""


def _start_run_in_child(store) -> tuple:
    import os
    import subprocess
    import sys

    environment = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db", "OPENBLAS_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", _CHILD], env=environment, cwd=store, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    return child, child.stdout.readline().strip()


@pytest.mark.slow  # starts a Python process
def test_a_run_stopped_by_sigterm_ends_failed_and_says_why(store):
    import signal

    import mlflow

    child, run_id = _start_run_in_child(store)
    assert run_id, child.stderr.read()
    assert mlflow.get_run(run_id).info.status == "RUNNING"
    child.send_signal(signal.SIGTERM)
    assert child.wait(30) == 143
    assert "Traceback" not in child.stderr.read()
    run = mlflow.get_run(run_id)
    assert run.info.status == "FAILED" and run.data.tags["failure"] == "stopped by SIGTERM"


@pytest.mark.slow  # starts a Python process
def test_a_run_whose_process_was_killed_is_failed_by_the_next_run(store, tiny_transactions):
    import signal

    import mlflow

    child, run_id = _start_run_in_child(store)
    child.send_signal(signal.SIGKILL)  # nothing in the child can react
    child.wait(30)
    assert mlflow.get_run(run_id).info.status == "RUNNING"
    with tracking.tracked_run("killed", _Config(), ShopData(tiny_transactions, source="tiny"), seed=1) as run:
        pass
    killed = mlflow.get_run(run_id)
    assert killed.info.status == "FAILED" and f"process {killed.data.tags['run.pid']}" in killed.data.tags["failure"]
    assert mlflow.get_run(run.info.run_id).info.status == "FINISHED"


def test_stop_on_signals_raises_in_the_block_and_restores_the_handlers():
    import os
    import signal

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(tracking.Terminated) as stopped, tracking.stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
    assert stopped.value.code == 143
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.slow  # starts a Python process
def test_scratch_folders_are_removed_and_those_of_killed_processes_swept(tmp_path, monkeypatch):
    import socket
    import subprocess
    import sys

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    host = socket.gethostname()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left_by_a_killed_process = tmp_path / f"crm-import-{host}-{dead.stdout.strip()}-abc"
    of_a_live_process = tmp_path / f"crm-import-{host}-{os.getppid()}-abc"
    other_machine = tmp_path / f"crm-import-elsewhere-{dead.stdout.strip()}-abc"
    for folder in (left_by_a_killed_process, of_a_live_process, other_machine):
        folder.mkdir()
    with pytest.raises(RuntimeError), tracking.scratch_folder("crm-import") as scratch:
        (scratch / "big.bin").write_bytes(b"0" * 1024)
        raise RuntimeError("the import failed")
    assert not scratch.exists() and not left_by_a_killed_process.exists()
    assert of_a_live_process.exists() and other_machine.exists()


def test_a_scratch_folder_a_worker_thread_still_writes_into_is_removed_without_an_error(tmp_path, monkeypatch):
    # as MLflow's download pool does when SIGTERM unwinds the main thread mid-download
    import threading
    import time

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stop = time.monotonic() + 0.5
    with tracking.scratch_folder("crm-import") as scratch:
        (scratch / "recommender").mkdir()

        def write() -> None:
            n = 0
            while time.monotonic() < stop:
                (scratch / "recommender" / f"part-{n}").write_bytes(b"0")
                n += 1

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.05)
    writer.join()
    assert not scratch.exists()


def test_a_tracking_store_mlflow_refuses_is_named_as_the_users_setting(tmp_path, tiny_transactions):
    import mlflow

    from engine.errors import EngineError

    before = mlflow.get_tracking_uri()
    tracking.configure(f"file:{tmp_path / 'mlruns'}")  # a file store, which this MLflow no longer writes to
    try:
        with pytest.raises(EngineError, match=r"MLflow tracking store 'file:.*mlruns' \(MLFLOW_TRACKING_URI\) cannot be used"):
            with tracking.tracked_run("rec", _Config(), ShopData(tiny_transactions, source="tiny"), seed=1):
                pass
    finally:
        tracking.configure(before)
