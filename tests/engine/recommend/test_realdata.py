"""MovieLens-100k with the classic protocol: the collaborative models must clearly beat popularity
(figures near the published ones come from ``crm bench recommender``, not from this test)."""

from __future__ import annotations

import pytest

from engine.data.sources import load_shop
from engine.recommend.evaluation import evaluate_model, relevant_items, stratified_split
from engine.recommend.registry import make_recommender
from tests.conftest import shared_data


@pytest.mark.realdata
def test_movielens_classic_protocol_ease_and_als_beat_popularity():
    shop = load_shop(f"movielens:{shared_data('ml-100k/u.data')}")
    train, test = stratified_split(shop.transactions, 0.75, seed=42)
    known = set(train["customer_id"])
    relevant = {c: items for c, items in relevant_items(test, task="repeat").items() if c in known}
    assert len(relevant) > 900
    scores = {}
    candidates = {
        "popularity": {},
        "ease": {"regularization": 300.0},
        "als": {"regularization": 10.0, "weighting": "linear"},
    }
    for kind, params in candidates.items():
        model = make_recommender(kind, params).fit(train)
        scores[kind] = evaluate_model(model, relevant, k=10, task="discovery")["ndcg@10"]
    assert scores["ease"] > 1.6 * scores["popularity"]
    assert scores["als"] > 1.5 * scores["popularity"]
