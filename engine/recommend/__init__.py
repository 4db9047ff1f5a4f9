"""Recommenders behind one interface (:class:`~engine.recommend.base.RecommenderModel`): baselines,
collaborative models over ``implicit`` and EASE, a repeat-task blend, metrics and protocols."""

from engine._exports import exports_by_module, lazy_exports

_EXPORTS = exports_by_module({
    "engine.recommend.base": ["RecommenderModel", "Recommendations"],
    "engine.recommend.registry": ["make_recommender", "load_recommender"],
    "engine.recommend.evaluation": ["evaluate_model", "relevant_items"],
    "engine.recommend.metrics": ["evaluate", "ndcg_at_k", "precision_at_k", "recall_at_k", "map_at_k"],
})
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
