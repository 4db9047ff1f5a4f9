"""``crm serve import``, ``crm serve demo`` and ``crm bench serving`` as a user runs them: separate
processes, a temporary MLflow registry and BentoML store, small champions, a small CSV shop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from serving import routes
from tests.serving.champions import small_shop, temporary_registry, train_recommender

CRM = str(Path(sys.executable).with_name("crm"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, object]:
    """A registry with a recommender champion, the shop as a CSV file, and the environment to use them."""
    work = tmp_path_factory.mktemp("serve-command")
    shop = small_shop()
    data = work / "transactions.csv"
    shop.transactions.drop(columns=["revenue"]).to_csv(data, index=False)
    with temporary_registry(work) as uri:
        train_recommender(shop, work / "recommender")
    environment = {**os.environ, "MLFLOW_TRACKING_URI": uri, "BENTOML_HOME": str(work / "bentoml"), "OPENBLAS_NUM_THREADS": "1"}
    for variable in ("CRM_API_KEY", "MLFLOW_REGISTRY_URI", "CRM_BUNDLE"):
        environment.pop(variable, None)
    space = {"work": work, "data": str(data), "env": environment}
    space["import"] = _crm(space, "serve", "import", "--data", str(data))  # every other test serves this
    return space


def _crm(workspace: dict[str, object], *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([CRM, *arguments], env=workspace["env"], cwd=workspace["work"], capture_output=True,
                          text=True, timeout=timeout)


def test_import_stores_a_bundle_with_the_champions(workspace) -> None:
    done = workspace["import"]
    assert done.returncode == 0, done.stderr
    assert "bundle crm-bundle:" in done.stderr and "crm-recommender v1" in done.stderr
    assert "not in the bundle (no champion yet): crm-churn, crm-clv, crm-pricing" in done.stderr
    assert len(list((Path(workspace["env"]["BENTOML_HOME"]) / "models" / "crm-bundle").glob("*/manifest.json"))) == 1


def test_importing_the_same_champions_again_reuses_the_bundle(workspace) -> None:
    first = workspace["import"].stderr.split("bundle crm-bundle:", 1)[1].split()[0]
    again = _crm(workspace, "serve", "import", "--data", workspace["data"])
    assert again.returncode == 0, again.stderr
    assert f"crm-bundle:{first} already holds these champions" in again.stderr
    assert len(list((Path(workspace["env"]["BENTOML_HOME"]) / "models" / "crm-bundle").glob("*/manifest.json"))) == 1


def test_demo_calls_every_endpoint_and_stops_cleanly(workspace) -> None:
    done = _crm(workspace, "serve", "demo")
    assert done.returncode == 0, done.stderr
    output = done.stderr
    for route in (*routes.STOREFRONT, routes.PROFILE, routes.CHURN_RISK, routes.CHURN_RISK_CSV, routes.STATUS):
        assert f"{route} -H 'Content-Type: application/json'" in output, route
    assert "$ curl -s http://127.0.0.1:" in output and "/metrics" in output
    recommend = output.split(routes.RECOMMEND + " -H", 1)[1]
    assert recommend.split("\n-> ", 1)[1].startswith("200 ")
    assert "service stopped (exit code 0)" in output


def test_build_packs_the_served_bundle_into_a_bento(workspace) -> None:
    done = _crm(workspace, "serve", "build")
    assert done.returncode == 0, done.stderr
    home = Path(workspace["env"]["BENTOML_HOME"])
    latest = (home / "models" / "crm-bundle" / "latest").read_text().strip()
    (bento,) = (home / "bentos" / "crm-engine").glob("*/bento.yaml")
    manifest = yaml.safe_load(bento.read_text())
    assert [model["tag"] for model in manifest["models"]] == [f"crm-bundle:{latest}"]
    assert manifest["service"] == "serving.service:CRMService"
    # exported and imported elsewhere, the Bento brings the bundle along (no registry, no other store)
    bentoml = str(Path(sys.executable).with_name("bentoml"))
    archive, elsewhere = Path(workspace["work"]) / "crm.bento", Path(workspace["work"]) / "elsewhere"
    subprocess.run([bentoml, "export", "crm-engine:latest", str(archive)], env=workspace["env"], check=True, capture_output=True)
    subprocess.run([bentoml, "import", str(archive)], env={**workspace["env"], "BENTOML_HOME": str(elsewhere)},
                   check=True, capture_output=True)
    assert (elsewhere / "models" / "crm-bundle" / latest / "manifest.json").is_file()


def test_bench_writes_the_contract(workspace) -> None:
    out = Path(workspace["work"]) / "bench.json"
    done = _crm(workspace, "bench", "serving", "--data", workspace["data"], "--out", str(out), "--seconds", "0.3", "--no-train")
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    for endpoint in ("recommend", "recommend_batch", "profile"):
        for level in ("concurrency_1", "concurrency_8", "concurrency_32"):
            figures = result[endpoint][level]
            assert figures["requests"] > 0 and figures["rps"] > 0
            assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"]
        assert result["in_process"][f"{endpoint}_p50_ms"] > 0
    assert result["errors"] == 0
    assert result["memory_mb"]["before"] > 0 and result["memory_mb"]["after"] > 0
    assert result["setup"]["versions"]["recommender"] == "1"
    assert "price" not in result  # no pricing champion: the endpoint is not benchmarked


def test_import_without_data_or_champion_sources_says_what_to_pass(tmp_path) -> None:
    with temporary_registry(tmp_path) as uri:
        pass
    environment = {**os.environ, "MLFLOW_TRACKING_URI": uri, "BENTOML_HOME": str(tmp_path / "bentoml")}
    done = subprocess.run([CRM, "serve", "import"], env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "--data" in done.stderr


def test_pruning_keeps_the_newest_bundles(tmp_path) -> None:
    from training.commands.serving import prune_bundles, store_bundle, stored_bundles

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    home = tmp_path / "bentoml"
    tags = [store_bundle(folder, {"n": n}, home) for n in range(4)]
    removed = prune_bundles(2, home)
    assert sorted(removed) == sorted(tags[:2])
    assert [str(model.tag) for model in stored_bundles(home)] == tags[:1:-1]
