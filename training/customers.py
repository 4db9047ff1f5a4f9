"""Customer-value pipelines with MLflow: churn risk and lifetime value, evaluated out of time.

data -> labelled snapshots -> LightGBM churn classifier / CLV model -> metrics of the model and the
baselines on the test window -> baseline gate -> MLflow (params, metrics, plots, registered
``crm-churn`` / ``crm-clv``, champion gate on the test AUC / normalized Gini).

The work without MLflow lives in :mod:`engine.customers.fitting` (fitting), :mod:`engine.customers.gate`
(the baseline gate) and :mod:`training.customers_bench` (the benchmark); ``train_churn`` /
``train_clv`` wrap it in tracked runs, ``champion_models`` loads the served champions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from engine.customers.churn_gbm import ChurnClassifier
from engine.customers.clv import ClvModel
from engine.customers.config import ChurnConfig, ClvConfig
from engine.customers.evaluation import band_report, churn_rows, churn_scores, clv_predictions, clv_rows
from engine.customers.features import CHURNED, SPEND
from engine.customers.fitting import TrainingRows, fit_churn, fit_clv, prepare, prepare_to_serve, served_as_of, windows_summary
from engine.customers.gate import BaselineGate, churn_baseline_gate, clv_baseline_gate, drift_warnings, served_churn
from engine.customers.metrics import decile_calibration, normalized_gini, roc_auc
from engine.customers.windows import LabelledSnapshots
from engine.data.dataset import ShopData
from engine.errors import EngineError, ModelFormatError
from engine.io import MANIFEST

CHURN_MODEL, CLV_MODEL = "crm-churn", "crm-clv"
CHURN_EXPERIMENT, CLV_EXPERIMENT = "churn", "clv"
CHURN_METRIC, CLV_METRIC = "test_auc", "test_normalized_gini"


def serving_manifest(shop: ShopData, evaluated: LabelledSnapshots, served: TrainingRows) -> dict[str, Any]:
    """What a served churn/CLV model records beside its parameters: its data, the as-of it scores from
    (lines strictly before it were used) and the test window of the evidence it was promoted on."""
    return {
        "data_source": shop.source,
        "as_of": str(served.plan.test_as_of.date()),
        "train_as_of": [str(moment.date()) for moment in served.plan.train_as_of],
        "evaluated_as_of": str(evaluated.plan.test_as_of.date()),
    }


def _same_spec(champion: ChurnClassifier | ClvModel, data: LabelledSnapshots) -> None:
    if champion.spec_ != data.test_snapshot.spec:
        raise ModelFormatError(
            f"the champion scores a {champion.spec_.horizon_days}-day window in {champion.spec_.time_unit} "
            f"(features {champion.spec_.model_dump()}), this run {data.test_snapshot.spec.model_dump()}"
        )


def _comparable_champion(kind: type[ChurnClassifier] | type[ClvModel], folder: Path, data: LabelledSnapshots) -> Any:
    """The champion in ``folder``, ready to be scored on ``data``'s test window without look-ahead: as
    saved when it was fitted before that window, else its configuration refitted on this run's training
    rows (a served model fitted on data up to today has seen the window's outcomes, and would win any
    comparison on it)."""
    champion = kind.load(folder)
    _same_spec(champion, data)
    manifest = json.loads((folder / MANIFEST).read_text())
    seen_until = manifest.get("as_of")
    if seen_until is None or pd.Timestamp(seen_until) <= data.plan.test_as_of:
        return champion
    label = CHURNED if kind is ChurnClassifier else SPEND
    return kind(spec=champion.spec_, **manifest["params"]).fit(data.train, data.train[label], data.validation, data.validation[label])


def churn_rescorer(data: LabelledSnapshots) -> Callable[[Path], float]:
    """For the gate: a churn champion's AUC on this run's test window (refitted first when it has seen
    that window, see :func:`_comparable_champion`)."""

    def rescore(folder: Path) -> float:
        champion = _comparable_champion(ChurnClassifier, folder, data)
        return roc_auc(data.test[CHURNED], champion.predict_proba(data.test))

    return rescore


def clv_rescorer(data: LabelledSnapshots) -> Callable[[Path], float]:
    """For the gate: a CLV champion's normalized Gini (its chosen estimator) on this run's test window
    (refitted first when it has seen that window)."""

    def rescore(folder: Path) -> float:
        champion = _comparable_champion(ClvModel, folder, data)
        return normalized_gini(data.test[SPEND].clip(lower=0), champion.window_spend(data.test))

    return rescore


def _metric_rows(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {
        f"test.{row['model']}.{key}": value
        for row in rows
        for key, value in row.items()
        if isinstance(value, float)
    }


# --- MLflow pipelines -------------------------------------------------------------------------------


def _log_gate(gate: BaselineGate) -> None:
    """The baseline gate's decision in the active MLflow run: tags, the gap metric, and each warning
    printed too."""
    from training import tracking
    from training.console import console

    tracking.set_tags({"served_estimator": gate.served, "baseline_gate": gate.reason[:5000],
                     "warnings": " | ".join(gate.warnings)[:5000] or "none"})
    tracking.log_metrics({"baseline_gap_in_se": gate.gap_in_se})
    for warning in gate.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]")


def train_churn(shop: ShopData, config: ChurnConfig, out: Path) -> dict[str, Any]:
    """Fit, evaluate against the baselines, gate against the best baseline (serving it when LightGBM
    does not beat it significantly), log (metrics, band calibration, gain/lift and calibration plots),
    refit the served estimator up to the data's end, save, register ``crm-churn`` and gate it on the
    test AUC against the champion (re-scored on this run's test window)."""
    from engine.customers.plots import band_reliability_chart, calibration_chart, gain_chart
    from training import tracking
    from training.publish import publish

    with tracking.tracked_run(CHURN_EXPERIMENT, config, shop, config.seed):
        data = prepare(shop, config.features, config.windows, config.seed)
        model = fit_churn(data, config)
        rows = churn_rows(data.test, model)
        gate = churn_baseline_gate(data, model, rows, config.baseline_margin_se, config.risk_bands)
        evidence = served_churn(data, model, gate)
        gate = replace(gate, warnings=(*gate.warnings, *drift_warnings(data, evidence)))
        _log_gate(gate)
        test_auc = next(row["auc"] for row in rows if row["model"] == gate.served)
        validation_auc = roc_auc(data.validation[CHURNED], evidence.predict_proba(data.validation))
        y = data.test[CHURNED].to_numpy()
        served_probability = evidence.predict_proba(data.test)
        bands = band_report(y, served_probability, config.risk_bands)
        tracking.log_metrics(_metric_rows(rows))
        tracking.log_metrics({CHURN_METRIC: test_auc, "validation_auc": validation_auc, "best_iteration": model.best_iteration_,
                              "test_ece": bands["ece"], **{f"test_band.{b['band']}.{k}": b[k] for b in bands["bands"]
                                                          for k in ("mean_predicted", "realised_rate")}})
        tracking.set_tags({"base_model": str(model.base_), "test_as_of": str(data.plan.test_as_of.date())})
        scores = churn_scores(data.test, model)
        tracking.log_figure(gain_chart(y, scores), "churn_gain_lift")
        probabilities = {name: score for name, score in scores.items() if name != "recency"}
        tracking.log_figure(calibration_chart(y, probabilities), "churn_calibration")
        tracking.log_figure(band_reliability_chart(bands["bands"], f"Calibration by risk band ({gate.served})"), "churn_band_reliability")
        out.mkdir(parents=True, exist_ok=True)
        decile_calibration(y, served_probability).to_csv(out / "calibration_deciles.csv")
        pd.DataFrame(bands["bands"]).to_csv(out / "calibration_bands.csv", index=False)
        model.feature_importance().to_csv(out / "feature_importance.csv")
        for name in ("calibration_deciles.csv", "calibration_bands.csv", "feature_importance.csv"):
            tracking.log_artifact(out / name, "tables")
        served_rows = prepare_to_serve(shop, config.features, config.windows, config.seed, served_as_of(data))
        served = fit_churn(served_rows, config, gate.served)  # type: ignore[arg-type]
        model_dir = served.save(out / "model", shop.fingerprint(),
                                extra={**serving_manifest(shop, data, served_rows), "baseline_gate": gate.as_dict()})
        version, decision = publish(model_dir, CHURN_MODEL, CHURN_METRIC, test_auc,
                                    min_improvement=config.min_improvement, rescore=churn_rescorer(data), refresh_ties=True)
    summary = {
        "windows": windows_summary(data),
        "served_model": serving_manifest(shop, data, served_rows),
        "base_model": model.base_,
        "churn": rows,
        "baseline_gate": gate.as_dict(),
        "calibration": bands,
        "validation_auc": validation_auc,
        "registered_version": version,
        "gate": decision.as_dict(),
    }
    tracking.write_json(out / "summary.json", summary)
    return summary


def train_clv(shop: ShopData, config: ClvConfig, out: Path) -> dict[str, Any]:
    """Fit, evaluate against the baselines, gate a chosen LightGBM against the best baseline, log
    (metrics, CLV decile chart), refit the served estimator up to the data's end, save, register
    ``crm-clv`` and gate it on the test normalized Gini against the champion (re-scored here)."""
    from engine.customers.plots import clv_decile_chart
    from training import tracking
    from training.publish import publish

    with tracking.tracked_run(CLV_EXPERIMENT, config, shop, config.seed):
        data = prepare(shop, config.features, config.windows, config.seed)
        model = fit_clv(data, config)
        rows = clv_rows(data.test, model, data.plan.horizon_days)
        gate = clv_baseline_gate(data, model, rows, config.baseline_margin_se)
        _log_gate(gate)
        test_gini = next(row["normalized_gini"] for row in rows if row["model"] == gate.served)
        tracking.log_metrics(_metric_rows(rows))
        tracking.log_metrics({CLV_METRIC: test_gini, **{f"validation_gini.{k}": v for k, v in model.validation_gini_.items()}})
        tracking.set_tags({"chosen_estimator": model.choice_, "profile_model": model.profile_model_})
        actual = data.test[SPEND].clip(lower=0).to_numpy()
        predicted = clv_predictions(data.test, model, data.plan.horizon_days)
        for name in dict.fromkeys([model.choice_, gate.served, model.profile_model_]):
            tracking.log_figure(clv_decile_chart(actual, predicted[name], f"Spend in the test window by decile: {name}"), f"clv_deciles_{name}")
        served_rows = prepare_to_serve(shop, config.features, config.windows, config.seed, served_as_of(data))
        served = fit_clv(served_rows, config, gate.served)  # type: ignore[arg-type]
        model_dir = served.save(out / "model", shop.fingerprint(),
                                extra={**serving_manifest(shop, data, served_rows), "baseline_gate": gate.as_dict()})
        version, decision = publish(model_dir, CLV_MODEL, CLV_METRIC, test_gini,
                                    min_improvement=config.min_improvement, rescore=clv_rescorer(data), refresh_ties=True)
    summary = {
        "windows": windows_summary(data),
        "served_model": serving_manifest(shop, data, served_rows),
        "chosen": model.choice_,
        "validation_gini": model.validation_gini_,
        "clv": rows,
        "baseline_gate": gate.as_dict(),
        "registered_version": version,
        "gate": decision.as_dict(),
    }
    tracking.write_json(out / "summary.json", summary)
    return summary


# --- models for scoring ------------------------------------------------------------------------------


def check_not_after(
    manifest: dict[str, Any], model_name: str, as_of: pd.Timestamp, data_end: pd.Timestamp, remedy: str
) -> None:
    """Refuse a saved model that was fitted on lines from ``as_of`` on: scoring with it as of ``as_of``
    would look ahead. A model saved before as-of dates were recorded counts as fitted on all the lines
    before ``data_end`` (the day after the data's last line)."""
    seen_until = pd.Timestamp(manifest["as_of"]) if manifest.get("as_of") else data_end
    if seen_until > as_of:
        raise EngineError(
            f"{model_name} was fitted on the lines before {seen_until.date()}, after the as-of date {as_of.date()}: "
            f"scoring with it would look ahead; {remedy}"
        )


def champion_models(
    source: str, as_of: pd.Timestamp | None = None, data_end: pd.Timestamp | None = None
) -> tuple[ChurnClassifier, ClvModel] | None:
    """The ``crm-churn`` and ``crm-clv`` champions from the configured MLflow store, if both exist and
    were trained on ``source``; else None. With ``as_of``, champions fitted on lines from that date on
    are refused with an :class:`EngineError` (see :func:`check_not_after`; ``data_end`` defaults to
    ``as_of``)."""
    from training import tracking

    if tracking.champion_version(CHURN_MODEL) is None or tracking.champion_version(CLV_MODEL) is None:
        return None
    folders = {name: tracking.download_champion(name) for name in (CHURN_MODEL, CLV_MODEL)}
    manifests = {name: json.loads((folder / MANIFEST).read_text()) for name, folder in folders.items()}
    if {manifest.get("data_source") for manifest in manifests.values()} != {source}:
        return None
    if as_of is not None:
        data_end = as_of if data_end is None else data_end
        for name, manifest in manifests.items():
            check_not_after(manifest, name, as_of, data_end, "pass --refit to fit the models on the lines before the as-of date")
    return ChurnClassifier.load(folders[CHURN_MODEL]), ClvModel.load(folders[CLV_MODEL])


