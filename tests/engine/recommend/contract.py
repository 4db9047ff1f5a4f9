"""The interface contract every recommender passes: each model's test class inherits
:class:`RecommenderContract` and says how to build the model (``make_model``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.split import TimeSplit
from engine.errors import EngineError, NotFittedError
from engine.recommend.base import (
    COLD_START_GLOBAL,
    COLD_START_SEGMENT,
    MODEL,
    UNKNOWN_ITEM,
    Recommendations,
    RecommenderModel,
)
from engine.recommend.evaluation import evaluate_model, relevant_items
from engine.recommend.registry import load_recommender, make_recommender
from tests.engine.contract import EngineModelContract


class RecommenderContract(EngineModelContract):
    """Shared tests (the engine's estimator contract included); subclasses define ``make_model``."""

    def make_model(self) -> RecommenderModel:
        raise NotImplementedError

    def use_unfitted(self, model: RecommenderModel) -> object:
        return model.recommend(["1"])

    @pytest.fixture
    def fitted(self, shop_lines: pd.DataFrame) -> RecommenderModel:
        return self.make_model().fit(shop_lines)

    @staticmethod
    def customers(shop_lines: pd.DataFrame) -> list[str]:
        return sorted(set(shop_lines["customer_id"]) - {"returner"})[:12]

    # --- fitting --------------------------------------------------------------------------------

    def test_fit_returns_self_and_unfitted_use_raises(self, shop_lines):
        model = self.make_model()
        for call in (lambda: model.recommend(["1"]), lambda: model.similar_items(["p1"]), lambda: model.save("x")):
            with pytest.raises(NotFittedError):
                call()
        assert model.fit(shop_lines) is model
        assert model.n_items > 0

    def test_init_only_stores_params_and_spec_rebuilds_it(self):
        model = self.make_model()
        assert not any(name.endswith("_") and not name.startswith("_") for name in vars(model))
        rebuilt = make_recommender(**model.spec())
        assert rebuilt.spec() == model.spec()

    def test_fit_rejects_empty_or_incomplete_transactions(self, shop_lines):
        with pytest.raises(EngineError, match="empty"):
            self.make_model().fit(shop_lines.iloc[:0])
        with pytest.raises(EngineError, match="timestamp"):
            self.make_model().fit(shop_lines.drop(columns="timestamp"))

    # --- recommending ------------------------------------------------------------------------------

    def test_recommendations_are_ranked_unique_catalogue_items(self, fitted, shop_lines):
        for result in fitted.recommend(self.customers(shop_lines), k=5, task="repeat"):
            assert isinstance(result, Recommendations) and result.source == MODEL
            assert 0 < len(result.item_ids) <= 5 and len(set(result.item_ids)) == len(result.item_ids)
            assert all(item in fitted.items_ for item in result.item_ids)
            assert list(result.scores) == sorted(result.scores, reverse=True)

    def test_discovery_never_returns_a_seen_item(self, fitted, shop_lines):
        for result in fitted.recommend(self.customers(shop_lines), k=8, task="discovery"):
            history = fitted.history_[fitted.customers_.index_of(result.subject)]
            assert history.nnz > 0
            assert not set(fitted.items_.to_external(history.indices)) & set(result.item_ids)

    def test_k_larger_than_catalogue_returns_what_is_eligible(self, fitted, shop_lines):
        customer = self.customers(shop_lines)[0]
        repeat = fitted.recommend([customer], k=10_000, task="repeat")[0]
        discovery = fitted.recommend([customer], k=10_000, task="discovery")[0]
        seen = fitted.history_[fitted.customers_.index_of(customer)].nnz
        assert len(repeat.item_ids) <= fitted.n_items
        assert len(discovery.item_ids) <= fitted.n_items - seen

    def test_exclude_list_is_respected_and_unknown_ids_in_it_ignored(self, fitted, shop_lines):
        customer = self.customers(shop_lines)[0]
        first = fitted.recommend([customer], k=3, task="repeat")[0]
        again = fitted.recommend([customer], k=3, task="repeat", exclude=[first.item_ids[0], "no-such-item"])[0]
        assert first.item_ids[0] not in again.item_ids
        assert again.item_ids[:2] == first.item_ids[1:3]

    def test_unknown_customer_gets_global_or_segment_cold_start(self, fitted, shop_lines):
        cold = fitted.recommend(["stranger"], k=4)[0]
        assert cold.source == COLD_START_GLOBAL and cold.cold_start
        assert list(cold.item_ids) == list(fitted.items_.to_external(np.argsort(fitted.popularity_.rank)[:4]))
        segment = str(fitted.popularity_.segment_names[0])
        in_segment = fitted.recommend(["stranger"], k=4, segments={"stranger": segment})[0]
        assert in_segment.source == COLD_START_SEGMENT

    def test_known_customer_with_empty_history_gets_their_segment(self, fitted):
        result = fitted.recommend(["returner"], k=3)[0]
        assert result.source == COLD_START_SEGMENT and len(result.item_ids) == 3

    def test_unknown_item_gets_an_empty_flagged_answer(self, fitted):
        known, unknown = fitted.similar_items([fitted.items_.external_ids[0], "no-such-item"], k=3)
        assert known.source == MODEL and 0 < len(known.item_ids) <= 3
        assert fitted.items_.external_ids[0] not in known.item_ids
        assert unknown.source == UNKNOWN_ITEM and unknown.item_ids == () and "no-such-item" in unknown.reason

    def test_customer_seen_after_training_is_folded_in_from_their_items(self, fitted):
        items = list(fitted.items_.external_ids[:3])
        folded = fitted.recommend_from_items(items, k=4, customer_id="new")
        assert folded.source == MODEL and folded.subject == "new"
        assert not set(items) & set(folded.item_ids)
        cold = fitted.recommend_from_items(["no-such-item"], k=4)
        assert cold.source == COLD_START_GLOBAL

    def test_bad_arguments_raise_engine_errors_naming_them(self, fitted):
        with pytest.raises(EngineError, match="k must"):
            fitted.recommend(["1"], k=0)
        with pytest.raises(EngineError, match="task"):
            fitted.recommend(["1"], task="browse")  # type: ignore[arg-type]

    # --- save / load -------------------------------------------------------------------------------

    def test_save_load_round_trip_answers_the_same(self, fitted, shop_lines, tmp_path):
        fitted.save(tmp_path / "model", data_fingerprint="abc")
        loaded = load_recommender(tmp_path / "model")
        assert type(loaded) is type(fitted) and loaded.spec() == fitted.spec()
        customers = [*self.customers(shop_lines), "stranger", "returner"]
        for task in ("discovery", "repeat"):
            before = fitted.recommend(customers, k=5, task=task)
            after = loaded.recommend(customers, k=5, task=task)
            assert [r.item_ids for r in before] == [r.item_ids for r in after]
            scores = [[s for r in results for s in r.scores] for results in (before, after)]
            np.testing.assert_allclose(*scores, rtol=1e-5)
        item = fitted.items_.external_ids[1]
        assert fitted.similar_items([item])[0].item_ids == loaded.similar_items([item])[0].item_ids
        items = list(fitted.items_.external_ids[:2])
        assert fitted.recommend_from_items(items).item_ids == loaded.recommend_from_items(items).item_ids



class LearnsCoPurchases:
    """For collaborative models: they must find the planted co-purchase signal of
    :func:`conftest.planted_shop`, which global popularity cannot see."""

    def make_model(self) -> RecommenderModel:
        raise NotImplementedError

    def test_finds_planted_co_purchases_that_popularity_cannot(self, planted):
        split = TimeSplit.last(planted, holdout=40)
        train, holdout = split.split(planted)
        relevant = relevant_items(holdout, train, "discovery")
        model = self.make_model().fit(train, as_of=split.as_of)
        popularity = make_recommender("popularity").fit(train, as_of=split.as_of)
        ours = evaluate_model(model, relevant, k=5, task="discovery")["ndcg@5"]
        baseline = evaluate_model(popularity, relevant, k=5, task="discovery")["ndcg@5"]
        assert ours > 3 * baseline and ours > 0.4
