"""CRM engine: recommendations, customer value and pricing from a shop's own transactions.

The library is pure Python over numpy/scipy/pandas/implicit/lightgbm; it never imports MLflow or
BentoML (those live in ``training/`` and ``serving/``). The names below are its public API
(``from engine import load_shop, ChurnClassifier``); each subpackage lists its own in ``__all__``.
"""

from engine._exports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "EngineModel": "engine.base",
    "EngineError": "engine.errors",
    "DataValidationError": "engine.errors",
    "NotFittedError": "engine.errors",
    "ModelFormatError": "engine.errors",
    "load_shop": "engine.data",
    "ShopData": "engine.data",
    "Columns": "engine.data",
    "TimeSplit": "engine.data",
    "default_as_of": "engine.data",
    "rfm_scores": "engine.customers",
    "SegmentRules": "engine.customers",
    "assign_segments": "engine.customers",
    "customer_view": "engine.customers",
    "loyalty_tiers": "engine.customers",
    "BGNBD": "engine.customers",
    "ParetoNBD": "engine.customers",
    "GammaGamma": "engine.customers",
    "ChurnClassifier": "engine.customers",
    "ClvModel": "engine.customers",
    "RiskBands": "engine.customers",
    "score_customers": "engine.customers",
    "select_customers": "engine.customers",
    "churn_list": "engine.customers",
    "load_customer_model": "engine.customers",
    "RecommenderModel": "engine.recommend",
    "make_recommender": "engine.recommend",
    "load_recommender": "engine.recommend",
    "evaluate_model": "engine.recommend",
    "evaluate": "engine.recommend",
    "build_panel": "engine.pricing",
    "shop_panel": "engine.pricing",
    "make_estimator": "engine.pricing",
    "PricingPolicy": "engine.pricing",
    "PriceOptimizer": "engine.pricing",
    "PriceQuote": "engine.pricing",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
