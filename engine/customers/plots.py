"""Figures for churn and CLV evaluation (matplotlib; the caller logs or shows them)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from engine.customers.metrics import decile_calibration, decile_table, gain_curve


def gain_chart(y_true: np.ndarray, scores: dict[str, np.ndarray]) -> Figure:
    """Cumulative gains (share of churners reached vs share of customers contacted, riskiest first)
    and lift, one line per model."""
    figure = Figure(figsize=(10, 4))
    gains, lift = figure.subplots(1, 2)
    for name, score in scores.items():
        curve = gain_curve(y_true, score)
        gains.plot(curve["share_contacted"], curve["share_of_churners"], label=name)
        lift.plot(curve["share_contacted"], curve["lift"], label=name)
    gains.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    gains.set(xlabel="share of customers contacted", ylabel="share of churners reached", title="Gain")
    lift.set(xlabel="share of customers contacted", ylabel="lift", title="Lift", xlim=(0.01, 1))
    gains.legend()
    figure.tight_layout()
    return figure


def calibration_chart(y_true: np.ndarray, probabilities: dict[str, np.ndarray]) -> Figure:
    """Observed churn rate against mean predicted probability, by decile of each model."""
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    for name, probability in probabilities.items():
        table = decile_calibration(y_true, probability)
        axes.plot(table["mean_predicted"], table["observed_rate"], marker="o", label=name)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    axes.set(xlabel="mean predicted P(churn)", ylabel="observed churn rate", title="Calibration by decile")
    axes.legend()
    return figure


def band_reliability_chart(bands: list[dict[str, Any]], title: str = "Calibration by risk band") -> Figure:
    """Per risk band (rows of :func:`evaluation.band_report`): the realised churn rate with its 95%
    interval against the band's mean predicted probability; a calibrated band sits on the diagonal."""
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    for row in bands:
        low, high = row["realised_rate"] - row["ci_low"], row["ci_high"] - row["realised_rate"]
        axes.errorbar([row["mean_predicted"]], [row["realised_rate"]], yerr=[[low], [high]], marker="o", capsize=4,
                      label=f"{row['band']} ({int(row['customers']):,} customers)")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    axes.set(xlabel="mean predicted P(churn)", ylabel="realised churn rate (95% interval)", title=title, xlim=(0, 1), ylim=(0, 1))
    axes.legend()
    return figure


def clv_decile_chart(actual: np.ndarray, predicted: np.ndarray, title: str = "CLV by decile") -> Figure:
    """Mean predicted and mean actual spend in each decile of the prediction."""
    table = decile_table(actual, predicted)
    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    positions = np.arange(len(table))
    axes.bar(positions - 0.2, table["mean_predicted"], width=0.4, label="predicted")
    axes.bar(positions + 0.2, table["mean_actual"], width=0.4, label="actual")
    axes.set_xticks(positions, [str(d) for d in table.index])
    axes.set(xlabel="decile of predicted spend (10 = highest)", ylabel="mean spend in window", title=title)
    axes.legend()
    return figure
