"""``crm monitor``: compare the current data and the champions' predictions with their training reference.

For each champion in the MLflow registry (churn, CLV, recommender, pricing):

- **reference**: what the model was trained on, recomputed from the current data (which holds the
  training lines): churn/CLV features at the latest training snapshot (``train_as_of[0]`` of the
  manifest); the recommender's and pricing model's last weeks before the end of their training data;
- **current**: the same quantities at the end of the current data (features as of the day after the
  last line; the weeks after the model's training data);
- **drift**: PSI per feature and per prediction (:mod:`engine.monitoring.drift`);
- **realised performance** once outcomes are observable: churn predictions made at the model's as-of
  against the labels after its horizon; the recommender's top-N against the purchases since its
  training (and against the bestsellers of its training data in the same period), the funnel and the
  served lists of feedback events; the pricing model's forecast units at the charged price against the
  units sold;
- **breaches** of ``configs/monitor.yaml``, each naming the model, the feature or metric, value and
  threshold.

Outputs: ``report.json``, ``report.md``, ``plots/*.png``, ``metrics.prom`` (Prometheus text exposition
format, for node_exporter's textfile collector), all logged to an MLflow run of the ``monitoring``
experiment. ``crm monitor`` exits with :data:`BREACH_EXIT` when anything breached (cron can chain
``crm retrain --if-breach``).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from engine.customers.aftersales import AfterSales
from engine.customers.features import CHURNED, SPEND, FeatureSpec, Snapshot, customer_features, window_outcomes
from engine.customers.metrics import normalized_gini
from engine.customers.view import default_as_of
from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.errors import EngineError
from engine.feedback.events import EventColumns
from engine.feedback.store import load_events as load_store_events
from engine.io import MANIFEST
from engine.monitoring import realised
from engine.monitoring.drift import drift_table, psi_categorical, psi_numeric
from engine.monitoring.plots import distribution_chart, drift_chart
from engine.monitoring.thresholds import Breach, MonitorConfig, above, below, drift_breaches

EXPERIMENT = "monitoring"
BREACH_EXIT = 3  # `crm monitor`: 0 no breach, 3 a breach (1 a bug, 2 a user's mistake, as every command)
REPORT_JSON, REPORT_MD, METRICS_PROM = "report.json", "report.md", "metrics.prom"
MODELS = ("crm-churn", "crm-clv", "crm-recommender", "crm-pricing")
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Champion:
    """A registry champion: its version, files, manifest, the end of its training data (the day after
    its run's last line) and the primary metric recorded when it was promoted."""

    name: str
    version: str
    folder: Path
    manifest: dict[str, Any]
    trained_until: pd.Timestamp | None
    metric: str | None
    metric_value: float | None


def find_champion(name: str, scratch: Path) -> Champion | None:
    """Download ``name``'s champion into ``scratch`` (None when the registry has none)."""
    from training import tracking

    version = tracking.champion_version(name)
    if version is None:
        return None
    tags = tracking.version_tags(name, version)
    folder = tracking.download_champion(name, destination=scratch / name)
    # a run without its data summary: the manifest's as_of is used instead
    summary = tracking.version_run_json(name, version, "data_summary.json", scratch / f"{name}-run") or {}
    last = summary.get("last")
    value = tags.get("primary_metric_value")
    return Champion(
        name, version, folder, json.loads((folder / MANIFEST).read_text()),
        pd.Timestamp(last).normalize() + _DAY if last else None,
        tags.get("primary_metric"), float(value) if value is not None else None,
    )


@dataclass
class Section:
    """One model's part of the report."""

    model: str
    version: str | None
    status: str
    details: dict[str, Any] = field(default_factory=dict)
    drift: pd.DataFrame | None = None
    prediction_drift: pd.DataFrame | None = None
    breaches: list[Breach] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        tables = {name: None if table is None else table.round(6).to_dict(orient="records")
                  for name, table in (("drift", self.drift), ("prediction_drift", self.prediction_drift))}
        status = "breached" if self.breaches and self.status == "ok" else self.status  # never "ok" beside a breach
        return {"model": self.model, "version": self.version, "status": status, "details": self.details, **tables,
                "breaches": [breach.as_dict() for breach in self.breaches]}


class SnapshotCache:
    """Customer features by (as-of, spec): churn and CLV share their snapshots."""

    def __init__(self, shop: ShopData) -> None:
        self.shop, self._cache = shop, {}

    def get(self, moment: pd.Timestamp, spec: FeatureSpec) -> Snapshot:
        key = (moment, spec.model_dump_json())
        if key not in self._cache:
            self._cache[key] = customer_features(self.shop.transactions, moment, spec, self.shop.products,
                                                 AfterSales.of(self.shop))
        return self._cache[key]


# --- churn and CLV ---------------------------------------------------------------------------------------


def monitor_customer_model(champion: Champion, now: pd.Timestamp, cache: SnapshotCache, config: MonitorConfig) -> Section:
    """Feature and prediction drift of a churn or CLV champion between its latest training snapshot and
    now; for churn, the realised AUC / log-loss / calibration of its predictions made at its as-of once
    the horizon has passed; for CLV, the realised normalized Gini of its window spend."""
    from engine.customers.churn_gbm import ChurnClassifier
    from engine.customers.clv import ClvModel

    is_churn = champion.name == "crm-churn"
    model = ChurnClassifier.load(champion.folder) if is_churn else ClvModel.load(champion.folder)
    predict = model.predict_proba if is_churn else model.window_spend
    section = Section(champion.name, champion.version, "ok")
    train_as_of = champion.manifest.get("train_as_of") or []
    if not train_as_of:
        raise EngineError(f"{champion.name} v{champion.version}: its manifest records no train_as_of; retrain it with this engine")
    reference_at = pd.Timestamp(train_as_of[0])
    reference, current = cache.get(reference_at, model.spec_), cache.get(now, model.spec_)
    drift = config.drift
    section.drift = drift_table(reference.features, current.features, drift.bins, drift.epsilon, model.feature_names_)
    prediction = "churn_probability" if is_churn else "window_spend"
    before, after = predict(reference.features), predict(current.features)
    section.prediction_drift = pd.DataFrame([{"feature": prediction, "kind": "numeric", "psi": psi_numeric(before, after, drift.bins, drift.epsilon),
                                              "reference_rows": len(before), "current_rows": len(after),
                                              "reference_mean": float(np.mean(before)), "current_mean": float(np.mean(after))}])
    section.breaches += drift_breaches(champion.name, section.drift, drift)
    section.breaches += drift_breaches(champion.name, section.prediction_drift, drift, "prediction_drift")
    section.details = {"reference_as_of": str(reference_at.date()), "current_as_of": str(now.date()),
                       "features_moving": section.drift.loc[section.drift["psi"] > drift.feature_psi_warn, "feature"].tolist()}
    section.figures[f"{champion.name}_feature_psi"] = drift_chart(section.drift, drift.feature_psi_warn, drift.feature_psi,
                                                                   f"{champion.name} v{champion.version}: feature drift")
    section.figures[f"{champion.name}_prediction"] = distribution_chart(before, after, f"{champion.name}: {prediction}", drift.bins)
    section.details["realised"] = _customer_outcomes(champion, model, now, cache, config, section, is_churn)
    return section


def _customer_outcomes(champion: Champion, model: Any, now: pd.Timestamp, cache: SnapshotCache, config: MonitorConfig,
                       section: Section, is_churn: bool) -> dict[str, Any]:
    """The champion's predictions made at its as-of against what happened in the horizon after it."""
    as_of = pd.Timestamp(champion.manifest.get("as_of") or champion.trained_until)
    horizon = model.spec_.horizon_days
    observable = as_of + pd.Timedelta(days=horizon)
    if observable > now:
        return {"status": "pending", "predicted_at": str(as_of.date()), "observable_from": str(observable.date()),
                "reason": f"the {horizon}-day horizon after {as_of.date()} ends after the data ({now.date()})"}
    snapshot = cache.get(as_of, model.spec_)
    outcomes = window_outcomes(cache.shop.transactions, as_of, horizon, snapshot.features.index)
    result: dict[str, Any] = {"status": "observed", "predicted_at": str(as_of.date()), "horizon_days": horizon}
    if is_churn:
        result.update(realised.churn_realised(outcomes[CHURNED].to_numpy(), model.predict_proba(snapshot.features)))
        thresholds = config.churn
        if result["customers"] >= thresholds.min_customers:
            section.breaches += below(champion.name, "performance", "realised_auc", result["auc"], thresholds.min_auc)
            if champion.metric_value is not None and champion.metric == "test_auc":
                result["recorded_auc"] = champion.metric_value
                section.breaches += below(champion.name, "performance", "realised_auc_vs_recorded", result["auc"],
                                          champion.metric_value - thresholds.max_auc_drop)
            section.breaches += above(champion.name, "performance", "realised_ece", result["ece"], thresholds.max_ece)
    else:
        spend = outcomes[SPEND].clip(lower=0).to_numpy()
        result.update({"customers": len(spend), "normalized_gini": normalized_gini(spend, model.window_spend(snapshot.features)),
                       "recorded_normalized_gini": champion.metric_value})
    return result


# --- recommender -----------------------------------------------------------------------------------------


def monitor_recommender(shop: ShopData, champion: Champion, now: pd.Timestamp, config: MonitorConfig,
                        events: pd.DataFrame | None) -> Section:
    """Purchases since the recommender's training: the share on items it has never seen, the category
    mix against its last weeks (PSI), the hit rate of its top-N against what customers bought (and of
    its training data's bestsellers, as the floor it must beat); the feedback funnel and served lists."""
    from engine.recommend.evaluation import relevant_items
    from engine.recommend.popularity import PopularityRecommender
    from engine.recommend.registry import load_recommender

    settings, tx, c = config.recommender, shop.transactions, Columns
    model = load_recommender(champion.folder)
    as_of = pd.Timestamp(model.as_of_).normalize()
    section = Section(champion.name, champion.version, "ok", {"trained_until": str(as_of.date()), "current_as_of": str(now.date())})
    if events is not None:
        section.details["events"] = _funnel(events, "recommendations", champion.name, settings.min_answers,
                                            settings.min_event_hit_rate, section)
    period = tx.loc[tx[c.timestamp] >= as_of]
    if period.empty:
        section.status = "pending"
        section.details["reason"] = f"no purchase since the model's training data ended ({as_of.date()})"
        return section
    length = min(now - as_of, pd.Timedelta(weeks=8))
    before = tx.loc[(tx[c.timestamp] >= as_of - length) & (tx[c.timestamp] < as_of)]
    bought = period.loc[period[c.quantity] > 0]
    unknown = float((~bought[c.item].astype(str).isin(model.items_.external_ids)).mean())
    section.details["unknown_item_share"] = unknown
    section.breaches += above(champion.name, "feature_drift", "unknown_item_share", unknown, settings.max_unknown_item_share)
    if shop.products is not None and not before.empty:
        category = shop.products.set_index(c.item)[c.category]
        mix = {"category_mix": psi_categorical(before[c.item].map(category), period[c.item].map(category), config.drift.epsilon)}
        section.drift = pd.DataFrame([{"feature": name, "kind": "categorical", "psi": value, "reference_rows": len(before),
                                       "current_rows": len(period)} for name, value in mix.items()])
        section.breaches += drift_breaches(champion.name, section.drift, config.drift)
    history = tx.loc[tx[c.timestamp] < as_of]
    known = set(model.customers_.external_ids)
    relevant = {customer: items for customer, items in relevant_items(period, history, settings.task).items() if customer in known}
    if len(relevant) > settings.max_customers:
        chosen = np.random.default_rng(config.seed).choice(sorted(relevant), settings.max_customers, replace=False)
        relevant = {customer: relevant[customer] for customer in sorted(chosen)}
    if len(relevant) < settings.min_customers:
        section.details["hit_rate"] = {"status": "too few", "customers": len(relevant)}
        return section
    k, key = settings.k, f"hit_rate@{settings.k}"
    lists = {r.subject: list(r.item_ids) for r in model.recommend(list(relevant), k=k, task=settings.task)}
    bestsellers = PopularityRecommender(by="buyers").fit(history)
    floor = {r.subject: list(r.item_ids) for r in bestsellers.recommend(list(relevant), k=k, task=settings.task)}
    champion_hits, popularity_hits = realised.list_hit_rate(lists, relevant, k), realised.list_hit_rate(floor, relevant, k)
    lift = champion_hits[key] / popularity_hits[key] if popularity_hits[key] > 0 else None
    section.details["hit_rate"] = {"task": settings.task, "champion": champion_hits, "bestsellers": popularity_hits, "lift": lift}
    section.breaches += below(champion.name, "performance", f"{key}_lift_over_bestsellers", lift, settings.min_lift_over_popularity)
    if settings.min_hit_rate > 0:
        section.breaches += below(champion.name, "performance", key, champion_hits[key], settings.min_hit_rate)
    if events is not None:
        served = realised.served_lists(events.loc[events[EventColumns.timestamp] >= as_of], k)
        served_relevant = {customer: items for customer, items in relevant_items(period, history, settings.task).items() if customer in served}
        if served_relevant:
            section.details["served_lists"] = realised.list_hit_rate(served, served_relevant, k)
    return section


def _funnel(events: pd.DataFrame, funnel: str, model: str, min_answers: int, floor: float, section: Section) -> dict[str, Any]:
    """The event funnel of one kind of answer per model version, with the hit-rate floor judged on
    versions with at least ``min_answers`` exposed answers."""
    table = realised.event_funnel(events, funnel)
    if table.empty:
        return {"status": "no exposure events"}
    if floor > 0:
        for row in table.itertuples():
            if row.answers >= min_answers:
                section.breaches += below(model, "performance", f"event_hit_rate[v{row.model_version}]", row.hit_rate, floor)
    return {"by_model_version": table.round(6).to_dict(orient="records"), "unmatched_responses": table.attrs["unmatched"]}


# --- pricing ---------------------------------------------------------------------------------------------


def monitor_pricing(shop: ShopData, champion: Champion, now: pd.Timestamp, config: MonitorConfig,
                    events: pd.DataFrame | None) -> Section:
    """Weeks after the pricing model's training data: units sold against its forecast at the price
    charged (WMAPE, bias), drift of the price relative to the model's current price and of weekly
    units against its last training weeks, and the quote funnel of the events."""
    from engine.pricing import panel as P
    from engine.pricing.base import ELASTICITY
    from engine.pricing.optimizer import BASE_UNITS, CURRENT_PRICE, PriceOptimizer

    settings = config.pricing
    optimizer = PriceOptimizer.load(champion.folder, model_version=champion.version)
    section = Section(champion.name, champion.version, "ok", {"current_as_of": str(now.date())})
    if events is not None:
        section.details["events"] = _funnel(events, "quotes", champion.name, 1, 0.0, section)
    if champion.trained_until is None:
        section.status = "skipped"
        section.details["reason"] = "its run records no data summary: the end of its training data is unknown"
        return section
    panel = P.shop_panel(shop)
    panel = panel.loc[panel[Columns.item].isin(optimizer.facts_.index)]
    panel = panel.assign(**{
        CURRENT_PRICE: panel[Columns.item].map(optimizer.facts_[CURRENT_PRICE]),
        BASE_UNITS: panel[Columns.item].map(optimizer.facts_[BASE_UNITS]),
        ELASTICITY: panel[Columns.item].map(optimizer.elasticities_[ELASTICITY]),
    })
    panel["price_ratio"] = panel[P.PRICE] / panel[CURRENT_PRICE]
    period = panel.loc[panel[P.WEEK] >= champion.trained_until]
    section.details["trained_until"] = str(champion.trained_until.date())
    if period.empty:
        section.status = "pending"
        section.details["reason"] = f"no whole week of sales since the model's training data ended ({champion.trained_until.date()})"
        return section
    weeks = period[P.WEEK].nunique()
    before = panel.loc[(panel[P.WEEK] < champion.trained_until) & (panel[P.WEEK] >= champion.trained_until - pd.Timedelta(weeks=max(weeks, 4)))]
    section.drift = drift_table(before[["price_ratio", P.UNITS]], period[["price_ratio", P.UNITS]], config.drift.bins, config.drift.epsilon)
    section.breaches += drift_breaches(champion.name, section.drift, config.drift)
    forecast = realised.forecast_units(period[BASE_UNITS], period[CURRENT_PRICE], period[ELASTICITY], period[P.PRICE])
    response = realised.price_response(period[P.UNITS].to_numpy(), forecast)
    section.details.update({"weeks": int(weeks), "realised": response,
                            "recorded": {"metric": champion.metric, "value": champion.metric_value}})
    if response["product_weeks"] >= settings.min_product_weeks:
        section.breaches += above(champion.name, "performance", "realised_wmape", response["wmape"], settings.max_wmape)
        if champion.metric_value is not None and champion.metric == "forecast_wmape":
            section.breaches += above(champion.name, "performance", "realised_wmape_vs_recorded", response["wmape"],
                                      champion.metric_value * (1 + settings.max_wmape_increase))
    return section


# --- the run ---------------------------------------------------------------------------------------------


def load_events(location: str) -> pd.DataFrame:
    """Feedback events from a file or an event store URL (:func:`engine.feedback.store.load_events`:
    numbers already parsed), checked for what monitoring needs (:func:`engine.monitoring.realised.check_events`)."""
    return realised.check_events(load_store_events(location))


def run_monitor(shop: ShopData, config: MonitorConfig, events: pd.DataFrame | None = None,
                models: tuple[str, ...] = MODELS) -> tuple[dict[str, Any], list[Section]]:
    """Monitor every champion of the configured registry on ``shop``; returns the report and its sections."""
    from training import tracking

    started = time.perf_counter()
    now = default_as_of(shop.transactions)
    cache, sections = SnapshotCache(shop), []
    with tempfile.TemporaryDirectory(prefix="crm-monitor-") as scratch, tracking.quiet_downloads():
        for name in models:
            champion = find_champion(name, Path(scratch))
            if champion is None:
                sections.append(Section(name, None, "no champion"))
            elif name in ("crm-churn", "crm-clv"):
                sections.append(monitor_customer_model(champion, now, cache, config))
            elif name == "crm-recommender":
                sections.append(monitor_recommender(shop, champion, now, config, events))
            else:
                sections.append(monitor_pricing(shop, champion, now, config, events))
    breaches = [breach for section in sections for breach in section.breaches]
    report = {
        "data": {"source": shop.source, "fingerprint": shop.fingerprint(), "current_as_of": str(now.date())},
        "events": None if events is None else {"rows": len(events), "by_type": events[EventColumns.event_type].value_counts().to_dict()},
        "breached": bool(breaches),
        "breaches": [breach.as_dict() for breach in breaches],
        "models": [section.as_dict() for section in sections],
        "thresholds": config.model_dump(mode="json"),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return report, sections


def markdown(report: dict[str, Any]) -> str:
    """The report for people: breaches first, then each model's drift and realised figures."""
    lines = [f"# Monitoring report: {report['data']['source']} as of {report['data']['current_as_of']}", ""]
    lines += ["## Breaches", ""] + ([f"- {b['message']}" for b in report["breaches"]] or ["none"]) + [""]
    for section in report["models"]:
        lines += [f"## {section['model']} v{section['version']}: {section['status']}", ""]
        for name in ("drift", "prediction_drift"):
            rows = section.get(name) or []
            if rows:
                lines += [f"{name.replace('_', ' ')} (PSI, largest first):", "", "| feature | PSI |", "|---|---|"]
                lines += [f"| {row['feature']} | {row['psi']:.4f} |" for row in rows[:15]] + [""]
        if section["details"]:
            lines += ["```json", json.dumps(section["details"], indent=2, default=str), "```", ""]
    return "\n".join(lines)


def prometheus_metrics(report: dict[str, Any], sections: list[Section], path: Path) -> Path:
    """Write the report's figures in Prometheus text format (atomically: node_exporter's textfile
    collector never reads half a file)."""
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    psi = Gauge("crm_monitor_feature_psi", "PSI of a model feature, training reference vs now", ["model", "feature"], registry=registry)
    prediction = Gauge("crm_monitor_prediction_psi", "PSI of a model's predictions", ["model", "prediction"], registry=registry)
    metric = Gauge("crm_monitor_realised", "Realised performance of a champion", ["model", "metric"], registry=registry)
    breach = Gauge("crm_monitor_breach", "1 for each threshold crossed", ["model", "kind", "name"], registry=registry)
    count = Gauge("crm_monitor_breaches", "Thresholds crossed in the last run", registry=registry)
    stamp = Gauge("crm_monitor_last_run_timestamp_seconds", "When the last monitoring run finished", registry=registry)
    for section in sections:
        for table, gauge in ((section.drift, psi), (section.prediction_drift, prediction)):
            if table is not None:
                for row in table.itertuples():
                    gauge.labels(section.model, row.feature).set(row.psi)
        for name, value in _flat_numbers(section.details.get("realised") or section.details.get("hit_rate") or {}).items():
            metric.labels(section.model, name).set(value)
        if "unknown_item_share" in section.details:
            metric.labels(section.model, "unknown_item_share").set(section.details["unknown_item_share"])
        for item in section.breaches:
            breach.labels(item.model, item.kind, item.name).set(1)
    count.set(len(report["breaches"]))
    stamp.set(time.time())
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
    return path


def _flat_numbers(values: dict[str, Any], prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in values.items():
        name = f"{prefix}{key}".replace("@", "_at_")
        if isinstance(value, dict):
            flat.update(_flat_numbers(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
            flat[name] = float(value)
    return flat


def monitor(shop: ShopData, config: MonitorConfig, out: Path, events: pd.DataFrame | None = None) -> dict[str, Any]:
    """Run the monitor, write the report, plots and Prometheus file into ``out`` and log them all to an
    MLflow run of the ``monitoring`` experiment (breaches as metrics and tags)."""
    from training import tracking

    out.mkdir(parents=True, exist_ok=True)
    with tracking.tracked_run(EXPERIMENT, config, shop, config.seed, run_name=f"monitor {shop.source}"):
        report, sections = run_monitor(shop, config, events)
        (out / "plots").mkdir(exist_ok=True)
        for section in sections:
            for name, figure in section.figures.items():
                figure.savefig(out / "plots" / f"{name}.png", dpi=80)
                tracking.log_figure(figure, name)
        tracking.write_json(out / REPORT_JSON, report)
        (out / REPORT_MD).write_text(markdown(report))
        prometheus_metrics(report, sections, out / METRICS_PROM)
        for name in (REPORT_JSON, REPORT_MD, METRICS_PROM):
            tracking.log_artifact(out / name)
        for section in sections:
            tracking.log_metrics(_flat_numbers(section.details.get("realised") or section.details.get("hit_rate") or {}), prefix=f"{section.model}.")
            for table in (section.drift, section.prediction_drift):
                if table is not None:
                    tracking.log_metrics({f"{section.model}.psi.{row.feature}": row.psi for row in table.itertuples()})
        tracking.log_metrics({"breaches": float(len(report["breaches"]))})
        tracking.set_tags({"breached": str(report["breached"]), "breaches": "; ".join(b["message"] for b in report["breaches"])[:5000] or "none"})
    return report
