"""Scoring an elasticity estimator on holdout weeks, against the truth when there is one.

The counterfactual scores follow the CausalDemand benchmark: for each holdout product-week, the price is
moved by +/- ``price_step``; the predicted relative change of units is applied to the observed units and
compared with the true relative change applied to the same units (so a model's level errors do not
hide its response errors). Only the product's own price moves, so the truth is its own elasticity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.columns import Columns
from engine.errors import EngineError
from engine.pricing import panel as P
from engine.pricing.base import ElasticityEstimator, estimation_rows
from engine.pricing.metrics import counterfactual_wmape, elasticity_errors, interval_coverage, sign_accuracy, wmape
from engine.pricing.shrinkage import CI_HIGH, CI_LOW, ELASTICITY


def score_estimator(
    estimator: ElasticityEstimator,
    holdout: pd.DataFrame,
    true_elasticity: pd.Series | None = None,
    price_step: float = 0.1,
) -> dict[str, float]:
    """Scores of a fitted estimator on ``holdout`` panel rows of the products it knows.

    Always: forecast_wmape, sign_accuracy (share of +step responses that lower units), rows. With
    ``true_elasticity`` (product_id -> elasticity): cf_wmape (mean of the +step and -step scenarios),
    cf_wmape_up, cf_wmape_down, elasticity errors, coverage_95 (share of true elasticities inside the
    95% intervals) and interval_width (their median width) over the products of the estimator's table.
    """
    rows = estimation_rows(holdout)
    rows = rows.loc[rows[Columns.item].isin(estimator.elasticity_table().index)].reset_index(drop=True)
    if rows.empty:
        raise EngineError("no holdout row belongs to a product the estimator was fitted on")
    units = rows[P.UNITS].to_numpy(float)
    up = estimator.response(rows, 1 + price_step)
    scores = {
        "forecast_wmape": wmape(units, estimator.predict_units(rows)),
        "sign_accuracy": sign_accuracy(up, 1 + price_step),
        "rows": float(len(rows)),
    }
    if true_elasticity is not None:
        truth = rows[Columns.item].map(true_elasticity).to_numpy(float)
        if np.isnan(truth).any():
            raise EngineError("true_elasticity lacks some holdout products")
        down = estimator.response(rows, 1 - price_step)
        scores["cf_wmape_up"] = counterfactual_wmape(units, (1 + price_step) ** truth, up)
        scores["cf_wmape_down"] = counterfactual_wmape(units, (1 - price_step) ** truth, down)
        scores["cf_wmape"] = (scores["cf_wmape_up"] + scores["cf_wmape_down"]) / 2
        table = estimator.elasticity_table()
        true = true_elasticity.reindex(table.index).to_numpy()
        scores.update(elasticity_errors(true, table[ELASTICITY].to_numpy()))
        scores.update(interval_scores(table, true_elasticity))
    return scores


def interval_scores(table: pd.DataFrame, true_elasticity: pd.Series) -> dict[str, float]:
    """Of an elasticity table's 95% intervals: the share that cover the true elasticity (``coverage_95``)
    and their median width (``interval_width``), over the table's products."""
    true = true_elasticity.reindex(table.index).to_numpy()
    return {
        "coverage_95": interval_coverage(true, table[CI_LOW].to_numpy(), table[CI_HIGH].to_numpy()),
        "interval_width": float((table[CI_HIGH] - table[CI_LOW]).median()),
    }
