"""The monitoring report for people (markdown) and for Prometheus (text exposition format)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from training.monitor.sections import Section


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
        for name, value in flat_numbers(section.details.get("realised") or section.details.get("hit_rate") or {}).items():
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


def flat_numbers(values: dict[str, Any], prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in values.items():
        name = f"{prefix}{key}".replace("@", "_at_")
        if isinstance(value, dict):
            flat.update(flat_numbers(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
            flat[name] = float(value)
    return flat
