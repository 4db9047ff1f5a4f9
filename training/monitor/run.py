"""``crm monitor``'s run: every champion of the registry monitored on the current data, the report
written and logged to an MLflow run of the ``monitoring`` experiment."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from engine.customers.view import default_as_of
from engine.data.dataset import ShopData
from engine.feedback.events import EventColumns
from engine.feedback.store import load_events as load_store_events
from engine.monitoring import realised
from engine.monitoring.thresholds import MonitorConfig
from training.monitor.customers import monitor_customer_model
from training.monitor.pricing import monitor_pricing
from training.monitor.recommender import monitor_recommender
from training.monitor.report import flat_numbers, markdown, prometheus_metrics
from training.monitor.sections import Section, SnapshotCache, find_champion

EXPERIMENT = "monitoring"
BREACH_EXIT = 3  # `crm monitor`: 0 no breach, 3 a breach (1 a bug, 2 a user's mistake, as every command)
REPORT_JSON, REPORT_MD, METRICS_PROM = "report.json", "report.md", "metrics.prom"
MODELS = ("crm-churn", "crm-clv", "crm-recommender", "crm-pricing")


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
            tracking.log_metrics(flat_numbers(section.details.get("realised") or section.details.get("hit_rate") or {}), prefix=f"{section.model}.")
            for table in (section.drift, section.prediction_drift):
                if table is not None:
                    tracking.log_metrics({f"{section.model}.psi.{row.feature}": row.psi for row in table.itertuples()})
        tracking.log_metrics({"breaches": float(len(report["breaches"]))})
        tracking.set_tags({"breached": str(report["breached"]), "breaches": "; ".join(b["message"] for b in report["breaches"])[:5000] or "none"})
    return report
