"""Pricing: the weekly product panel, own- and cross-price elasticity estimators pooled by category,
scores against holdout weeks (and the truth on synthetic data), and the guarded price optimizer."""
