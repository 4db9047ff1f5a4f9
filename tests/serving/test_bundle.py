"""Bundles: written and read back whole; the holder swaps only complete bundles and keeps the old one
when a load fails."""

from __future__ import annotations

import json
import threading

import pandas as pd
import pytest

from engine.errors import ModelFormatError
from serving.bundle import Bundle, BundleHolder, load_bundle, write_bundle
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
