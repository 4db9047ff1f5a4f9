"""Batch scoring with mapInPandas to Parquet: every customer, the local models' answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.backend.spark.scoring import TOP_ITEMS, TOP_SOURCE, score_to_parquet
from engine.customers.scoring import CHURN_PROBABILITY, EXPECTED_CLV, VALUE_AT_RISK, features_and_clv
from engine.customers.view import default_as_of
from engine.recommend.registry import make_recommender

pytestmark = pytest.mark.spark


def test_every_customer_is_scored_as_the_local_models_score_them(spark, small_shop, churn_model, clv_model, tmp_path):
    lines = small_shop.transactions
    features, value = features_and_clv(lines, churn_model, clv_model, default_as_of(lines), small_shop.products)
    churn_dir = churn_model.save(tmp_path / "churn")
    recommender = make_recommender("popularity").fit(lines)
    recommender_dir = recommender.save(tmp_path / "recommender")
    customers = features.assign(**{EXPECTED_CLV: value}).iloc[:-3]
    unknown = customers.iloc[:3].rename(index=lambda c: f"new-{c}")  # scored, but not in the recommender
    written = score_to_parquet(spark, pd.concat([customers, unknown]), churn_dir, tmp_path / "scores", recommender_dir, k=5)

    scores = pd.read_parquet(tmp_path / "scores").set_index("customer_id").loc[[*customers.index.astype(str), *unknown.index]]
    assert written == len(customers) + len(unknown) == len(scores)
    np.testing.assert_allclose(scores[CHURN_PROBABILITY].iloc[: len(customers)], churn_model.predict_proba(customers), rtol=0, atol=1e-12)
    np.testing.assert_allclose(scores[VALUE_AT_RISK], scores[CHURN_PROBABILITY] * scores[EXPECTED_CLV])
    assert scores[[CHURN_PROBABILITY, EXPECTED_CLV]].notna().all().all()
    expected = recommender.recommend([*customers.index.astype(str), *unknown.index], k=5)
    assert scores[TOP_ITEMS].map(list).tolist() == [list(r.item_ids) for r in expected]
    assert (scores.loc[unknown.index, TOP_SOURCE] == "cold_start_global").all()
