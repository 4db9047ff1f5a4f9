"""Customers: RFM scores, segments and loyalty tiers; churn and lifetime value (BG/NBD, Pareto/NBD,
Gamma-Gamma, LightGBM) and the scored customer list marketing acts on."""

from engine._exports import lazy_exports

_EXPORTS = {
    "rfm_scores": "engine.customers.rfm",
    "DEFAULT_SEGMENT_RULES": "engine.customers.segments",
    "SegmentRules": "engine.customers.segments",
    "assign_segments": "engine.customers.segments",
    "segment_profile": "engine.customers.segments",
    "TierConfig": "engine.customers.tiers",
    "loyalty_tiers": "engine.customers.tiers",
    "customer_view": "engine.customers.view",
    "FeatureSpec": "engine.customers.features",
    "customer_features": "engine.customers.features",
    "btyd_summary": "engine.customers.btyd_data",
    "BGNBD": "engine.customers.bgnbd",
    "ParetoNBD": "engine.customers.pareto_nbd",
    "GammaGamma": "engine.customers.gamma_gamma",
    "ChurnClassifier": "engine.customers.churn_gbm",
    "ClvModel": "engine.customers.clv",
    "RiskBands": "engine.customers.scoring",
    "score_customers": "engine.customers.scoring",
    "select_customers": "engine.customers.scoring",
    "churn_list": "engine.customers.scoring",
    "load_customer_model": "engine.customers.registry",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
