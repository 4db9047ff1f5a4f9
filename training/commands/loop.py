"""``crm bench loop``: the offline feedback loop over a shop's history (see :mod:`training.loop`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from threadpoolctl import threadpool_limits

from training.commands.data import DataArgs, takes_data
from training.console import console, step


@takes_data()
def bench(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="JSON file to write (the plot and the A/B events go beside it).")] = Path(
        "bench/loop.json"
    ),
    config: Annotated[Path | None, typer.Option("--config", help="Loop config YAML (default: configs/loop.yaml).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Override the config's seed (shifted items, assignment).")] = None,
    shift_week: Annotated[int | None, typer.Option("--shift-week", help="Override the week the shift is planted.")] = None,
) -> None:
    """Replay the shop week by week: offline bench of two recommenders, an A/B between them decided
    from its events, then the winner served and monitored with a planted shift (a share of the
    catalogue renewed), retrained on a breach; writes JSON, a PNG of the weekly hit rate and the A/B
    events (parquet, readable by `crm experiment report`)."""
    from training.loop import load_config, plot_loop, run_loop
    from training.tracking import write_json

    settings = load_config(config)
    updates: dict = {} if seed is None else {"seed": seed}
    if shift_week is not None:
        if settings.shift is None:
            raise typer.BadParameter("the config plants no shift; add `shift:` to it", param_hint="--shift-week")
        updates["shift"] = settings.shift.model_copy(update={"week": shift_week})
    settings = type(settings).model_validate({**settings.model_dump(), **updates})
    shop = source.load()
    started = time.perf_counter()

    def progress(message: str) -> None:
        console.print(f"[dim]{time.perf_counter() - started:6.1f} s  {message}[/dim]")

    with step("replay: offline bench, A/B, monitored serving"), threadpool_limits(1, "blas"):
        payload = run_loop(shop.transactions, settings, progress)
    events = payload.pop("ab_events")
    payload["source"] = shop.source
    figure = plot_loop(payload)
    plot = out.with_suffix(".png")
    plot.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(plot, dpi=110)
    events_file = out.with_name(f"{out.stem}.ab-events.parquet")
    events.to_parquet(events_file, index=False)
    payload["plot"], payload["ab_events_file"] = str(plot), str(events_file)
    write_json(out, payload)
    ab = payload["ab"]
    console.print(f"offline: {payload['offline']['better']} better on {payload['offline']['metric']}; "
                  f"A/B: {ab['decision']} ({ab['reason']}); agrees: {payload['ab_agrees_with_offline']}")
    console.print(f"shift detected after {payload['shift_detected_after_weeks']} week(s); "
                  f"restored ratio {payload['restored_ratio']}; "
                  f"control false alarms: {payload.get('control', {}).get('false_alarm_weeks')}")
    console.print(f"written: {out}  {plot}  {events_file}  ({payload['seconds']} s)")
