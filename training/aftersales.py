"""The after-sales bench: does the churn model recover a known effect of after-sales on churn?

On synthetic shops (:mod:`engine.data.synthetic`, step 6) whose open complaints multiply the dropout
hazard by ``complaint_hazard`` (the effect on) or leave it alone (``complaint_hazard=1``, the effect
off; the twin shops share every other draw), the churn model is fitted on the same labelled rows twice,
with and without the after-sales features, and scored on the same test window. The gain in test AUC
should be clearly positive with the effect on and indistinguishable from zero with it off.

The gain is measured on every test customer (the engine's churn population, where long-gone customers
make the AUC high whatever the features) and on the *active* ones (a purchase in the 90 days before the
cut), whose churn is in doubt and where an open complaint can change the answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.customers.aftersales import AFTERSALES_FEATURES
from engine.customers.config import ChurnConfig
from engine.customers.features import CHURNED
from engine.customers.fitting import TrainingRows, fit_churn, prepare
from engine.customers.metrics import paired_bootstrap_se, roc_auc
from engine.data.synthetic import SyntheticShopConfig, generate_shop

ACTIVE_DAYS = 90  # the customers whose churn is in doubt: a purchase in the last 90 days before the cut


def _without_aftersales(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[name for name in AFTERSALES_FEATURES if name in frame])


def aftersales_gain(shop_config: SyntheticShopConfig, churn_config: ChurnConfig) -> dict[str, Any]:
    """Test AUC of the churn model with and without the after-sales features on one synthetic shop,
    the gain and its paired-bootstrap SE over the test customers (all, and the active ones), and the
    churn rate of the test customers with and without a complaint open at the cut."""
    shop = generate_shop(shop_config)
    data = prepare(shop, churn_config.features, churn_config.windows, churn_config.seed)
    with_model = fit_churn(data, churn_config)
    bare = TrainingRows(data.plan, _without_aftersales(data.train), _without_aftersales(data.validation))
    without_model = fit_churn(bare, churn_config)
    y = data.test[CHURNED].to_numpy()
    with_p, without_p = with_model.predict_proba(data.test), without_model.predict_proba(_without_aftersales(data.test))
    complaint = data.test["open_complaints"].to_numpy() > 0
    active = data.test["recency_days"].to_numpy() <= ACTIVE_DAYS
    importance = with_model.feature_importance()
    return {
        "seed": shop_config.seed,
        "complaint_hazard": shop_config.complaint_hazard,
        "test_as_of": str(data.plan.test_as_of.date()),
        "test_customers": int(len(y)),
        "test_churn_rate": float(y.mean()),
        "open_complaint_share": float(complaint.mean()),
        "churn_rate_open_complaint": float(y[complaint].mean()) if complaint.any() else None,
        "churn_rate_no_open_complaint": float(y[~complaint].mean()),
        "aftersales_importance_share": float(importance.reindex(list(AFTERSALES_FEATURES)).fillna(0).sum() / max(importance.sum(), 1e-12)),
        "all": _compare(y, with_p, without_p, shop_config.seed),
        "active": {"customers": int(active.sum()), **_compare(y[active], with_p[active], without_p[active], shop_config.seed)},
    }


def _compare(y: np.ndarray, with_p: np.ndarray, without_p: np.ndarray, seed: int) -> dict[str, float]:
    auc_with, auc_without = roc_auc(y, with_p), roc_auc(y, without_p)
    return {"auc_with": auc_with, "auc_without": auc_without, "gain": auc_with - auc_without,
            "gain_se": paired_bootstrap_se(roc_auc, y, with_p, without_p, seed=seed)}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Over seeds: mean AUC with and without, the mean gain and its SE (the larger of the spread across
    seeds and the per-seed bootstrap SEs combined), and the mean gain in those SEs."""
    gains = np.array([run["gain"] for run in runs])
    n = len(runs)
    spread = float(gains.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    se = max(spread, float(np.sqrt(np.sum(np.square([run["gain_se"] for run in runs]))) / n))
    return {
        "mean_auc_with": float(np.mean([run["auc_with"] for run in runs])),
        "mean_auc_without": float(np.mean([run["auc_without"] for run in runs])),
        "mean_gain": float(gains.mean()),
        "gain_se": se,
        "gain_in_se": float(gains.mean() / se) if se > 0 else 0.0,
    }


def bench_aftersales(
    seeds: list[int], churn_config: ChurnConfig, shop_config: SyntheticShopConfig
) -> dict[str, Any]:
    """The bench contract: per seed and summarised, the churn AUC gain from the after-sales features
    with the effect on (``shop_config.complaint_hazard``) and off (``complaint_hazard=1``)."""
    if shop_config.complaint_hazard <= 1:
        raise ValueError(f"complaint_hazard must be above 1 for the effect-on arm, got {shop_config.complaint_hazard}")
    arms: dict[str, Any] = {}
    for arm, hazard in (("effect_on", shop_config.complaint_hazard), ("effect_off", 1.0)):
        runs = [aftersales_gain(shop_config.model_copy(update={"seed": seed, "complaint_hazard": hazard}), churn_config)
                for seed in seeds]
        arms[arm] = {"complaint_hazard": hazard, "seeds": seeds,
                     **{population: summarise([run[population] for run in runs]) for population in ("all", "active")},
                     "runs": runs}
    return {
        "dataset": "synthetic",
        "shop": shop_config.model_dump(exclude={"seed", "complaint_hazard"}),
        "churn_horizon_days": churn_config.features.horizon_days,
        **arms,
    }
