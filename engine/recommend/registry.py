"""Every recommender by its ``kind``: build one from a config, load any saved one (for serving)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from engine.errors import EngineError, ModelFormatError
from engine.io import manifest_kind
from engine.recommend.als import ALSRecommender
from engine.recommend.base import RecommenderModel
from engine.recommend.blend import BlendRecommender
from engine.recommend.bpr import BPRRecommender
from engine.recommend.buy_again import BuyAgainRecommender
from engine.recommend.discovery_ranker import DiscoveryRankerRecommender
from engine.recommend.ease import EASERecommender
from engine.recommend.knn import ItemKNNRecommender
from engine.recommend.popularity import PopularityRecommender, SegmentPopularityRecommender
from engine.recommend.repeat_ranker import RepeatRankerRecommender

MODELS: dict[str, type[RecommenderModel]] = {
    model.kind: model
    for model in (
        PopularityRecommender,
        SegmentPopularityRecommender,
        BuyAgainRecommender,
        ALSRecommender,
        BPRRecommender,
        ItemKNNRecommender,
        EASERecommender,
        RepeatRankerRecommender,
        DiscoveryRankerRecommender,
        BlendRecommender,
    )
}
BASELINES = ("popularity", "segment_popularity", "buy_again")
COLLABORATIVE = ("als", "bpr", "item_knn", "ease", "discovery_ranker")


def make_recommender(kind: str, params: dict[str, Any] | None = None) -> RecommenderModel:
    """A new (unfitted) model of ``kind``; an unknown kind or parameter is an error naming it."""
    if kind not in MODELS:
        raise EngineError(f"unknown recommender kind {kind!r}; known: {sorted(MODELS)}")
    from engine.backend import active_backend

    model_class = active_backend().model_class(kind, MODELS[kind])
    params = dict(params or {})
    accepted = [name for name in inspect.signature(model_class.__init__).parameters if name != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise EngineError(f"{kind}: unknown parameter(s) {unknown}; accepted: {accepted}")
    if kind == BlendRecommender.kind:
        # a blend's parts are given as {"kind": ..., "params": {...}}
        return model_class._from_manifest_params(params)
    return model_class(**params)


def load_recommender(path: str | Path) -> RecommenderModel:
    """Load any saved recommender, dispatching on the kind its manifest declares."""
    kind = manifest_kind(path)
    if kind not in MODELS:
        raise ModelFormatError(f"{path} holds a {kind!r} model, not a recommender; known: {sorted(MODELS)}")
    return MODELS[kind].load(path)
