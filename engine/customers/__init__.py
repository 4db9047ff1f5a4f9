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
    "engine.customers.evaluation": ["churn_rows", "churn_scores", "clv_predictions", "clv_rows", "band_report"],
    "engine.customers.metrics": ["decile_calibration", "band_calibration", "expected_calibration_error"],
    "engine.customers.plots": ["calibration_chart", "clv_decile_chart", "gain_chart", "band_reliability_chart"],
    "engine.customers.config": ["ChurnConfig", "ClvConfig", "WindowSettings"],
    "engine.customers.fitting": ["TrainingRows", "prepare", "prepare_to_serve", "fit_churn", "fit_clv", "fit_models"],
    "engine.customers.gate": ["BaselineGate", "churn_baseline_gate", "clv_baseline_gate"],
    "engine.customers.protocols": ["PROTOCOLS", "Protocol", "protocol_for", "with_protocol", "cut_dates"],
})
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
