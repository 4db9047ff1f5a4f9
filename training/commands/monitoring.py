"""``crm monitor`` and ``crm retrain``: watch the champions on current data, and retrain what changed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from training.commands.data import DataArgs, takes_data
from training.commands.options import TrackingOption
from training.config import load_config
from training.console import console, step


@takes_data()
def monitor(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="Folder for report.json, report.md, plots/ and metrics.prom")] = Path("out/monitor"),
    events: Annotated[str | None, typer.Option("--events", help="Feedback events: a CSV/Parquet file with the event columns, or an event store URL")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML like configs/monitor.yaml (thresholds)")] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Compare the current data and the champions' predictions with their training reference: PSI per
    feature and per prediction, realised churn / hit rate / price response once outcomes are in, and
    the feedback events. Writes a report, plots and Prometheus metrics, logged to MLflow.

    Exit code 0: no breach; 3: a threshold was crossed (the report names each); 2: bad input."""
    from engine.monitoring.thresholds import MonitorConfig
    from training import tracking
    from training.monitor import BREACH_EXIT, METRICS_PROM, REPORT_JSON, REPORT_MD, load_events
    from training.monitor import monitor as run

    settings = load_config(config, MonitorConfig)
    feedback = load_events(events) if events else None
    shop = source.load()
    tracking.configure(tracking_uri)
    with step("monitoring every champion against its training reference"):
        report = run(shop, settings, out, feedback)
    for section in report["models"]:
        console.print(f"{section['model']} v{section['version']}: {section['status']}")
    console.print(f"wrote {out / REPORT_JSON}, {out / REPORT_MD}, {out / 'plots'}, {out / METRICS_PROM} ({report['seconds']} s)")
    if report["breached"]:
        for breach in report["breaches"]:
            console.print(f"[red]breach:[/red] {breach['message']}")
        raise typer.Exit(BREACH_EXIT)
    console.print("[green]no breach[/green]")


@takes_data()
def retrain(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="Folder for every pipeline's output and retrain_state.json")] = Path("out/retrain"),
    config_dir: Annotated[Path | None, typer.Option("--config-dir", help="Folder with segments/churn/clv/pricing/recommender.yaml (default: built-in settings)")] = None,
    steps: Annotated[str | None, typer.Option("--steps", help="Only these steps, comma-separated (default: all)")] = None,
    if_breach: Annotated[Path | None, typer.Option("--if-breach", help="Run only if this crm monitor report.json has a breach")] = None,
    force: Annotated[bool, typer.Option("--force", help="Run every step even if its data and config are unchanged")] = False,
    full_search_days: Annotated[int, typer.Option("--full-search-days", min=0, help="The recommender searches its validation window again once the data grew by this many days since its last search, or when its last run failed a gate; between, it refits and gates that search's choices (0: search every run)")] = 28,
    tracking_uri: TrackingOption = None,
) -> None:
    """Run every pipeline in dependency order, each through its gate: segments -> churn, clv ->
    churn-list; pricing; recommender; then serve import. A step whose data fingerprint, config and
    upstream steps are unchanged since its last successful run is skipped; after a failure, running
    again repeats only the failed and unfinished steps.

    Exit code 0: every step done or unchanged; 4: a step failed or was blocked (run again to resume)."""
    from training.retrain import BLOCKED, FAILED, FAILED_EXIT, STEP_NAMES, RetrainOptions, breached
    from training.retrain import retrain as run

    if if_breach is not None:
        found = breached(if_breach)
        if not found:
            console.print(f"no breach in {if_breach}: nothing to retrain")
            return
        console.print(f"{len(found)} breach(es) in {if_breach}, e.g. {found[0]}: retraining")
    chosen = tuple(name.strip() for name in steps.split(",") if name.strip()) if steps else STEP_NAMES
    options = RetrainOptions(source, out, config_dir, tracking_uri, chosen, force, full_search_days)
    outcome = run(options, source.load, report=console.print)
    troubled = [name for name, result in outcome.items() if result["status"] in (FAILED, BLOCKED)]
    if troubled:
        console.print(f"[red]not finished:[/red] {', '.join(troubled)}; see {out / 'retrain_state.json'} and run again to resume")
        raise typer.Exit(FAILED_EXIT)
    console.print("[green]every step done or unchanged[/green]")
