"""Buy it again: the customer's own items, recent purchases weighted more."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.data.schema import validate_transactions
from engine.errors import EngineError
from engine.recommend.buy_again import BuyAgainRecommender

from .contract import RecommenderContract


class TestBuyAgain(RecommenderContract):
    def make_model(self):
        return BuyAgainRecommender(half_life_days=60.0)


class TestBuyAgainWithoutDecay(RecommenderContract):
    def make_model(self):
        return BuyAgainRecommender(half_life_days=None)


def _lines(rows):
    raw = pd.DataFrame(rows, columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price"])
    return validate_transactions(raw)[0]


def test_recent_purchases_outweigh_older_frequent_ones_by_the_half_life():
    tx = _lines(
        [
            ("a", "old", "o1", "2024-01-01", 1, 1.0),
            ("a", "old", "o2", "2024-01-02", 1, 1.0),
            ("a", "new", "o3", "2024-06-28", 1, 1.0),
            ("b", "old", "o4", "2024-06-01", 1, 1.0),
            ("b", "new", "o5", "2024-06-01", 1, 1.0),
        ]
    )
    as_of = pd.Timestamp("2024-06-29")
    decayed = BuyAgainRecommender(half_life_days=30.0).fit(tx, as_of=as_of).recommend(["a"], k=2, task="repeat")[0]
    plain = BuyAgainRecommender(half_life_days=None).fit(tx, as_of=as_of).recommend(["a"], k=2, task="repeat")[0]
    assert decayed.item_ids == ("new", "old") and plain.item_ids == ("old", "new")
    assert plain.scores == (2.0, 1.0)
    assert decayed.scores[0] == pytest.approx(0.5 ** (1 / 30))
    assert decayed.scores[1] == pytest.approx(0.5 ** (180 / 30) + 0.5 ** (179 / 30))


def test_an_item_returned_in_full_is_not_bought_again():
    tx = _lines(
        [
            ("a", "kept", "o1", "2024-01-01", 1, 1.0),
            ("a", "sent-back", "o1", "2024-01-01", 1, 1.0),
            ("a", "sent-back", "o2", "2024-01-03", -1, 1.0),
            ("b", "sent-back", "o3", "2024-01-03", 1, 1.0),
        ]
    )
    result = BuyAgainRecommender().fit(tx).recommend(["a"], k=2, task="repeat")[0]
    assert result.item_ids[0] == "kept" and result.scores[1] == 0.0


def test_half_life_must_be_positive(shop_lines):
    with pytest.raises(EngineError, match="half_life_days"):
        BuyAgainRecommender(half_life_days=0).fit(shop_lines)
