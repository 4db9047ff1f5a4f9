"""Customers: RFM scores, segments and loyalty tiers; churn and lifetime value (BG/NBD, Pareto/NBD,
Gamma-Gamma, LightGBM) and the scored customer list marketing acts on."""

from engine._exports import exports_by_module, lazy_exports

_EXPORTS = exports_by_module({
    "engine.customers.rfm": ["rfm_scores"],
    "engine.customers.segments": ["DEFAULT_SEGMENT_RULES", "SegmentRules", "assign_segments", "segment_profile"],
    "engine.customers.tiers": ["TierConfig", "loyalty_tiers"],
    "engine.customers.view": ["customer_view"],
    "engine.customers.features": ["FeatureSpec", "customer_features"],
    "engine.customers.btyd_data": ["btyd_summary"],
    "engine.customers.bgnbd": ["BGNBD"],
    "engine.customers.pareto_nbd": ["ParetoNBD"],
    "engine.customers.gamma_gamma": ["GammaGamma"],
    "engine.customers.churn_gbm": ["ChurnClassifier"],
    "engine.customers.clv": ["ClvModel"],
    "engine.customers.scoring": ["RiskBands", "score_customers", "select_customers", "churn_list"],
    "engine.customers.registry": ["load_customer_model"],
})
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
