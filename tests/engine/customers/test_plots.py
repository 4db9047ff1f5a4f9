"""The evaluation figures draw one line or bar set per model."""

from __future__ import annotations

import numpy as np

from engine.customers.evaluation import band_report
from engine.customers.plots import band_reliability_chart, calibration_chart, clv_decile_chart, gain_chart
from engine.customers.scoring import RiskBands


def test_figures():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    scores = {"model": rng.random(300) * 0.5 + 0.5 * y, "baseline": rng.random(300)}
    gains = gain_chart(y, scores)
    assert len(gains.axes) == 2 and len(gains.axes[0].lines) == 3  # two models and the diagonal
    assert len(calibration_chart(y, scores).axes[0].lines) == 3
    spend = rng.gamma(1.0, 20.0, 300)
    bars = clv_decile_chart(spend, spend + rng.normal(0, 5, 300))
    assert len(bars.axes[0].patches) == 20  # ten deciles, predicted and actual
    report = band_report(y, scores["model"], RiskBands())
    assert len(band_reliability_chart(report["bands"]).axes[0].containers) == len(report["bands"])  # one error bar per band
