"""Pricing: the weekly product panel, own- and cross-price elasticity estimators pooled by category,
scores against holdout weeks (and the truth on synthetic data), and the guarded price optimizer."""

from engine._exports import exports_by_module, lazy_exports

_EXPORTS = exports_by_module({
    "engine.pricing.panel": ["build_panel", "shop_panel"],
    "engine.pricing.base": ["ElasticityEstimator"],
    "engine.pricing.registry": ["make_estimator"],
    "engine.pricing.fit": ["PricingSettings", "PricingRun", "fit_pricing", "summarize_elasticities"],
    "engine.pricing.choice": ["choose_by_evidence"],
    "engine.pricing.guardrails": ["PricingPolicy"],
    "engine.pricing.optimizer": ["PriceOptimizer"],
    "engine.pricing.quote": ["PriceQuote"],
    "engine.pricing.segment_offers": ["SegmentOffers"],
})
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
