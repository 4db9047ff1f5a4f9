"""``crm serve import``, ``crm serve demo`` and ``crm bench serving`` as a user runs them: separate
processes, a temporary MLflow registry and BentoML store, small champions, a small CSV shop."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from serving import routes
from tests.serving.champions import small_shop, temporary_registry, train_recommender

pytestmark = pytest.mark.slow  # runs crm serve ... in subprocesses and starts the service

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
    done = _crm(workspace, "serve", "demo", "--data", workspace["data"])
    assert done.returncode == 0, done.stderr
    output = done.stderr
    # the demo fingerprints the default settings as `crm serve import` does: the bundle is reused
    assert "already holds these champions, data and settings: reused" in output
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


def _own_home(workspace: dict[str, object], folder: Path) -> dict[str, object]:
    """The workspace's registry with a BentoML home and temp folder of its own (other tests' bundles untouched)."""
    (folder / "tmp").mkdir(parents=True)
    return {**workspace, "env": {**workspace["env"], "BENTOML_HOME": str(folder / "bentoml"), "TMPDIR": str(folder / "tmp")}}


def _tag(done: subprocess.CompletedProcess) -> str:
    return done.stderr.split("bundle crm-bundle:", 1)[1].split()[0]


def test_a_damaged_newest_bundle_is_rebuilt_not_reused_and_pruned(workspace, tmp_path) -> None:
    space = _own_home(workspace, tmp_path)
    first = _crm(space, "serve", "import", "--data", workspace["data"])
    assert first.returncode == 0, first.stderr
    damaged = _tag(first)
    shutil.rmtree(tmp_path / "bentoml" / "models" / "crm-bundle" / damaged / "recommender")
    shown = _crm(space, "serve", "demo")  # neither shown nor packed into a Bento
    assert shown.returncode == 2 and "part 'recommender' is missing" in shown.stderr and "Traceback" not in shown.stderr
    again = _crm(space, "serve", "import", "--data", workspace["data"], "--keep", "1")
    assert again.returncode == 0, again.stderr
    assert f"not reused: bundle crm-bundle:{damaged} is incomplete, refused: part 'recommender' is missing" in again.stderr
    rebuilt = again.stderr.split("bundle crm-bundle:")[-1].split()[0]
    assert rebuilt != damaged and f"removed bundles: crm-bundle:{damaged}" in again.stderr
    assert [path.parent.name for path in (tmp_path / "bentoml" / "models" / "crm-bundle").glob("*/manifest.json")] == [rebuilt]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_failed_import_leaves_no_temporary_folder(workspace, tmp_path) -> None:
    space = _own_home(workspace, tmp_path)
    done = _crm(space, "serve", "import", "--data", str(tmp_path / "missing.csv"))
    assert done.returncode != 0 and "missing.csv" in done.stderr
    assert list((tmp_path / "tmp").iterdir()) == []


def test_an_import_stopped_by_sigterm_leaves_no_temporary_folder(workspace, tmp_path) -> None:
    import signal
    import time

    space = _own_home(workspace, tmp_path)
    child = subprocess.Popen([CRM, "serve", "import", "--data", workspace["data"]], env=space["env"], cwd=workspace["work"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any((tmp_path / "tmp").glob("crm-import-*/champions/*")) and time.monotonic() < deadline:
        time.sleep(0.02)  # wait until the champions are being downloaded into the import's folder
    child.send_signal(signal.SIGTERM)
    assert child.wait(60) == 143, child.stderr.read()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_demo_with_an_empty_store_says_what_to_run(workspace, tmp_path) -> None:
    done = _crm(_own_home(workspace, tmp_path), "serve", "demo")
    assert done.returncode == 2
    assert "no bundle crm-bundle:latest in the BentoML model store: run `crm serve import` first" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_import_without_data_or_champion_sources_says_what_to_pass(tmp_path) -> None:
    with temporary_registry(tmp_path) as uri:
        pass
    environment = {**os.environ, "MLFLOW_TRACKING_URI": uri, "BENTOML_HOME": str(tmp_path / "bentoml")}
    done = subprocess.run([CRM, "serve", "import"], env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "--data" in done.stderr


def _stored_bundles(home: Path, count: int, work: Path) -> list[str]:
    from tests.serving.test_bundle import _write
    from training.bundle_store import store_bundle

    return [store_bundle(_write(work / f"bundle-{n}"), {"n": n}, home) for n in range(count)]


def test_pruning_keeps_the_newest_bundles(tmp_path) -> None:
    from training.bundle_store import prune_bundles, stored_bundles

    home = tmp_path / "bentoml"
    tags = _stored_bundles(home, 4, tmp_path)
    removed = prune_bundles(2, home)
    assert sorted(removed) == sorted(tags[:2])
    assert [str(model.tag) for model in stored_bundles(home)] == tags[:1:-1]


def test_pruning_deletes_damaged_bundles_first_and_keeps_good_ones(tmp_path) -> None:
    from training.bundle_store import prune_bundles, stored_bundles, stored_path

    home = tmp_path / "bentoml"
    tags = _stored_bundles(home, 5, tmp_path)  # oldest first; the two newest get damaged
    (stored_path(tags[3], home) / "products.parquet").unlink()
    with (stored_path(tags[4], home) / "customers.parquet").open("r+b") as table:
        table.seek(100)
        byte = table.read(1)
        table.seek(100)
        table.write(bytes([byte[0] ^ 1]))
    removed = prune_bundles(2, home)
    assert removed == [tags[4], tags[3], tags[0]]  # the damaged ones first (newest first), then the surplus
    assert [str(model.tag) for model in stored_bundles(home)] == [tags[2], tags[1]]


def test_a_stored_copy_that_does_not_verify_is_deleted(tmp_path) -> None:
    from engine.errors import ModelFormatError
    from tests.serving.test_bundle import _write
    from training.bundle_store import store_bundle, stored_bundles

    home = tmp_path / "bentoml"
    folder = _write(tmp_path / "bundle")
    (folder / "products.parquet").unlink()  # the copy in the store lacks a part its manifest lists

    with pytest.raises(ModelFormatError, match="part 'products.parquet' is missing"):
        store_bundle(folder, {"n": 0}, home)
    assert stored_bundles(home) == []


def test_import_without_data_reloads_the_data_config_the_champions_were_trained_on(tmp_path) -> None:
    from engine.data.sources import load_shop

    folder, elsewhere = tmp_path / "shop", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    renamed = small_shop().transactions.drop(columns=["revenue"]).rename(columns={"customer_id": "cust", "product_id": "sku"})
    renamed.to_csv(folder / "orders.csv", index=False)
    (folder / "shop.yaml").write_text("source: orders.csv\ncolumns: {cust: customer_id, sku: product_id}\n")
    configured = load_shop(str(folder / "shop.yaml"))
    assert configured.source == str((folder / "shop.yaml").resolve())  # the config, not its inner CSV
    with temporary_registry(tmp_path) as uri:
        train_recommender(configured, tmp_path / "recommender")
    space = {"work": elsewhere, "env": {**os.environ, "MLFLOW_TRACKING_URI": uri, "BENTOML_HOME": str(tmp_path / "bentoml")}}
    done = _crm(space, "serve", "import")  # no --data: the recorded config, with its column map, from another folder
    assert done.returncode == 0, done.stderr
    again = _crm(space, "serve", "import", "--data", "../shop/shop.yaml")  # the same config, named from here
    assert again.returncode == 0, again.stderr
    assert f"crm-bundle:{_tag(done)} already holds these champions" in again.stderr


def test_sigterm_to_crm_serve_stops_every_process_it_started(workspace) -> None:
    """What a process supervisor does (systemd, docker stop, kill PID): no worker or ingester outlives it."""
    import signal

    import psutil

    from serving import server

    port = server.free_port()
    child = subprocess.Popen([CRM, "serve", "--port", str(port), "--workers", "2"], env=workspace["env"],
                             cwd=workspace["work"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        server.wait_ready(server.Server(child, f"http://127.0.0.1:{port}"), timeout=180)
        started = psutil.Process(child.pid).children(recursive=True)
        assert len(started) >= 4, started  # two workers, each with its ingesting process
        child.send_signal(signal.SIGTERM)
        child.wait(60)
        _, alive = psutil.wait_procs(started, timeout=30)
        assert alive == [], [process.cmdline()[:4] for process in alive]
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
