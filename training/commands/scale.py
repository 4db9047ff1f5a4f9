"""``crm bench scale``: each stage's wall time and peak memory on the shop replicated 1x, 2x, 4x, ..."""

from __future__ import annotations

import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from engine.errors import EngineError
from training.commands.data import DataArgs, takes_data
from training.console import console, step
from training.replicate import ReplicatedShop, write_replicated_shop


def parse_sizes(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``: distinct whole multiples >= 1, in the order given (the order they run)."""
    try:
        sizes = list(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise EngineError(f"--sizes {text!r}: give whole numbers separated by commas, e.g. 1,2,4,10") from None
    if not sizes or min(sizes) < 1:
        raise EngineError(f"--sizes {text!r}: every size is a whole multiple >= 1")
    return sizes


def replicated_shops(source: DataArgs, multiples: list[int], folder: Path) -> dict[int, ReplicatedShop]:
    """Load the shop once and write it replicated at each multiple under ``folder/x{k}/data``."""
    base = source.load(include_promotions=True)
    return {k: write_replicated_shop(base, k, folder / f"x{k}" / "data") for k in multiples}


@takes_data()
def bench(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="JSON file to write (the plot goes beside it, .png).")] = Path("bench/scale.json"),
    sizes: Annotated[str, typer.Option("--sizes", help="Multiples of the shop to build and time, run in this order, e.g. 1,2,4,10.")] = "1,2,4",
    stage: Annotated[list[str] | None, typer.Option("--stage", help="Run only this stage (repeatable); default: all.")] = None,
    work: Annotated[Path | None, typer.Option("--work", help="Folder for the replicated data, logs and models (default: a new temporary folder).")] = None,
    min_available_gb: Annotated[float, typer.Option("--min-available-gb", help="Stop a stage when the machine's available memory drops below this.")] = 4.0,
) -> None:
    """Replicate the shop's customers k times for each size (same catalogue, prices and dates), run every
    stage as a fresh `crm` process on each size, and write wall seconds, peak resident MB and the growth
    exponent (slope of log time on log size, 1x to 4x) per stage, with a plot."""
    from training.bench_scale import LOCAL_STAGES, plot, run_bench, write

    multiples = parse_sizes(sizes)
    known = {s.name: s for s in LOCAL_STAGES}
    unknown = sorted(set(stage or []) - set(known))
    if unknown:
        raise EngineError(f"--stage {unknown}: unknown; the stages are {list(known)}")
    stages = [s for s in LOCAL_STAGES if not stage or s.name in stage]
    folder = work or Path(tempfile.mkdtemp(prefix="crm-scale-"))
    with step(f"loading {source.data} and writing it replicated {', '.join(f'{k}x' for k in multiples)} to {folder}"):
        # in a child process: its memory is the OS's again before the stages run and are measured
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            shops = pool.submit(replicated_shops, source, multiples, folder).result()
    payload = run_bench(stages, shops, folder, min_available_gb, progress=console.print, save=lambda p: write(p, out))
    picture = plot(payload, out.with_suffix(".png"))
    for name, entry in payload["stages"].items():
        console.print(f"{name}: wall {entry['wall_s']} s, peak {entry['peak_mb']} MB, exponent {entry['exponent']}")
    for note in payload["notes"]:
        console.print(escape(note), style="yellow")
    console.print(f"written: {out} and {picture}")
