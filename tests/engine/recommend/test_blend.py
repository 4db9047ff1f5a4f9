"""The blend: discovery exactly as its collaborative model, repeat mixes buy-again in."""

from __future__ import annotations

import pytest

from engine.errors import EngineError
from engine.recommend.als import ALSRecommender
from engine.recommend.blend import BlendRecommender
from engine.recommend.buy_again import BuyAgainRecommender
from engine.recommend.ease import EASERecommender

from .contract import LearnsCoPurchases, RecommenderContract


def _ease(max_items: int | None = None) -> EASERecommender:
    return EASERecommender(regularization=10.0, max_items=max_items)


class TestBlend(RecommenderContract, LearnsCoPurchases):
    def make_model(self):
        return BlendRecommender(_ease(), BuyAgainRecommender(half_life_days=60.0), weight=0.3)


class TestBlendWithRepeatPartner(RecommenderContract):
    def make_model(self):
        partner = ALSRecommender(factors=8, iterations=5, weighting="linear", num_threads=1)
        return BlendRecommender(_ease(max_items=12), BuyAgainRecommender(), weight=0.3, repeat_collaborative=partner)


def test_discovery_is_exactly_the_collaborative_ranking(planted):
    blend = BlendRecommender(_ease(max_items=12), BuyAgainRecommender(), weight=0.3).fit(planted)
    alone = _ease(max_items=12).fit(planted)
    customers = list(alone.customers_.external_ids)
    ours = [r.item_ids for r in blend.recommend(customers, k=5)]
    theirs = [r.item_ids for r in alone.recommend(customers, k=5)]
    assert ours == theirs
    # the blend's catalogue is buy-again's (all items); EASE keeps its 12 most bought
    assert blend.n_items > alone.n_items == 12


def test_repeat_weight_zero_is_buy_again_and_one_is_the_collaborative_model(shop_lines):
    customers = sorted(set(shop_lines["customer_id"]) - {"returner"})[:15]
    buy_again = BuyAgainRecommender().fit(shop_lines)
    collaborative = EASERecommender(regularization=10.0).fit(shop_lines)
    blend = BlendRecommender(EASERecommender(regularization=10.0), BuyAgainRecommender(), weight=0.0).fit(shop_lines)
    assert [r.item_ids[:3] for r in blend.recommend(customers, k=3, task="repeat")] == [
        r.item_ids[:3] for r in buy_again.recommend(customers, k=3, task="repeat")
    ]
    blend.set_weight(1.0)
    assert [r.item_ids for r in blend.recommend(customers, k=3, task="repeat")] == [
        r.item_ids for r in collaborative.recommend(customers, k=3, task="repeat")
    ]


def test_from_fitted_parts_equals_fitting_the_blend(shop_lines):
    customers = sorted(set(shop_lines["customer_id"]))[:15]
    fitted = BlendRecommender(EASERecommender(regularization=10.0), BuyAgainRecommender(), 0.4).fit(shop_lines)
    composed = BlendRecommender.from_fitted(
        EASERecommender(regularization=10.0).fit(shop_lines), BuyAgainRecommender().fit(shop_lines), 0.4
    )
    for task in ("discovery", "repeat"):
        assert [r.item_ids for r in fitted.recommend(customers, task=task)] == [
            r.item_ids for r in composed.recommend(customers, task=task)
        ]


def test_weight_outside_zero_one_and_a_blend_inside_a_blend_are_errors(shop_lines):
    with pytest.raises(EngineError, match="weight"):
        BlendRecommender(_ease(), weight=1.5).fit(shop_lines)
    with pytest.raises(EngineError, match="collaborative"):
        BlendRecommender(BlendRecommender(_ease())).fit(shop_lines)


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_the_sparse_repeat_lists_equal_scoring_every_item(planted, weight):
    partner = ALSRecommender(factors=8, iterations=5, weighting="linear", num_threads=1)
    blend = BlendRecommender(_ease(max_items=12), BuyAgainRecommender(), weight, repeat_collaborative=partner).fit(planted)
    customers = list(blend.customers_.external_ids)
    excluded = list(blend.items_.external_ids[:2])
    users = blend.customers_.to_internal(customers)
    assert blend._sparse_task(users, blend.history_[users], "repeat", 5) is not None  # the sparse path is taken
    sparse_lists = blend.recommend(customers, k=5, task="repeat", exclude=excluded)
    blend._sparse_task = lambda *args: None  # the dense path: every item scored
    dense_lists = blend.recommend(customers, k=5, task="repeat", exclude=excluded)
    assert [r.item_ids for r in sparse_lists] == [r.item_ids for r in dense_lists]
    for ours, theirs in zip(sparse_lists, dense_lists):
        assert ours.scores == pytest.approx(theirs.scores)
