"""Figures of a monitoring report (matplotlib; the caller logs or saves them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from engine.monitoring.drift import quantile_edges


def drift_chart(table: pd.DataFrame, warn: float, breach: float, title: str, top: int = 20) -> Figure:
    """Horizontal bars of the ``top`` largest PSIs of a drift table, with the warning and breach lines."""
    shown = table.head(top).iloc[::-1]
    figure = Figure(figsize=(7, 0.3 * len(shown) + 1.5))
    axes = figure.subplots()
    colours = np.where(shown["psi"] > breach, "tab:red", np.where(shown["psi"] > warn, "tab:orange", "tab:blue"))
    axes.barh(shown["feature"].astype(str), shown["psi"], color=colours)
    axes.axvline(warn, color="tab:orange", linestyle=":", label=f"moving ({warn:g})")
    axes.axvline(breach, color="tab:red", linestyle="--", label=f"breach ({breach:g})")
    axes.set(xlabel="population stability index", title=title)
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def distribution_chart(reference: np.ndarray, current: np.ndarray, title: str, bins: int = 10) -> Figure:
    """Shares of the reference and current values in the reference's quantile bins (what the PSI compares)."""
    reference, current = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    edges = quantile_edges(reference, bins)
    labels = [f"<= {edge:.3g}" for edge in edges] + ["above"]
    shares = [np.bincount(np.searchsorted(edges, values[np.isfinite(values)]), minlength=len(edges) + 1) / max(len(values), 1)
              for values in (reference, current)]
    figure = Figure(figsize=(8, 3.5))
    axes = figure.subplots()
    position = np.arange(len(labels))
    axes.bar(position - 0.2, shares[0], width=0.4, label="reference (training)")
    axes.bar(position + 0.2, shares[1], width=0.4, label="current")
    axes.set_xticks(position, labels, rotation=45, ha="right", fontsize=7)
    axes.set(ylabel="share", title=title)
    axes.legend()
    figure.tight_layout()
    return figure
