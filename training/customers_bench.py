"""``crm bench customers``: churn and CLV of the models and the baselines on each out-of-time cut of
the source's protocol, their mean and SE across cuts, the baseline gates, band calibration per cut and
pooled, the probabilistic models' anchors, and the time to score every customer."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import numpy as np

from engine.customers.aftersales import AfterSales
from engine.customers.config import ChurnConfig, ClvConfig
from engine.customers.evaluation import CHURN_BASELINES, CLV_BASELINES, band_report, churn_rows, churn_scores, clv_rows
from engine.customers.features import CHURNED
from engine.customers.fitting import fit_churn, fit_clv, prepare, windows_summary
from engine.customers.gate import churn_baseline_gate, clv_baseline_gate, served_churn
from engine.customers.hazard import GapHazard
from engine.customers.protocols import cut_dates, protocol_for, with_protocol
from engine.customers.scoring import score_customers
from engine.customers.windows import LabelledSnapshots
from engine.data.dataset import ShopData

HAZARD = "gap_hazard"  # a candidate evaluated beside the served model (see engine.customers.hazard), not served


def _bench_cut(shop: ShopData, churn_config: ChurnConfig, clv_config: ClvConfig) -> tuple[dict[str, Any], Any, Any]:
    """One cut: churn and CLV rows with their best baselines, both baseline gates, the served churn
    estimator's band calibration; and the labels with the served probabilities (for pooling bands)."""
    data = prepare(shop, churn_config.features, churn_config.windows, churn_config.seed)
    churn = fit_churn(data, churn_config)
    clv = fit_clv(data, clv_config)
    hazard = GapHazard(seed=churn_config.seed).fit(shop.transactions, data.plan.test_as_of).p_no_purchase(data.plan.horizon_days)
    # a customer with returns only has no gap: the mean churn probability stands in
    churn_table = churn_rows(data.test, churn, {HAZARD: hazard.reindex(data.test.index).fillna(hazard.mean()).to_numpy()})
    clv_table = clv_rows(data.test, clv, data.plan.horizon_days)
    churn_gate = churn_baseline_gate(data, churn, churn_table, churn_config.baseline_margin_se, churn_config.risk_bands)
    clv_gate = clv_baseline_gate(data, clv, clv_table, clv_config.baseline_margin_se)
    y = data.test[CHURNED].to_numpy()
    scores = churn_scores(data.test, churn)
    served = served_churn(data, churn, churn_gate).predict_proba(data.test)
    result = {
        "cut": str(data.plan.test_as_of.date()),
        "windows": windows_summary(data),
        "results": churn_table,
        "clv": clv_table,
        "churn_gate": churn_gate.as_dict(),
        "clv_gate": clv_gate.as_dict(),
        "calibration": {"lightgbm": band_report(y, scores["lightgbm"], churn_config.risk_bands),
                        "served": band_report(y, served, churn_config.risk_bands)},
        "chosen": {"churn_base_model": churn.base_, "clv": clv.choice_, "clv_validation_gini": clv.validation_gini_},
    }
    return result, (y, scores["lightgbm"], served), (data, churn, clv)


def across_cuts(cuts: list[dict[str, Any]], key: str, metric: str) -> list[dict[str, Any]]:
    """Per model: the metric's mean over cuts and its standard error (sd / sqrt(cuts)); the gap to the
    baseline best on average, its mean, the SE of the mean gap (the larger of the spread across cuts
    and the per-cut bootstrap SEs combined) and the mean gap in those SEs."""
    names = [row["model"] for row in cuts[0][key]]
    values = {name: np.array([next(r[metric] for r in cut[key] if r["model"] == name) for cut in cuts]) for name in names}
    baselines = [name for name in names if name in (CHURN_BASELINES if key == "results" else CLV_BASELINES)]
    n = len(cuts)
    summary = []
    for name in names:
        best = max((b for b in baselines if b != name), key=lambda b: values[b].mean())
        gaps = values[name] - values[best]
        per_cut = [paired_se(cut[key], name, best, metric) for cut in cuts]
        spread = float(gaps.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        se = max(spread, float(np.sqrt(np.sum(np.square(per_cut))) / n))
        summary.append({"model": name, f"mean_{metric}": float(values[name].mean()),
                        f"se_{metric}": float(values[name].std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
                        "best_baseline": best, "mean_gap": float(gaps.mean()), "gap_se": se,
                        "gap_in_se": float(gaps.mean() / se) if se > 0 else 0.0})
    return summary


def paired_se(rows: list[dict[str, Any]], name: str, baseline: str, metric: str) -> float:
    """The paired-bootstrap SE of ``name``'s gap to ``baseline`` on one cut (the row's own when that
    baseline is its best on the cut, else the larger of the two rows' SEs as a stand-in)."""
    row = next(r for r in rows if r["model"] == name)
    if row["best_baseline"] == baseline:
        return row["gap_se"]
    other = next(r for r in rows if r["model"] == baseline)
    return max(row["gap_se"], other["gap_se"])


def bench_customers(
    shop: ShopData, churn_config: ChurnConfig, clv_config: ClvConfig, cuts_at: list[date] | None = None
) -> dict[str, Any]:
    """The benchmark contract: churn and CLV rows (model, baselines and the gap hazard candidate, each
    with its best baseline and the gap in SEs) on each of the protocol's out-of-time cuts (or the test
    as-of dates ``cuts_at``), their mean and SE across cuts, the baseline gates, band calibration per
    cut and pooled, the probabilistic models' anchors at the first cut, and the time to score every
    customer as of the data's end."""
    protocol = protocol_for(shop.source, churn_config)
    churn_config, clv_config = with_protocol(churn_config, protocol), with_protocol(clv_config, protocol)
    spec = churn_config.features
    if clv_config.features != spec:
        clv_config = clv_config.model_copy(update={"features": spec})
    cuts, pooled, first = [], [], None
    for moment in cuts_at or cut_dates(shop, protocol):
        windows = churn_config.windows.model_copy(update={"as_of": moment})
        cut, labels, fitted = _bench_cut(shop, churn_config.model_copy(update={"windows": windows}),
                                         clv_config.model_copy(update={"windows": windows}))
        cuts.append(cut)
        pooled.append(labels)
        first = first or fitted
    data, churn, clv = first
    y, lightgbm, served = (np.concatenate(parts) for parts in zip(*pooled))
    started = time.perf_counter()
    scores = score_customers(shop.transactions, churn, clv, products=shop.products, bands=churn_config.risk_bands,
                             aftersales=AfterSales.of(shop))
    scoring_seconds = time.perf_counter() - started
    return {
        "dataset": shop.source,
        "protocol": {"name": protocol.name, "description": protocol.description, **windows_summary(data)},
        "churn": cuts[0]["results"],
        "clv": cuts[0]["clv"],
        "cuts": cuts,
        "across_cuts": {"churn": across_cuts(cuts, "results", "auc"), "clv": across_cuts(cuts, "clv", "normalized_gini")},
        "calibration_pooled": {"lightgbm": band_report(y, lightgbm, churn_config.risk_bands),
                               "served": band_report(y, served, churn_config.risk_bands)},
        "anchors": anchors(data),
        "chosen": cuts[0]["chosen"],
        "scoring": {"customers": len(scores), "seconds": scoring_seconds},
    }


def anchors(data: LabelledSnapshots) -> dict[str, Any]:
    """Fitted parameters and log-likelihoods of the probabilistic models as of the test date."""
    return {
        name: {"params": model.params_, "log_likelihood": model.log_likelihood_, "customers": model.n_customers_,
               "time_unit": getattr(model, "time_unit", None), "as_of": str(data.plan.test_as_of.date())}
        for name, model in data.test_snapshot.models.items()
    }
