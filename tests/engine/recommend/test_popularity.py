"""Popularity baselines: bestsellers, most buyers, and within RFM segments."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import EngineError
from engine.recommend.popularity import PopularityRecommender, SegmentPopularityRecommender

from .contract import RecommenderContract


class TestPopularity(RecommenderContract):
    def make_model(self):
        return PopularityRecommender()


class TestPopularityByBuyers(RecommenderContract):
    def make_model(self):
        return PopularityRecommender(by="buyers")


class TestSegmentPopularity(RecommenderContract):
    def make_model(self):
        return SegmentPopularityRecommender()


def test_bestsellers_rank_by_purchases_and_buyers_by_distinct_customers(shop_lines):
    lines = shop_lines.assign(n=np.sign(shop_lines["quantity"]))
    net = lines.groupby(["customer_id", "product_id"])["n"].sum().clip(lower=0)
    purchases = net.groupby("product_id").sum().sort_values(ascending=False, kind="stable")
    buyers = (net > 0).groupby("product_id").sum().sort_values(ascending=False, kind="stable")
    known = sorted(set(shop_lines["customer_id"]) - {"returner"})[0]
    for model, expected in ((PopularityRecommender(), purchases), (PopularityRecommender(by="buyers"), buyers)):
        scores = model.fit(shop_lines).recommend([known], k=5, task="repeat")[0].scores
        assert list(scores) == list(expected.to_numpy()[:5].astype(float))


def test_segment_popularity_ranks_by_the_customers_own_segment(shop_lines):
    model = SegmentPopularityRecommender().fit(shop_lines)
    table = model.popularity_
    checked = set()
    for index, customer in enumerate(model.customers_.external_ids):
        segment = table.customer_segment[index]
        if segment < 0 or model.history_[index].nnz == 0:
            continue
        top = model.recommend([customer], k=1, task="repeat")[0]
        assert top.scores[0] == table.segment_purchases[segment].max()
        checked.add(int(segment))
    assert len(checked) >= 2


def test_unknown_measure_is_an_error(shop_lines):
    with pytest.raises(EngineError, match="by"):
        PopularityRecommender(by="revenue").fit(shop_lines)  # type: ignore[arg-type]
