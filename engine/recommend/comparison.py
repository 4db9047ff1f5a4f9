"""Result rows of a recommender run and their comparison with the best baseline of each task: pure
numbers (paired per-customer differences), nothing about MLflow or files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# the result rows every run measures beside its models: bestsellers (most purchase lines), the items
# most customers bought, the same within the customer's RFM segment, and buy-again (tuned half-life)
BASELINE_ROWS = ("popularity", "popularity_buyers", "segment_popularity", "buy_again")
SIGNIFICANT_SE = 2.0  # a gap to the best baseline is claimed only beyond this many standard errors


@dataclass
class ModelResult:
    """One row of the results: a model on a task of the test window."""

    model: str
    task: str
    metrics: dict[str, float]
    n_customers: int
    fit_seconds: float | None
    params: dict[str, Any]
    values: np.ndarray = field(repr=False)  # each evaluated customer's primary metric (paired SEs)
    same_list_share: float = 0.0  # share of customers given the most common top-k list
    timing: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    versus: dict[str, Any] | None = None  # the best baseline of the task and the gap to it

    @property
    def standard_error(self) -> float:
        """Standard error of the primary metric's mean over customers."""
        return standard_error(self.values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task": self.task,
            "metrics": self.metrics,
            "standard_error": self.standard_error,
            "n_customers": self.n_customers,
            "fit_seconds": self.fit_seconds,
            **self.timing,
            "params": self.params,
            "same_list_share": self.same_list_share,
            **({"versus_best_baseline": self.versus} if self.versus else {}),
            **({"note": self.note} if self.note else {}),
        }


def standard_error(values: np.ndarray) -> float:
    """Standard error of the mean of ``values`` (NaN for fewer than two)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def compare_to_baselines(results: list[ModelResult], metric: str) -> None:
    """Give every non-baseline result its task's best baseline (highest ``metric`` on the same
    customers) and the paired gap: mean per-customer difference, its standard error, the gap in
    standard errors and the ratio of the two means."""
    for task in dict.fromkeys(row.task for row in results):
        rows = [row for row in results if row.task == task]
        baselines = [row for row in rows if row.model in BASELINE_ROWS]
        if not baselines:
            continue
        best = max(baselines, key=lambda row: row.metrics[metric])
        for row in rows:
            if row.model in BASELINE_ROWS:
                continue
            difference = row.values - best.values
            se = standard_error(difference)
            gap = float(difference.mean())
            row.versus = {
                "model": best.model,
                "value": best.metrics[metric],
                "gap": gap,
                "gap_se": se,
                "gap_in_se": gap / se if se > 0 else float("nan"),
                "ratio": row.metrics[metric] / best.metrics[metric] if best.metrics[metric] > 0 else float("nan"),
                "significant": bool(se > 0 and gap / se >= SIGNIFICANT_SE),
            }
