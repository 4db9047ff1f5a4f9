"""Recommenders behind one interface (:class:`~engine.recommend.base.RecommenderModel`): baselines,
collaborative models over ``implicit`` and EASE, a repeat-task blend, metrics and protocols."""

from engine._exports import lazy_exports

_EXPORTS = {
    "RecommenderModel": "engine.recommend.base",
    "Recommendations": "engine.recommend.base",
    "make_recommender": "engine.recommend.registry",
    "load_recommender": "engine.recommend.registry",
    "evaluate_model": "engine.recommend.evaluation",
    "relevant_items": "engine.recommend.evaluation",
    "evaluate": "engine.recommend.metrics",
    "ndcg_at_k": "engine.recommend.metrics",
    "precision_at_k": "engine.recommend.metrics",
    "recall_at_k": "engine.recommend.metrics",
    "map_at_k": "engine.recommend.metrics",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
