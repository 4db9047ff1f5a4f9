"""``crm experiment report|promote|rollback``: an online experiment's figures and decision, and the
registry alias moves that act on it (see :mod:`training.experiments`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from training.commands.options import TrackingOption
from training.console import console

if TYPE_CHECKING:
    from engine.feedback.experiments import ExperimentReport

app = typer.Typer(help="Online experiments: per-variant metrics, decision, promote or roll back.", no_args_is_help=True)

EventsOption = Annotated[str, typer.Option("--events", help="Events file (.parquet, .csv, .csv.gz) with the EventColumns, or an event store URL (sqlite:///..., postgresql://...).")]
RuleOption = Annotated[Path | None, typer.Option("--config", help="Decision rule YAML (default: configs/experiment.yaml).")]
ModelOption = Annotated[str, typer.Option("--model", help="Registered model whose aliases move.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Act even though the decision rule says otherwise.")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why --force was needed (recorded in the registry).")]
_MODEL = "crm-recommender"


def _print(report: ExperimentReport) -> None:
    table = Table(title=f"customers: {report.customers}; {report.required_customers_per_arm} per arm needed")
    for column in ("metric", "champion", "challenger", "difference", "CI low", "CI high"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for c in report.comparisons.values():
        table.add_row(c.metric, f"{c.champion:.4f}", f"{c.challenger:.4f}", f"{c.difference:+.4f}", f"{c.ci_low:+.4f}", f"{c.ci_high:+.4f}")
    console.print(table)
    colour = {"promote": "green", "rollback": "red"}.get(report.decision, "yellow")
    console.print(f"[{colour}]decision: {report.decision}[/{colour}] ({report.reason})")


@app.command()
def report(
    events: EventsOption,
    config: RuleOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the report as JSON.")] = None,
) -> None:
    """Per-variant hit rate, conversion and revenue per customer with confidence intervals, the sample
    size the rule needs, and its decision (promote, rollback, keep_running, keep_champion)."""
    from training.experiments import report_from_file
    from training.tracking import write_json

    result = report_from_file(events, config)
    _print(result)
    if out is not None:
        write_json(out, result.as_dict())
        console.print(f"written: {out}")


def _act(action: str, events: str, config: Path | None, model: str, force: bool, reason: str | None, uri: str | None) -> None:
    from training import experiments, tracking

    result = experiments.report_from_file(events, config)
    _print(result)
    tracking.configure(uri)
    change = getattr(experiments, action)(model, result, force=force, reason=reason)
    forced = " (FORCED: the rule said otherwise)" if change.forced else ""
    console.print(f"{action}: {model} champion v{change.champion}, challenger v{change.challenger}{forced}; reason: {change.reason}")


@app.command()
def promote(
    events: EventsOption, config: RuleOption = None, model: ModelOption = _MODEL, force: ForceOption = False,
    reason: ReasonOption = None, tracking_uri: TrackingOption = None,
) -> None:
    """Move the registry's `champion` alias to the `challenger` version if the rule says promote."""
    _act("promote", events, config, model, force, reason, tracking_uri)


@app.command()
def rollback(
    events: EventsOption, config: RuleOption = None, model: ModelOption = _MODEL, force: ForceOption = False,
    reason: ReasonOption = None, tracking_uri: TrackingOption = None,
) -> None:
    """Remove the registry's `challenger` alias (the champion serves everyone) if the rule says roll back."""
    _act("rollback", events, config, model, force, reason, tracking_uri)
