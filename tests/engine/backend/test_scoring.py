"""Batch scoring on the local backend: every customer, chunk by chunk, the loaded models' answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.backend import LocalBackend, scoring
from engine.customers.scoring import CHURN_PROBABILITY, EXPECTED_CLV, RISK_BAND, VALUE_AT_RISK, RiskBands, features_and_clv
from engine.customers.view import default_as_of
from engine.recommend.registry import make_recommender
from tests.engine.customers.conftest import churn_model, clv_model, small_shop, small_snapshots  # noqa: F401


@pytest.fixture(scope="module")
def scoring_inputs(small_shop, churn_model, clv_model, tmp_path_factory):  # noqa: F811
    """The customers to score (known ones, then three the recommender never saw) and the saved models."""
    lines = small_shop.transactions
    features, value = features_and_clv(lines, churn_model, clv_model, default_as_of(lines), small_shop.products)
    folder = tmp_path_factory.mktemp("models")
    recommender = make_recommender("popularity").fit(lines)
    customers = features.assign(**{EXPECTED_CLV: value})
    unknown = customers.iloc[:3].rename(index=lambda c: f"new-{c}")
    return pd.concat([customers, unknown]), churn_model.save(folder / "churn"), recommender, recommender.save(folder / "rec")


def test_every_customer_is_scored_chunk_by_chunk_as_the_models_score_them(scoring_inputs, churn_model, tmp_path, monkeypatch):  # noqa: F811
    customers, churn_dir, recommender, recommender_dir = scoring_inputs
    monkeypatch.setattr(scoring, "CUSTOMERS_PER_CHUNK", 40)  # several part files
    written = LocalBackend().score_to_parquet(customers, churn_dir, tmp_path / "scores", recommender_dir, 5, RiskBands())

    assert written == len(customers) and len(list((tmp_path / "scores").glob("part-*.parquet"))) == -(-len(customers) // 40)
    scores = pd.read_parquet(tmp_path / "scores").set_index("customer_id")
    assert scores.index.tolist() == customers.index.astype(str).tolist()
    known = customers.iloc[:-3]
    np.testing.assert_allclose(scores[CHURN_PROBABILITY].iloc[:-3], churn_model.predict_proba(known.drop(columns=EXPECTED_CLV)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(scores[VALUE_AT_RISK], scores[CHURN_PROBABILITY] * scores[EXPECTED_CLV])
    assert set(scores[RISK_BAND]) <= {"low", "medium", "high"}
    expected = recommender.recommend(customers.index.astype(str).tolist(), k=5)
    assert scores["top_items"].map(list).tolist() == [list(r.item_ids) for r in expected]
    assert (scores["top_source"].iloc[-3:] == "cold_start_global").all()


def test_a_small_high_band_is_merged_over_the_whole_population_not_per_chunk(scoring_inputs, churn_model, tmp_path, monkeypatch):  # noqa: F811
    customers, churn_dir, _, _ = scoring_inputs
    probability = churn_model.predict_proba(customers.drop(columns=EXPECTED_CLV))
    bands = RiskBands(medium=float(np.quantile(probability, 0.5)), high=float(np.quantile(probability, 0.9)))
    high = int((probability >= bands.high).sum())
    too_small = bands.model_copy(update={"min_customers": high + 1})  # every chunk alone holds fewer
    monkeypatch.setattr(scoring, "CUSTOMERS_PER_CHUNK", 40)

    for chosen in (bands, too_small):
        population = chosen.for_population(probability)
        LocalBackend().score_to_parquet(customers, churn_dir, tmp_path / "scores", None, 5, population)
        written = pd.read_parquet(tmp_path / "scores")[RISK_BAND].to_numpy()
        assert written.tolist() == chosen.assign_population(probability).tolist()
        assert ("high" in written) is (not population.high_as_medium)
    assert high > 1 and too_small.small_high_band(probability) and not bands.small_high_band(probability)
