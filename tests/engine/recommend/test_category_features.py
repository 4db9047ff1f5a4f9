"""The rankers' category features against values computed by hand, and NaN without categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from engine.data.columns import Columns
from engine.recommend.categories import ItemCategories
from engine.recommend.category_features import (
    DISCOVERY_FEATURES,
    REPEAT_FEATURES,
    CategoryHistory,
    category_stats,
    repeat_category_features,
)

# items 0 and 1 are milks (sub-category 0), item 2 tea (1), item 3 has no category; all are drinks (0)
# but item 3, whose coarse category is unknown too
CATEGORIES = ItemCategories(
    (Columns.category, Columns.sub_category), np.array([[0, 0], [0, 0], [0, 1], [-1, -1]]), (1, 2)
)
# customer 0: item 0 at ages 30 and 10, item 1 at age 5, item 3 at age 2; customer 1: item 2 at age 7
DAYS = pd.DataFrame({"user": [0, 0, 0, 0, 1], "item": [0, 0, 1, 3, 2], "age": [30.0, 10.0, 5.0, 2.0, 7.0]})


def test_category_stats_count_days_items_and_the_first_and_last_purchase():
    stats = category_stats(DAYS, CATEGORIES.codes[:, 1]).set_index(["user", "category"])
    assert stats.loc[(0, 0)].tolist() == [3, 5, 30, 2]  # days, last, first, items
    assert stats.loc[(1, 1)].tolist() == [1, 7, 7, 1]
    assert len(stats) == 2  # item 3 has no category


def test_repeat_features_see_a_substitute_bought_since_and_the_items_share_of_its_category():
    users, items = np.array([0, 0, 0]), np.array([0, 1, 3])
    features = pd.DataFrame(repeat_category_features(CATEGORIES, DAYS, users, items, np.array([2.0, 1.0, 1.0])), columns=REPEAT_FEATURES)
    milk = features.iloc[0]
    assert milk["sub_category_days_since"] == 5  # the other milk, 5 days ago, after this one (10 days)
    assert milk["sub_category_item_share"] == pytest.approx(2 / 3)
    assert milk["sub_category_items"] == 2
    assert milk["sub_category_overdue"] == pytest.approx(5 / ((30 - 5) / 2))
    assert features.iloc[1]["category_item_share"] == pytest.approx(1 / 3)
    assert features.iloc[2].isna().all()  # no category


def test_without_categories_every_category_feature_is_missing():
    features = repeat_category_features(None, DAYS, np.array([0]), np.array([0]), np.array([2.0]))
    assert features.shape == (1, len(REPEAT_FEATURES)) and np.isnan(features).all()


def test_discovery_features_describe_the_customers_history_in_the_candidates_category():
    history = CategoryHistory.build(CATEGORIES, DAYS, 2, item_buyers=np.array([1.0, 1.0, 1.0, 1.0]))
    peers = sparse.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    users, rows, items = np.array([0, 1]), np.array([0, 1, 1]), np.array([2, 0, 3])
    visits = np.array([4.0, 1.0])
    features = pd.DataFrame(history.features(users, rows, items, visits, peers[users]), columns=DISCOVERY_FEATURES)
    tea_for_0, milk_for_1 = features.iloc[0], features.iloc[1]
    assert tea_for_0["category_share"] == pytest.approx(3 / 4)  # drinks on 3 of 4 shopping days
    assert tea_for_0["category_days_since"] == 5
    assert np.isnan(tea_for_0["sub_category_days_since"]) and tea_for_0["sub_category_share"] == 0
    assert tea_for_0["sub_category_peer_share"] == 1  # their one peer buys tea
    assert milk_for_1["sub_category_item_share"] == pytest.approx(1 / 1)  # one buyer of milk, of milk 0
    assert features.iloc[2].isna().all()  # no category


def test_the_category_source_proposes_only_items_of_the_customers_categories():
    history = CategoryHistory.build(CATEGORIES, DAYS, 2, item_buyers=np.array([2.0, 1.0, 1.0, 1.0]))
    scores = history.source_scores(np.array([0, 1]), np.array([4.0, 1.0]))
    assert np.isfinite(scores[0, :2]).all() and np.isinf(scores[0, 2:]).all()
    assert scores[0, 0] > scores[0, 1]  # more buyers within the same sub-category
    assert np.isfinite(scores[1, 2]) and np.isinf(scores[1, [0, 1, 3]]).all()
