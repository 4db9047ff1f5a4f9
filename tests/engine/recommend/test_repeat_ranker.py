"""The learned buy-again ranker: the contract, its features, and a planted regularity signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.columns import Columns
from engine.data.idmap import IdMap
from engine.data.schema import validate_transactions
from engine.data.split import TimeSplit
from engine.errors import EngineError
from engine.recommend.blend import BlendRecommender
from engine.recommend.buy_again import BuyAgainRecommender
from engine.recommend.categories import ItemCategories
from engine.recommend.category_features import REPEAT_FEATURES
from engine.recommend.evaluation import evaluate_model, relevant_items
from engine.recommend.registry import load_recommender, make_recommender
from engine.recommend.repeat_ranker import FEATURES, RepeatRankerRecommender, repeat_features

from .contract import RecommenderContract


def _ranker(label_days: int = 14, **params):
    return RepeatRankerRecommender(label_days=label_days, n_estimators=20, min_child_samples=5, **params)


class TestRepeatRanker(RecommenderContract):
    def make_model(self):
        return _ranker()


def test_features_by_hand():
    raw = pd.DataFrame(
        [
            ("a", "x", "o1", "2024-01-01", 1, 1.0),
            ("a", "x", "o2", "2024-01-11", 1, 1.0),
            ("a", "x", "o2b", "2024-01-11", 2, 1.0),  # a second order the same day: one purchase day
            ("a", "y", "o3", "2024-01-21", 1, 1.0),
            ("b", "x", "o4", "2024-01-21", 1, 1.0),
            ("b", "x", "o5", "2024-02-05", 1, 1.0),  # on or after as_of: left out
        ],
        columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price"],
    )
    tx = validate_transactions(raw)[0]
    customers, items = IdMap.from_values(["a", "b"]), IdMap.from_values(["x", "y"])
    users, columns, features = repeat_features(tx, customers, items, pd.Timestamp("2024-01-31"))
    table = pd.DataFrame(features, columns=FEATURES, index=[f"{u}{i}" for u, i in zip(users, columns)])
    ax = table.loc["00"]
    assert (ax["days_since_item"], ax["item_purchase_days"], ax["days_since_first_item"]) == (20, 2, 30)
    assert ax["item_mean_gap"] == 10 and ax["elapsed_over_gap"] == 2
    assert ax["share_of_visits"] == pytest.approx(2 / 3) and ax["customer_visits"] == 3
    assert ax["customer_days_since_visit"] == 10 and ax["customer_items"] == 2
    assert ax["item_buyers"] == 2 and ax["item_repeat_share"] == 0.5
    assert ax["item_usual_gap"] == 10 and ax["elapsed_over_usual_gap"] == 2
    assert np.isnan(table.loc["01", "item_mean_gap"]) and table.loc["10", "days_since_item"] == 10
    assert ax["decayed_7"] == pytest.approx(0.5 ** (20 / 7) + 0.5 ** (30 / 7)) and ax["elapsed_minus_gap"] == 10
    assert (ax["visits_since_item"], ax["in_last_5_visits"]) == (1, 2) and table.loc["01", "visits_since_item"] == 0
    assert (ax["customer_visit_gap"], ax["customer_overdue"], ax["customer_items_per_visit"]) == (10, 1, 1)
    assert np.isnan(ax["gap_variation"])  # one gap: no spread to measure
    assert ax["item_recent_share"] == 1.0 and table.loc["01", "item_recent_share"] == 1.0  # within 28 days
    assert np.isnan(table[list(REPEAT_FEATURES)].to_numpy()).all()  # no categories
    # x and y in one sub-category: a's x was last bought 20 days ago, but y (a substitute) 10 days ago
    categories = ItemCategories((Columns.sub_category,), np.array([[0], [0]]), (1,))
    users, columns, features = repeat_features(tx, customers, items, pd.Timestamp("2024-01-31"), categories)
    ax = pd.DataFrame(features, columns=FEATURES).iloc[0]
    assert (ax["sub_category_days_since"], ax["sub_category_item_share"], ax["sub_category_items"]) == (10, 2 / 3, 2)
    assert ax["sub_category_overdue"] == 1 and np.isnan(ax["category_days_since"])  # that level is missing


def test_a_candidate_cap_and_stacked_label_windows_keep_every_own_item_ranked(cyclic):
    capped = _ranker(label_days=6, label_windows=2, max_candidates=2).fit(cyclic)
    full = BuyAgainRecommender(half_life_days=90.0).fit(cyclic)
    assert (capped.recency_ > 0).sum() == (full.recency_ > 0).sum()  # beyond the cap, still ranked
    below = capped.recency_.copy()
    below.data[below.data >= 0.01] = 0
    assert np.diff(below.eliminate_zeros() or below.indptr).max() > 0  # some items ranked after the cap
    with pytest.raises(EngineError, match="max_candidates"):
        _ranker(max_candidates=0).fit(cyclic)
    with pytest.raises(EngineError, match="label_windows"):
        _ranker(label_windows=0).fit(cyclic)


def test_learns_which_item_is_due_better_than_buy_again(cyclic):
    split = TimeSplit.last(cyclic, holdout=3)  # who re-buys what in the next few days: the item that is due
    train, holdout = split.split(cyclic)
    relevant = relevant_items(holdout, train, "repeat")
    scores = {
        name: evaluate_model(model.fit(train, as_of=split.as_of), relevant, k=3, task="repeat")["ndcg@3"]
        for name, model in {
            "ranker": _ranker(label_days=6),
            "buy_again_30": BuyAgainRecommender(half_life_days=30.0),
            "buy_again": BuyAgainRecommender(half_life_days=None),
        }.items()
    }
    assert scores["ranker"] > 1.2 * max(scores["buy_again_30"], scores["buy_again"]), scores


def test_fits_are_reproducible_on_any_thread_count_and_a_blend_saves_it_as_its_repeat_part(cyclic, tmp_path):
    first, second = _ranker().fit(cyclic), _ranker(num_threads=2).fit(cyclic)
    assert (first.recency_ != second.recency_).nnz == 0
    blend = BlendRecommender(make_recommender("ease", {"regularization": 10.0}), _ranker(), weight=0.0).fit(cyclic)
    blend.save(tmp_path / "blend")
    loaded = load_recommender(tmp_path / "blend")
    assert isinstance(loaded.buy_again_, RepeatRankerRecommender)
    customers = ["c1", "c2", "c3"]
    assert [r.item_ids for r in loaded.recommend(customers, k=4, task="repeat")] == [
        r.item_ids for r in first.recommend(customers, k=4, task="repeat")
    ]
    assert set(loaded.buy_again_.feature_importance()) == set(FEATURES)


def test_no_repeat_in_the_label_window_is_a_clear_error(shop_lines):
    with pytest.raises(EngineError, match="label_days"):
        _ranker(label_days=1).fit(shop_lines.iloc[:5])
    with pytest.raises(EngineError, match="label_days"):
        RepeatRankerRecommender(label_days=0).fit(shop_lines)


def test_visit_features_match_a_per_customer_reference(cyclic):
    """The visit index found by binary search over (customer, day) keys, against a plain loop."""
    as_of = cyclic["timestamp"].max() - pd.Timedelta(days=5)
    customers, items = IdMap.from_values(cyclic["customer_id"].unique()), IdMap.from_values(cyclic["product_id"].unique())
    users, columns, features = repeat_features(cyclic, customers, items, as_of)
    bought = cyclic.loc[(cyclic["timestamp"] < as_of) & (cyclic["quantity"] > 0)]
    age = np.floor((as_of - bought["timestamp"]) / pd.Timedelta(days=1))
    days = pd.DataFrame({"user": customers.to_internal(bought["customer_id"].to_numpy()), "item": items.to_internal(bought["product_id"].to_numpy()), "age": age})
    since, last_5 = features[:, FEATURES.index("visits_since_item")], features[:, FEATURES.index("in_last_5_visits")]
    for row, (user, item) in enumerate(zip(users, columns)):
        shopping_days = np.sort(days.loc[days["user"] == user, "age"].unique())  # the most recent first
        item_days = days.loc[(days["user"] == user) & (days["item"] == item), "age"].unique()
        assert since[row] == np.searchsorted(shopping_days, item_days.min())
        assert last_5[row] == np.isin(item_days, shopping_days[:5]).sum()
    assert since.max() > 0 and last_5.max() > 1  # the reference is not trivially zero
