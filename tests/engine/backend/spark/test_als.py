"""Spark ML's implicit ALS behind the engine's ALS model: the parameter mapping, recall@10 against
the popularity baseline and implicit's ALS, the saved files serving loads, and cold customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from engine.backend import use_backend
from engine.backend.spark.als import MIN_RATING, spark_ratings, spark_reg_param
from engine.data.schema import validate_transactions
from engine.recommend.als import ALSRecommender
from engine.recommend.metrics import hit_matrix, recall_at_k
from engine.recommend.registry import load_recommender, make_recommender

pytestmark = pytest.mark.spark
ALS_PARAMS = {"factors": 16, "regularization": 1.0, "iterations": 10, "weighting": "linear", "random_state": 7}
# Spark's per-customer penalty (regParam x interactions) and its own random start make its factors
# differ from implicit's: recall@10 may trail implicit's by at most this much (absolute)
RECALL_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """240 customers in 6 taste groups of 20 items; each buys 8 of their group's items (skewed to the
    group's favourites) and 2 random ones; 2 further items of their group are held out."""
    rng = np.random.default_rng(5)
    rows, held = [], {}
    weights = 1.0 / np.arange(1, 21)
    for customer in range(240):
        group = customer % 6
        items = rng.choice(20, size=10, replace=False, p=weights / weights.sum())
        for position, item in enumerate(items[:8]):
            rows.append((f"u{customer}", f"g{group}i{item}", f"o{customer}-{position}", "2024-03-01", 1 + position % 3, 2.0))
        for position, item in enumerate(rng.choice(120, size=2, replace=False)):
            rows.append((f"u{customer}", f"g{item // 20}i{item % 20}", f"o{customer}-n{position}", "2024-03-02", 1, 2.0))
        held[f"u{customer}"] = {f"g{group}i{item}" for item in items[8:]}
    raw = pd.DataFrame(rows, columns=["customer_id", "product_id", "order_id", "timestamp", "quantity", "unit_price"])
    return validate_transactions(raw)[0], held


@pytest.fixture(scope="module")
def spark_als(backend, planted):
    with use_backend(backend):
        return make_recommender("als", ALS_PARAMS).fit(planted[0])


def _recall(model, held: dict[str, set[str]]) -> float:
    customers = sorted(held)
    lists = [r.item_ids for r in model.recommend(customers, k=10)]
    return recall_at_k(*hit_matrix(lists, [held[c] for c in customers], 10))


def test_confidence_mapping_gives_spark_the_engine_weights():
    weighted = sparse.csr_matrix(np.array([[3.0, 0.0, 1.0], [0.0, 0.5, 2.0]], dtype=np.float32))
    ratings = spark_ratings(weighted)
    # Spark's confidence 1 + alpha * r with alpha = 1: the weight itself where >= 1, ~1 below
    np.testing.assert_allclose(1 + ratings["rating"], [3.0, 1 + MIN_RATING, 1 + MIN_RATING, 2.0])
    assert spark_reg_param(weighted, regularization=4.0) == pytest.approx(2.0)  # 2 interactions per customer


def test_spark_als_recall_matches_implicit_and_beats_popularity(spark_als, planted, tmp_path):
    lines, held = planted
    popularity = _recall(make_recommender("popularity").fit(lines), held)
    local = _recall(make_recommender("als", ALS_PARAMS).fit(lines), held)
    model = spark_als
    spark = _recall(model, held)
    assert spark >= popularity and spark >= local - RECALL_TOLERANCE, (spark, local, popularity)
    assert spark > 2 * popularity  # the planted groups are learned, not only the bestsellers
    # saved as an ordinary ALS model: serving's loader gives the local class the same answers
    loaded = load_recommender(model.save(tmp_path / "als"))
    assert type(loaded) is ALSRecommender
    assert _recall(loaded, held) == spark


def test_spark_als_cold_and_new_customers_get_finite_scores(spark_als):
    model = spark_als
    cold = model.recommend(["never-seen"], k=10)[0]
    assert cold.cold_start and len(cold.item_ids) == 10 and np.isfinite(cold.scores).all()
    folded = model.recommend_from_items(["g0i1", "g0i2"], k=10)
    assert np.isfinite(folded.scores).all() and len(folded.item_ids) == 10
    assert np.isfinite(model.user_factors_).all() and np.isfinite(model.item_factors_).all()
