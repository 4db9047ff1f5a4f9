"""The two-stage discovery ranker: the contract, candidates that are never the customer's own items,
features that cannot see the label window, and reproducible fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.columns import Columns
from engine.errors import EngineError
from engine.recommend.base import MODEL
from engine.recommend.blend import BlendRecommender
from engine.recommend.buy_again import BuyAgainRecommender
from engine.recommend.categories import with_product_categories
from engine.recommend.category_features import DISCOVERY_FEATURES
from engine.recommend.discovery_ranker import FEATURES, DiscoveryRankerRecommender, candidate_features
from engine.recommend.registry import load_recommender

from .contract import LearnsCoPurchases, RecommenderContract


def _ranker(**params):
    defaults = {"label_days": 28, "candidates_per_source": 10, "n_estimators": 20, "min_child_samples": 5, "factors": 8}
    return DiscoveryRankerRecommender(**{**defaults, **params})


class TestDiscoveryRanker(RecommenderContract, LearnsCoPurchases):
    def make_model(self):
        return _ranker()


def test_candidates_are_never_items_the_customer_bought(planted):
    model = _ranker()
    data = model._training_data(planted, pd.Timestamp("2024-06-01"))
    snapshot = model._snapshot(data)
    users, items, features = candidate_features(snapshot, np.arange(len(data.customers)), 10)
    assert len(users) and features.shape == (len(users), len(FEATURES))
    lines = planted.loc[planted[Columns.timestamp] < data.as_of]
    bought = set(zip(data.customers.to_internal(lines[Columns.customer].to_numpy()), data.items.to_internal(lines[Columns.item].to_numpy())))
    assert not bought & set(zip(users.tolist(), items.tolist()))
    # and every source contributed its best unbought items: at least 10 per customer
    assert np.bincount(users).min() >= 10


def test_label_window_lines_change_the_labels_never_the_features(planted):
    """Drop half of the label window's lines and add others: the window's features stay identical."""
    model = _ranker()
    as_of, start = pd.Timestamp("2024-07-01"), pd.Timestamp("2024-06-03")
    later = planted[Columns.timestamp] >= start
    rng = np.random.default_rng(0)
    altered_later = planted.loc[later].sample(frac=0.5, random_state=1)
    extra = altered_later.assign(
        **{Columns.item: rng.permutation(altered_later[Columns.item].to_numpy()), Columns.order: altered_later[Columns.order] + "x"}
    )
    altered = pd.concat([planted.loc[~later], altered_later, extra], ignore_index=True)
    queries = []
    for lines in (planted, altered):
        data = model._training_data(lines, as_of)
        users, items, features, labels = model._window_queries(data, start, as_of, np.random.default_rng(7))
        customers, catalogue = data.customers.external_ids[users], data.items.external_ids[items]
        queries.append(pd.DataFrame(features, index=pd.MultiIndex.from_arrays([customers, catalogue])).assign(label=labels).sort_index())
    original, changed = queries
    assert original.index.equals(changed.index)
    pd.testing.assert_frame_equal(original.drop(columns="label"), changed.drop(columns="label"))
    assert not original["label"].equals(changed["label"])  # the labels do come from the window


def test_fits_are_reproducible_on_any_thread_count_and_save_load_answers_the_same(planted, tmp_path):
    first, second = _ranker().fit(planted), _ranker(num_threads=2).fit(planted)
    assert (first.scores_ != second.scores_).nnz == 0 and first.scores_.nnz
    customers = sorted(set(planted[Columns.customer]))[:20]
    loaded = load_recommender(first.save(tmp_path / "ranker"))
    assert [r.item_ids for r in loaded.recommend(customers)] == [r.item_ids for r in first.recommend(customers)]


def test_a_blend_serves_its_discovery_lists_sparsely_as_the_dense_path_would(planted):
    ranker = _ranker().fit(planted)
    blend = BlendRecommender.from_fitted(ranker, BuyAgainRecommender().fit(planted))
    customers = sorted(set(planted[Columns.customer]))[:20]
    served = [r.item_ids for r in blend.recommend(customers)]
    assert served == [r.item_ids for r in ranker.recommend(customers)]
    users = blend.customers_.to_internal(customers)
    rows = blend.history_[users]
    assert blend._sparse_task(users, rows, "discovery", 10) is not None  # the fast path is taken
    dense = blend._score_task(users, rows, "discovery")
    nothing = np.empty(0, dtype=np.int64)
    expected = [blend._ranked(c, dense[i], 10, "discovery", rows[i].indices, nothing, MODEL).item_ids for i, c in enumerate(customers)]
    assert served == expected


def test_too_short_a_history_is_a_clear_error(planted):
    short = planted.loc[planted[Columns.timestamp] < pd.Timestamp("2024-01-20")]
    with pytest.raises(EngineError, match="label_days=28"):
        _ranker().fit(short)


@pytest.mark.parametrize("name", ["candidates_per_source", "label_windows", "max_train_customers"])
def test_bad_sizes_are_errors_naming_them(planted, name):
    with pytest.raises(EngineError, match=name):
        _ranker(**{name: 0}).fit(planted)


def _taste_categories(lines: pd.DataFrame) -> pd.DataFrame:
    """The planted shop's products with their taste group as category and sub-category."""
    items = lines[Columns.item].unique()
    products = pd.DataFrame({Columns.item: items, Columns.category: [i[0] for i in items], Columns.sub_category: [i.split("_")[0] for i in items]})
    return with_product_categories(lines, products)


def test_categories_add_a_source_and_features_and_without_them_those_columns_are_missing(planted):
    model = _ranker()
    columns = [FEATURES.index(name) for name in ("category_score", "category_rank", *DISCOVERY_FEATURES)]
    plain = model._training_data(planted, pd.Timestamp("2024-06-01"))
    _, _, features = candidate_features(model._snapshot(plain), np.arange(len(plain.customers)), 10)
    assert np.isnan(features[:, columns]).all()
    data = model._training_data(_taste_categories(planted), pd.Timestamp("2024-06-01"))
    users, items, features = candidate_features(model._snapshot(data), np.arange(len(data.customers)), 10)
    share = features[:, FEATURES.index("sub_category_share")]
    assert np.isfinite(share).all()
    # the category source proposes the customer's own taste group's items, which they shop in
    proposed = features[:, FEATURES.index("category_rank")] < 10
    assert proposed.any() and (share[proposed] > 0).all()


def test_a_ranker_fitted_with_categories_saves_and_serves_without_the_products_table(planted, tmp_path):
    lines = _taste_categories(planted)
    model = _ranker().fit(lines)
    assert sum(model.feature_importance()[name] for name in DISCOVERY_FEATURES) > 0
    loaded = load_recommender(model.save(tmp_path / "ranker"))
    customers = sorted(set(planted[Columns.customer]))[:20]
    assert [r.item_ids for r in loaded.recommend(customers)] == [r.item_ids for r in model.recommend(customers)]
