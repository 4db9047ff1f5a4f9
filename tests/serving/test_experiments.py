"""Champion and challenger in one bundle: sticky assignment by customer hash, answers naming their arm."""

from __future__ import annotations

import json

import pytest

from engine.errors import ModelFormatError
from engine.feedback.assignment import assign_variant
from engine.recommend.als import ALSRecommender
from engine.recommend.popularity import PopularityRecommender
from serving.bundle import BundleIntegrityError, load_bundle
from serving.experiments import Experiment, arm_of, recommend_by_arm
from tests.serving.champions import small_shop
from tests.serving.test_bundle import _write

EXPERIMENT = Experiment(name="ab-1", challenger_share=0.3, challenger_version="7")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    shop = small_shop()
    folder = tmp_path_factory.mktemp("models")
    ALSRecommender(factors=8, iterations=3, num_threads=1).fit(shop.transactions).save(folder / "als")
    PopularityRecommender().fit(shop.transactions).save(folder / "popularity")
    return folder, sorted(shop.transactions["customer_id"].unique())


def _bundle(tmp_path, models, experiment=EXPERIMENT):
    folder, _ = models
    written = _write(tmp_path / "b", versions={"recommender": "3"}, recommender_dir=folder / "als",
                     challenger_dir=folder / "popularity" if experiment else None, experiment=experiment)
    return load_bundle(written, tag="crm-bundle:x")


def test_without_an_experiment_the_champion_answers_everyone_with_no_variant(tmp_path, models) -> None:
    bundle = _bundle(tmp_path, models, experiment=None)
    arm = arm_of(bundle, "anyone")
    assert (arm.variant, arm.model, arm.model_version) == (None, bundle.recommender, "3")
    assert bundle.experiment is None and bundle.challenger is None


def test_each_customer_gets_the_arm_of_assign_variant_every_time(tmp_path, models) -> None:
    bundle = _bundle(tmp_path, models)
    customers = models[1]
    arms = {customer: arm_of(bundle, customer) for customer in customers}
    for customer, arm in arms.items():
        assert arm.variant == assign_variant("ab-1", customer, 0.3) == arm_of(bundle, customer).variant
        assert (arm.model, arm.model_version) == ((bundle.challenger, "7") if arm.variant == "challenger" else (bundle.recommender, "3"))
    share = sum(arm.variant == "challenger" for arm in arms.values()) / len(arms)
    assert 0.2 < share < 0.4, share


def test_a_batch_is_answered_by_each_customers_arm_in_request_order(tmp_path, models) -> None:
    bundle = _bundle(tmp_path, models)
    customers = models[1][:40]
    answered = recommend_by_arm(bundle, customers, lambda model, ids: model.recommend(ids, k=3))
    assert [result.subject for result, _ in answered] == customers
    for (result, arm), customer in zip(answered, customers):
        (alone,) = arm_of(bundle, customer).model.recommend([customer], k=3)
        assert arm.variant == arm_of(bundle, customer).variant and result.item_ids == alone.item_ids
    assert {arm.variant for _, arm in answered} == {"champion", "challenger"}


def test_a_challenger_needs_an_experiment_and_a_champion(tmp_path, models) -> None:
    folder, _ = models
    with pytest.raises(ModelFormatError, match="challenger"):
        _write(tmp_path / "a", versions={}, challenger_dir=folder / "popularity", experiment=EXPERIMENT)
    with pytest.raises(ModelFormatError, match="challenger"):
        _write(tmp_path / "b", versions={"recommender": "3"}, recommender_dir=folder / "als", experiment=EXPERIMENT)


def test_a_manifest_whose_experiment_entry_is_broken_is_refused(tmp_path, models) -> None:
    bundle_dir = tmp_path / "b"
    _bundle(tmp_path, models)
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    manifest["experiment"]["challenger_share"] = 1.5
    (bundle_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleIntegrityError, match="experiment"):
        load_bundle(bundle_dir, tag="x")
