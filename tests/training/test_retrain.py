"""``crm retrain`` on a small synthetic shop with the real pipelines: dependency order, nothing re-run
on unchanged data, and a resume after a real failure that re-runs only what failed or was blocked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from serving.bundle import MODEL_NAMES
from tests.serving.champions import small_shop, temporary_registry
from training import retrain as R
from training.cli import app
from training.commands.data import DataArgs

pytestmark = pytest.mark.slow  # crm retrain with the real pipelines and MLflow (minutes on a loaded machine)


class Recorder:
    """Runs each step for real (``run_crm``) and remembers which step it was, in order."""

    def __init__(self, out: Path) -> None:
        self.commands = {tuple(step.words(out)): step.name for step in R.STEPS}
        self.steps: list[str] = []

    def __call__(self, words: list[str]) -> None:
        self.steps.append(next(name for command, name in self.commands.items() if tuple(words[: len(command)]) == command))
        R.run_crm(words)


def _must_not_load() -> None:
    raise AssertionError("the data's bytes are unchanged: the retrain must not read it again")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, object]:
    work = tmp_path_factory.mktemp("retrain")
    shop = small_shop()
    data = work / "shop.csv"
    shop.transactions.drop(columns=["revenue"]).to_csv(data, index=False)
    with pytest.MonkeyPatch.context() as patch, temporary_registry(work) as uri:
        patch.setenv("BENTOML_HOME", str(work / "bentoml"))
        patch.delenv("CRM_BUNDLE", raising=False)
        options = R.RetrainOptions(DataArgs(str(data)), work / "out", tracking_uri=uri)
        first = Recorder(work / "out")
        outcome = R.retrain(options, DataArgs(str(data)).load, runner=first)
        yield {"work": work, "data": data, "uri": uri, "options": options, "first": first, "outcome": outcome, "shop": shop}


def test_every_step_runs_once_in_dependency_order(workspace) -> None:
    order = workspace["first"].steps
    assert order == list(R.STEP_NAMES)
    position = {name: order.index(name) for name in order}
    for step in R.STEPS:
        assert all(position[before] < position[step.name] for before in step.after), step.name
    assert {name: result["status"] for name, result in workspace["outcome"].items()} == dict.fromkeys(R.STEP_NAMES, R.DONE)
    client = MlflowClient(workspace["uri"])
    for name in MODEL_NAMES.values():
        assert client.get_model_version_by_alias(name, "champion") is not None
    assert (workspace["options"].out / "churn_list.csv").is_file()


def test_unchanged_data_and_config_run_nothing(workspace) -> None:
    again = Recorder(workspace["options"].out)
    outcome = R.retrain(workspace["options"], _must_not_load, runner=again)
    assert again.steps == []
    assert {result["status"] for result in outcome.values()} == {R.SKIPPED}


def test_changed_data_changes_every_step_key(workspace, tmp_path) -> None:
    options = workspace["options"]
    shorter = tmp_path / "shop.csv"
    lines = workspace["data"].read_text().splitlines()
    shorter.write_text("\n".join(lines[:-50]) + "\n")  # the same shop without its last 50 lines
    keys_before = {name: entry["key"] for name, entry in R.State(options.out / R.STATE_FILE).steps.items()}
    moved = R.RetrainOptions(DataArgs(str(shorter)), options.out, tracking_uri=options.tracking_uri)
    fingerprint = R.data_fingerprint(DataArgs(str(shorter)).load())
    keys: dict[str, str] = {}
    for step in R.STEPS:
        keys[step.name] = R.step_key(step, R.command_line(step, moved), fingerprint, keys)
    assert all(keys[name] != keys_before[name] for name in R.STEP_NAMES)
    assert R.source_digest(DataArgs(str(shorter))) != R.source_digest(DataArgs(str(workspace["data"])))
    assert R.source_digest(DataArgs(str(workspace["data"]), column_map="a=b")) != R.source_digest(DataArgs(str(workspace["data"])))
    assert R.source_digest(DataArgs("synthetic:3")) is None  # generated: always loaded and fingerprinted


def test_resume_after_a_failure_reruns_only_what_failed(workspace) -> None:
    options = workspace["options"]
    state_path = options.out / R.STATE_FILE
    churn_folder = options.out / "churn"
    shutil.rmtree(churn_folder)
    churn_folder.write_text("a file where the churn pipeline writes its folder")  # the pipeline cannot save: a real failure
    forced = R.RetrainOptions(options.data, options.out, tracking_uri=options.tracking_uri, steps=("churn", "churn-list"), force=True)
    failed = R.retrain(forced, DataArgs(str(workspace["data"])).load, runner=Recorder(options.out))
    assert failed["churn"]["status"] == R.FAILED and "churn" in failed["churn"]["error"]
    assert failed["churn-list"] == {"status": R.BLOCKED, "blocked_by": ["churn"]}
    state = json.loads(state_path.read_text())["steps"]
    assert state["churn"]["status"] == R.FAILED and state["clv"]["status"] == R.DONE
    churn_folder.unlink()
    result = CliRunner().invoke(app, ["retrain", "--data", str(workspace["data"]), "--out", str(options.out),
                                      "--tracking-uri", str(workspace["uri"])])
    assert result.exit_code == 0, result.output
    assert "churn: crm train churn" in result.output and "clv: unchanged" in result.output
    assert "segments: unchanged" in result.output and "recommender: unchanged" in result.output
    assert "churn-list: crm churn-list" in result.output and "serve-import: unchanged" in result.output
    state = json.loads(state_path.read_text())["steps"]
    assert {entry["status"] for entry in state.values()} == {R.DONE}


def test_if_breach_runs_nothing_without_a_breach(workspace, tmp_path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"breaches": []}))
    result = CliRunner().invoke(app, ["retrain", "--data", str(workspace["data"]), "--out", str(tmp_path / "out"),
                                      "--if-breach", str(report)])
    assert result.exit_code == 0 and "nothing to retrain" in result.output and not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, ["retrain", "--if-breach", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "no monitoring report" in result.output
    result = CliRunner().invoke(app, ["retrain", "--data", str(workspace["data"]), "--steps", "churn,nope", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown step(s) ['nope']" in result.output
