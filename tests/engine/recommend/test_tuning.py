"""The validation search helpers."""

from __future__ import annotations

import pytest

from engine.data.split import TimeSplit
from engine.errors import EngineError
from engine.recommend.blend import BlendRecommender
from engine.recommend.buy_again import BuyAgainRecommender
from engine.recommend.ease import EASERecommender
from engine.recommend.evaluation import relevant_items
from engine.recommend.popularity import PopularityRecommender
from engine.recommend.tuning import best_trial, run_trial, tune_blend_weight


def test_search_picks_the_better_candidate_and_tunes_a_blend_weight(planted):
    split = TimeSplit.last(planted, holdout=40)
    train, holdout = split.split(planted)
    discovery = relevant_items(holdout, train, "discovery")
    repeat = relevant_items(holdout, train, "repeat")
    trials = [
        run_trial(PopularityRecommender(), train, discovery, 5, "discovery", split.as_of),
        run_trial(EASERecommender(regularization=10.0), train, discovery, 5, "discovery", split.as_of),
    ]
    assert best_trial(trials, "ndcg@5").kind == "ease"
    assert trials[1].params["regularization"] == 10.0 and trials[1].fit_seconds > 0
    blend = BlendRecommender.from_fitted(trials[1].model, BuyAgainRecommender().fit(train, as_of=split.as_of))
    weight, curve = tune_blend_weight(blend, repeat, [0.0, 0.5, 1.0], 5, "ndcg@5")
    assert curve[weight] == max(curve.values()) and blend.weight == weight
    with pytest.raises(EngineError):
        best_trial([], "ndcg@5")
