"""crm experiment report|promote|rollback against a real (temporary) MLflow registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from engine.feedback.assignment import CHALLENGER, CHAMPION, assign_variant
from engine.feedback.events import EventColumns as E
from training import tracking
from training.cli import app

MODEL = "loop-test"


def _events(challenger_rate: float, customers: int = 400, seed: int = 0) -> pd.DataFrame:
    """One request of 4 shown items per customer; each item bought with probability 0.3 (champion)
    or ``challenger_rate``."""
    rng = np.random.default_rng(seed)
    rows = []
    for number in range(customers):
        customer = f"c{number}"
        arm = assign_variant("exp", customer, 0.5)
        rate = challenger_rate if arm == CHALLENGER else 0.3
        for item in ("i1", "i2", "i3", "i4"):
            base = {E.customer_id: customer, E.request_id: f"r{number}", E.item_id: item, E.variant: arm}
            rows.append({**base, E.event_type: "rec_shown", E.value: 0.0})
            if rng.random() < rate:
                rows.append({**base, E.event_type: "rec_bought", E.value: 4.0})
    events = pd.DataFrame(rows)
    events.insert(0, E.event_id, [f"e{n}" for n in range(len(events))])
    events[E.timestamp] = "2026-11-02T10:00:00+00:00"
    return events


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One registry for the module (creating an MLflow database takes seconds); each test its own model."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('registry')}/mlflow.db"
    tracking.configure(uri)
    return uri


@pytest.fixture
def registry(store, request, tmp_path) -> tuple[str, str]:
    tracking.configure(store)
    name = f"{MODEL}-{request.node.name}"
    client = MlflowClient()
    client.create_registered_model(name)
    for _ in range(2):
        client.create_model_version(name, source=str(tmp_path))
    tracking.move_alias(name, CHAMPION, "1")
    tracking.move_alias(name, CHALLENGER, "2")
    return store, name


def _run(registry, tmp_path, action, events, *extra):
    uri, name = registry
    path = tmp_path / "events.parquet"
    events.to_parquet(path)
    return CliRunner().invoke(
        app, ["experiment", action, "--events", str(path), "--model", name, "--tracking-uri", uri, *extra]
    )


def _aliases(registry) -> dict[str, str]:
    return {alias: str(version) for alias, version in MlflowClient().get_registered_model(registry[1]).aliases.items()}


def _tags(registry, version: str) -> dict[str, str]:
    return MlflowClient().get_model_version(registry[1], version).tags


def test_report_prints_intervals_and_decision(tmp_path):
    path = tmp_path / "events.csv"
    _events(0.45).to_csv(path, index=False)
    result = CliRunner().invoke(app, ["experiment", "report", "--events", str(path), "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "decision: promote" in result.output and (tmp_path / "r.json").exists()


def test_promote_moves_the_champion_alias(registry, tmp_path):
    result = _run(registry, tmp_path, "promote", _events(0.45))
    assert result.exit_code == 0, result.output
    assert _aliases(registry) == {CHAMPION: "2"}
    tags = _tags(registry, "2")
    assert tags["experiment.decision"] == "promote" and tags["experiment.previous_champion"] == "1"
    assert tags["experiment.forced"] == "False"


def test_promote_is_refused_unless_forced_with_a_reason(registry, tmp_path):
    refused = _run(registry, tmp_path, "promote", _events(0.3))
    assert refused.exit_code == 2 and "refused to promote" in refused.output
    assert _aliases(registry) == {CHAMPION: "1", CHALLENGER: "2"}
    no_reason = _run(registry, tmp_path, "promote", _events(0.3), "--force")
    assert no_reason.exit_code == 2 and "--force needs a --reason" in no_reason.output
    forced = _run(registry, tmp_path, "promote", _events(0.3), "--force", "--reason", "new range launch")
    assert forced.exit_code == 0, forced.output
    assert _aliases(registry) == {CHAMPION: "2"}
    tags = _tags(registry, "2")
    assert tags["experiment.forced"] == "True" and tags["experiment.override_reason"] == "new range launch"


def test_rollback_removes_the_challenger(registry, tmp_path):
    refused = _run(registry, tmp_path, "rollback", _events(0.45))
    assert refused.exit_code == 2 and "refused to rollback" in refused.output
    result = _run(registry, tmp_path, "rollback", _events(0.15))
    assert result.exit_code == 0, result.output
    assert _aliases(registry) == {CHAMPION: "1"}
    assert _tags(registry, "2")["experiment.action"] == "rollback"
    again = _run(registry, tmp_path, "rollback", _events(0.15))
    assert again.exit_code == 2 and "no version under the alias 'challenger'" in again.output


def test_bad_events_file_is_a_clear_error(tmp_path):
    path = tmp_path / "events.txt"
    path.write_text("x")
    result = CliRunner().invoke(app, ["experiment", "report", "--events", str(path)])
    assert result.exit_code == 2 and "events.txt: the file has a header line but no data rows" in result.output


def test_report_reads_an_event_store_url(tmp_path):
    from engine.feedback.store import EventStore

    url = f"sqlite:///{tmp_path / 'events.sqlite'}"
    EventStore(url).append(_events(0.45))
    result = CliRunner().invoke(app, ["experiment", "report", "--events", url, "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
