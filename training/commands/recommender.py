"""``crm train recommender`` and ``crm bench recommender``."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from threadpoolctl import threadpool_limits

from training.commands.data import DataArgs, takes_data
from training.commands.engine_options import takes_engine
from training.commands.options import TrackingOption
from training.console import console, step

if TYPE_CHECKING:
    from training.recommender import Experiment

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Pipeline config YAML (default: configs/recommender.yaml).")
]


def _progress() -> Callable[[str], None]:
    started = time.perf_counter()

    def report(message: str) -> None:
        console.print(f"[dim]{time.perf_counter() - started:6.1f} s  {message}[/dim]")

    return report


def _results_table(experiment: Experiment, title: str) -> Table:
    k = experiment.config.k
    timed = all(row.timing for row in experiment.results)
    columns = ["model", "task", f"ndcg@{k}", "SE", f"precision@{k}", f"hit_rate@{k}", "customers", "fit s", "vs best baseline"]
    table = Table(title=title)
    for column in columns + (["p50 ms", "p99 ms"] if timed else []):
        table.add_column(column, justify="left" if column in ("model", "task") else "right")
    for row in experiment.results:
        cells = [
            row.model, row.task, f"{row.metrics[f'ndcg@{k}']:.4f}", f"{row.standard_error:.4f}",
            f"{row.metrics[f'precision@{k}']:.4f}", f"{row.metrics[f'hit_rate@{k}']:.3f}", str(row.n_customers),
            "" if row.fit_seconds is None else f"{row.fit_seconds:.1f}",
            "" if not row.versus else f"{row.versus['model']} x{row.versus['ratio']:.3f} ({row.versus['gap_in_se']:+.1f} SE)",
        ]
        if timed:
            cells += [f"{row.timing['recommend_p50_ms']:.2f}", f"{row.timing['recommend_p99_ms']:.2f}"]
        table.add_row(*cells)
    return table


@takes_data()
@takes_engine
def train(
    source: DataArgs,
    config: ConfigOption = None,
    tracking_uri: TrackingOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the chosen model and results.json.")] = None,
    segments_config: Annotated[Path | None, typer.Option("--segments-config", help="YAML like configs/segments.yaml (the cold-start segments' names)")] = None,
    reuse_search: Annotated[Path | None, typer.Option("--reuse-search", help="results.json of an earlier run under the same config: refit and gate its choices without searching the validation window again (crm retrain uses it between full searches).")] = None,
) -> None:
    """Fit the recommenders, evaluate them against the baselines on a held-out window, log everything
    to MLflow, register crm-recommender and move its champion alias only if it is better."""
    # one BLAS thread: implicit runs its own threads, and scoring one customer is faster on one
    with threadpool_limits(1, "blas"):
        _train(source, config, tracking_uri, out, segments_config, reuse_search)


def _train(source: DataArgs, config: Path | None, tracking_uri: str | None, out: Path | None,
           segments_config: Path | None, reuse_search: Path | None) -> None:
    from training import tracking
    from training.commands.segments import SegmentsConfig
    from training.config import load_config as read_config
    from training.recommender import MODEL_NAME, load_config, read_search_record
    from training.recommender import train as run_train

    settings = load_config(config)
    rules = read_config(segments_config, SegmentsConfig).segments
    reuse = read_search_record(reuse_search) if reuse_search is not None else None
    shop = source.load()
    uri = tracking.configure(tracking_uri)
    folder = out or Path(tempfile.mkdtemp(prefix="crm-recommender-"))
    with step("search on the validation window, fit, evaluate on the test window" if reuse is None else
              f"reuse the search of {reuse_search}, fit, evaluate on the test window"):
        outcome = run_train(shop, settings, folder, progress=_progress(), segment_rules=rules, reuse=reuse)
    experiment = outcome.experiment
    console.print(_results_table(experiment, f"{shop.source}: {experiment.protocol.name} protocol, test window"))
    console.print(f"chosen: {experiment.chosen.spec()}")
    for reason in outcome.baselines.replaced:
        console.print(f"[yellow]baseline gate: {reason}[/yellow]")
    for warning in outcome.baselines.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]")
    decision = outcome.decision
    colour = "green" if decision.promoted else "yellow"
    console.print(f"[{colour}]{MODEL_NAME} v{decision.version}: "
                  f"{'champion' if decision.promoted else 'not promoted'} ({decision.reason})[/{colour}]")
    console.print(f"model: {outcome.model_dir}  results: {folder / 'results.json'}  MLflow: {uri} run {outcome.run_id}")


@takes_data()
def bench(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="JSON file to write.")] = Path("bench/recommender.json"),
    config: ConfigOption = None,
) -> None:
    """Every model and baseline on several out-of-time cuts (each with its own validation window):
    metrics with standard errors, the gap to each task's best baseline in standard errors, the mean
    over cuts, fit seconds and (latest cut) recommend latency, written as JSON."""
    with threadpool_limits(1, "blas"):
        _bench(source, out, config)


def _bench(source: DataArgs, out: Path, config: Path | None) -> None:
    from training.recommender import add_latency, cuts_payload, load_config, run_cuts
    from training.tracking import write_json

    settings = load_config(config)
    shop = source.load()
    with step("every cut: search on its validation window, fit and evaluate every model on its test window"):
        experiments = run_cuts(shop, settings, all_models=True, progress=_progress())
    with step("recommend latency (latest cut)"):
        add_latency(experiments[0], progress=_progress())
    payload = cuts_payload(experiments)
    write_json(out, payload)
    for experiment in experiments:
        console.print(_results_table(experiment, f"{shop.source}: {experiment.protocol.name} protocol, cut {experiment.cut}"))
    console.print(_summary_table(payload["summary"], settings.metric(), len(experiments)))
    console.print(f"written: {out}")


def _summary_table(summary: list[dict], metric: str, cuts: int) -> Table:
    table = Table(title=f"mean over {cuts} cuts; ratio and gap (paired SEs) to each cut's best baseline")
    for column in ("model", "task", metric, "SE (cuts)", "ratio", "gap in SE per cut", "significant"):
        table.add_column(column, justify="left" if column in ("model", "task") else "right")
    for entry in summary:
        versus = entry.get("versus_best_baseline")
        table.add_row(
            entry["model"], entry["task"], f"{entry[metric]:.4f}", f"{entry['se_across_cuts']:.4f}",
            f"{versus['mean_ratio']:.3f}" if versus else "",
            " ".join(f"{gap:+.1f}" for gap in versus["gap_in_se"]) if versus else "",
            ("yes" if versus["significant_on_every_cut"] else "no") if versus else "baseline",
        )
    return table
