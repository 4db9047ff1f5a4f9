"""Pricing: the weekly product panel, own- and cross-price elasticity estimators pooled by category,
scores against holdout weeks (and the truth on synthetic data), and the guarded price optimizer."""

from engine._exports import lazy_exports

_EXPORTS = {
    "build_panel": "engine.pricing.panel",
    "shop_panel": "engine.pricing.panel",
    "ElasticityEstimator": "engine.pricing.base",
    "make_estimator": "engine.pricing.registry",
    "PricingPolicy": "engine.pricing.guardrails",
    "PriceOptimizer": "engine.pricing.optimizer",
    "PriceQuote": "engine.pricing.quote",
    "SegmentOffers": "engine.pricing.segment_offers",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
