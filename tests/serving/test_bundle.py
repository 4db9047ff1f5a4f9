"""Bundles: written and read back whole; the holder swaps only complete bundles and keeps the old one
when a load fails."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading

import pandas as pd
import pytest

from engine.errors import ModelFormatError
from serving.bundle import Bundle, BundleHolder, BundleIntegrityError, load_bundle, verify_bundle, write_bundle
from serving.customer_table import CustomerTable
from tests.serving.test_customer_table import _frame


def _write(directory, **overrides):
    arguments = dict(
        customers=_frame(), as_of=pd.Timestamp("2024-06-01"), entry_tier="Bronze",
        versions={"churn": "3", "clv": "2"}, data_source="unit", data_fingerprint="abc",
        products=pd.DataFrame({"product_id": ["p1", "p2"], "category": ["dairy", None]}),
    )
    arguments.update(overrides)
    return write_bundle(directory, **arguments)


def test_a_bundle_reads_back_with_its_versions_tables_and_capabilities(tmp_path) -> None:
    bundle = load_bundle(_write(tmp_path / "b"), tag="crm-bundle:one")
    assert bundle.tag == "crm-bundle:one"
    assert bundle.versions == {"recommender": None, "churn": "3", "clv": "2", "pricing": None}
    assert bundle.as_of == pd.Timestamp("2024-06-01") and bundle.entry_tier == "Bronze"
    assert bundle.customers.lookup("d")["segment"] == "Loyal"
    assert bundle.category_of("p1") == "dairy" and bundle.category_of("p2") is None
    assert bundle.capabilities == ["profile", "churn_risk"]
    assert bundle.recommender is None and bundle.pricing is None


def test_a_folder_that_is_not_a_bundle_is_refused(tmp_path) -> None:
    folder = _write(tmp_path / "b")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "kind": "als"}))
    with pytest.raises(ModelFormatError, match="crm-serving-bundle"):
        load_bundle(folder, tag="x")


def test_unknown_model_parts_are_refused(tmp_path) -> None:
    with pytest.raises(ModelFormatError, match="segments"):
        _write(tmp_path / "b", versions={"segments": "1"})


def _with_fake_model(tmp_path):
    """A bundle whose ``recommender/`` part has two files (verification never reads them as a model)."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "manifest.json").write_text("{}")
    (model / "factors.npz").write_bytes(b"\x00" * 64)
    return _write(tmp_path / "b", recommender_dir=model)


def test_the_manifest_lists_every_file_with_its_size_and_sha256(tmp_path) -> None:
    folder = _with_fake_model(tmp_path)
    files = json.loads((folder / "manifest.json").read_text())["files"]
    assert set(files) == {"customers.parquet", "products.parquet", "recommender/manifest.json", "recommender/factors.npz"}
    for name, entry in files.items():
        content = (folder / name).read_bytes()
        assert entry == {"size": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def test_a_bundle_with_a_part_deleted_is_refused_naming_the_part(tmp_path) -> None:
    folder = _with_fake_model(tmp_path)
    shutil.rmtree(folder / "recommender")
    with pytest.raises(BundleIntegrityError, match=r"bundle crm-bundle:x is incomplete, refused: part 'recommender' is "
                                                   r"missing \(2 of 2 files: recommender/factors.npz, recommender/manifest.json\)"):
        load_bundle(folder, tag="crm-bundle:x")
    (folder / "products.parquet").unlink()
    with pytest.raises(BundleIntegrityError, match="part 'products.parquet' is missing"):
        verify_bundle(folder, tag="crm-bundle:x")


def test_one_changed_byte_is_refused_naming_the_file(tmp_path) -> None:
    folder = _write(tmp_path / "b")
    table = folder / "customers.parquet"
    content = bytearray(table.read_bytes())
    content[len(content) // 2] ^= 1
    table.write_bytes(bytes(content))
    with pytest.raises(BundleIntegrityError, match=r"is damaged, refused: part 'customers.parquet' is damaged \(customers.parquet changed"):
        load_bundle(folder, tag="crm-bundle:x")


def test_files_the_manifest_does_not_list_are_ignored(tmp_path) -> None:
    folder = _write(tmp_path / "b")
    (folder / "model.yaml").write_text("name: crm-bundle\n")  # what the BentoML store adds beside it
    assert load_bundle(folder, tag="x").capabilities == ["profile", "churn_risk"]


@pytest.mark.parametrize("files", [None, {}, {"customers.parquet": {"size": 1}}, {"customers.parquet": {"size": 1, "sha256": "0"}, "../x": {"size": 1, "sha256": "0"}}])
def test_a_manifest_without_a_proper_file_list_is_refused(tmp_path, files) -> None:
    folder = _write(tmp_path / "b")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "files": files}))
    with pytest.raises(BundleIntegrityError, match="does not list the bundle's files"):
        load_bundle(folder, tag="x")


def test_errors_name_the_bundle_not_the_folder(tmp_path) -> None:
    folder = _write(tmp_path / "b")
    (folder / "manifest.json").write_text("{ not json")
    with pytest.raises(BundleIntegrityError) as refused:
        load_bundle(folder, tag="crm-bundle:x")
    assert "crm-bundle:x" in str(refused.value) and str(tmp_path) not in str(refused.value)
    (folder / "manifest.json").unlink()
    with pytest.raises(BundleIntegrityError, match="crm-bundle:x is incomplete: its manifest.json is missing"):
        load_bundle(folder, tag="crm-bundle:x")


def test_the_holder_refuses_a_partial_bundle_and_keeps_serving_the_good_one(tmp_path) -> None:
    folders = {"good": _write(tmp_path / "good"), "partial": _write(tmp_path / "partial")}
    (folders["partial"] / "products.parquet").unlink()
    holder = BundleHolder(lambda reference: load_bundle(folders[reference], reference))
    assert holder.load("good").ok
    outcome = holder.load("partial")
    assert not outcome.ok and "part 'products.parquet' is missing" in outcome.error
    assert holder.current.tag == "good" and holder.current.category_of("p1") == "dairy"


def _bundle(tag: str) -> Bundle:
    return Bundle(tag=tag, as_of=pd.Timestamp("2024-06-01"), versions={}, customers=CustomerTable.from_frame(_frame()),
                  entry_tier="Bronze")


def test_the_holder_swaps_to_a_new_bundle_and_old_references_stay_whole() -> None:
    holder = BundleHolder(_bundle)
    assert holder.current is None
    assert holder.load("v1").ok
    in_flight = holder.current
    assert holder.load("v2").ok
    assert holder.current.tag == "v2"
    assert in_flight.tag == "v1" and in_flight.customers.lookup("a") is not None


def test_a_failed_load_keeps_the_old_bundle_and_says_why() -> None:
    def loader(reference: str) -> Bundle:
        if reference == "broken":
            raise ModelFormatError("recommender/manifest.json is not valid JSON")
        return _bundle(reference)

    holder = BundleHolder(loader)
    holder.load("v1")
    outcome = holder.load("broken")
    assert not outcome.ok and "not valid JSON" in outcome.error and outcome.bundle == "broken"
    assert holder.current.tag == "v1"
    assert holder.last_attempt == outcome


def test_a_reader_never_sees_a_half_built_bundle() -> None:
    building, release = threading.Event(), threading.Event()

    def loader(reference: str) -> Bundle:
        if reference == "v2":
            building.set()
            release.wait(5)
        return _bundle(reference)

    holder = BundleHolder(loader)
    holder.load("v1")
    worker = threading.Thread(target=holder.load, args=("v2",))
    worker.start()
    building.wait(5)
    assert holder.current.tag == "v1"  # still the old one while the new one is being built
    release.set()
    worker.join(5)
    assert holder.current.tag == "v2"


def test_a_bundle_carries_its_purchase_timeline_and_the_champions_evaluation(tmp_path) -> None:
    timeline = pd.DataFrame({"customer_id": ["b", "a", "a"], "month": pd.to_datetime(["2024-05-01", "2024-05-01", "2024-04-01"]),
                             "spend": [3.0, 2.0, 1.0], "orders": [1, 1, 1]})
    evaluation = {"churn": {"metric": "test_auc", "value": 0.7}}
    bundle = load_bundle(_write(tmp_path / "b", timeline=timeline, evaluation=evaluation), tag="t")
    assert bundle.timeline.of("a")["spend"].tolist() == [1.0, 2.0], "months in order"
    assert bundle.timeline.of("nobody").empty
    assert bundle.evaluation == evaluation
    older = load_bundle(_write(tmp_path / "c"), tag="t")
    assert older.timeline is None and older.evaluation == {}
