"""``crm train pricing`` and ``crm bench pricing``: causal elasticities and the guarded optimizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from training.commands.data import DataArgs, takes_data
from training.commands.engine_options import takes_engine
from training.commands.options import TrackingOption
from training.config import load_config
from training.console import console, step

ConfigOption = Annotated[Path | None, typer.Option("--config", help="YAML like configs/pricing.yaml")]


@takes_data()
@takes_engine
def train(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="Folder for the model, tables and summary.json")] = Path("out/pricing"),
    config: ConfigOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Fit every elasticity estimator, score them on the holdout weeks, build the guarded optimizer from
    the chosen one; log to MLflow, register crm-pricing and gate it on the holdout forecast WMAPE."""
    from training import tracking
    from training.pricing import PricingConfig, train_pricing

    settings = load_config(config, PricingConfig)
    shop = source.load(include_promotions=True)
    tracking.configure(tracking_uri)
    with step("pricing: estimators, optimizer, MLflow"):
        summary = train_pricing(shop, settings, out)
    _print_scores(summary["scores"], summary["chosen"], summary["notes"])
    console.print(f"chosen: {summary['why']}")
    console.print(f"quotes by reason: {summary['quote_reasons']}")
    gate = summary["gate"]
    console.print(f"registered crm-pricing v{summary['registered_version']}: {gate['reason']}")
    console.print(f"wrote {out}/model, {out}/summary.json and the tables")


@takes_data("synthetic", "synthetic (twins over seeds) or a real source, e.g. completejourney")
def bench(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="JSON file for the figures")],
    config: ConfigOption = None,
    seeds: Annotated[str | None, typer.Option("--seeds", help="Comma-separated seeds for every design, development and held-out (default: the config's)")] = None,
    designs: Annotated[str | None, typer.Option("--designs", help="Comma-separated design names to run (default: the whole family)")] = None,
    split: Annotated[str | None, typer.Option("--split", help="Comma-separated splits to run: development, held_out, sealed, sealed_2, sealed_3, sealed_4 (default: all)")] = None,
) -> None:
    """Score every estimator: on the synthetic design family (development and held-out designs) the
    chosen estimator's elasticity error, 95% interval coverage and the optimizer's profit against the
    oracle's, per design; on real data the sign accuracy of +10% responses. Writes JSON."""
    from engine.pricing.designs import SPLITS
    from training.pricing import PricingConfig
    from training.pricing_bench import bench_real, bench_synthetic, finite
    from training.tracking import write_json

    settings = load_config(config, PricingConfig)
    if seeds:
        chosen = [int(s) for s in seeds.split(",")]
        settings = settings.model_copy(update={"bench": settings.bench.model_copy(update={f"{s}_seeds": chosen for s in SPLITS})})
    if source.data == "synthetic":
        names = designs.split(",") if designs else None
        with step("pricing bench on the synthetic design family"):
            result = bench_synthetic(settings, progress=lambda message: console.print(f"  {message}"), designs=names, splits=split.split(",") if split else None)
    else:
        shop = source.load(include_promotions=True)
        with step(f"pricing bench on {source.data}"):
            result = bench_real(shop, settings)
    write_json(out, finite(result))
    rows = {e["name"]: {k: v for k, v in e.items() if k != "name"} for e in result["estimators"]}
    _print_scores(rows, result["chosen"], result.get("notes", []))
    if "designs" in result:
        _print_designs(result["designs"])
    console.print(json.dumps(finite(result["targets"]), default=str))
    console.print(f"wrote {out}")


_SHOWN = (
    "forecast_wmape", "cf_wmape", "cf_wmape_confounded", "cf_wmape_unconfounded", "elasticity_median_ae",
    "elasticity_bias", "coverage_95", "sign_accuracy",
)
_DESIGN_COLUMNS = ("split", "chosen", "median_abs_error", "best_available", "error_vs_best", "coverage_95", "profit_vs_constrained_oracle", "violations")


def _print_designs(entries: list[dict]) -> None:
    """One row per design: the chosen estimator's figures (means over seeds)."""
    table = Table(title="Pricing bench per design (chosen estimator, means over seeds)")
    table.add_column("design")
    for column in _DESIGN_COLUMNS:
        table.add_column(column, justify="right")
    for entry in entries:
        cells = [f"{entry[c]:.3f}" if isinstance(entry.get(c), float) else str(entry.get(c)) for c in _DESIGN_COLUMNS]
        table.add_row(entry["design"], *cells)
    console.print(table)


def _print_scores(scores: dict[str, dict[str, float]], chosen: str, notes: list[str]) -> None:
    present = {key for row in scores.values() for key in row}
    columns = [name for name in _SHOWN if name in present]
    table = Table(title=f"Pricing estimators (chosen: {chosen})")
    table.add_column("estimator")
    for column in columns:
        table.add_column(column, justify="right")
    for name, row in scores.items():
        cells = [f"{row[c]:.4f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns]
        table.add_row(name + (" *" if name == chosen else ""), *cells)
    console.print(table)
    for note in notes:
        console.print(f"note: {note}")
