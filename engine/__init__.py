"""CRM engine: recommendations, customer value and pricing from a shop's own transactions.

The library is pure Python over numpy/scipy/pandas/implicit/lightgbm; it never imports MLflow or
BentoML (those live in ``training/`` and ``serving/``). The names below are its public API
(``from engine import load_shop, ChurnClassifier``); each subpackage lists its own in ``__all__``.
"""

from engine._exports import exports_by_module, lazy_exports

__version__ = "0.1.0"

_EXPORTS = exports_by_module({
    "engine.base": ["EngineModel"],
    "engine.errors": ["EngineError", "DataValidationError", "NotFittedError", "ModelFormatError"],
    "engine.data": ["load_shop", "ShopData", "Columns", "TimeSplit", "default_as_of"],
    "engine.customers": ["rfm_scores", "SegmentRules", "assign_segments", "customer_view", "loyalty_tiers", "BGNBD", "ParetoNBD", "GammaGamma", "ChurnClassifier", "ClvModel", "RiskBands", "score_customers", "select_customers", "churn_list", "load_customer_model",
                         "ChurnConfig", "ClvConfig", "prepare", "prepare_to_serve", "fit_churn", "fit_clv", "fit_models",
                         "PROTOCOLS", "with_protocol", "churn_baseline_gate", "clv_baseline_gate",
                         "churn_rows", "churn_scores", "clv_predictions", "clv_rows", "band_report", "decile_calibration",
                         "calibration_chart", "clv_decile_chart", "gain_chart", "band_reliability_chart"],
    "engine.recommend": ["RecommenderModel", "make_recommender", "load_recommender", "evaluate_model", "evaluate"],
    "engine.pricing": ["build_panel", "shop_panel", "make_estimator", "PricingPolicy", "PriceOptimizer", "PriceQuote", "PricingSettings", "fit_pricing", "summarize_elasticities"],
})
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
