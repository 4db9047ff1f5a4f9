"""``crm bench scale``: each stage's wall time and peak memory on the shop replicated 1x, 2x, 4x, ..."""

from __future__ import annotations

import json
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
from training.replicate import ReplicatedShop, write_replicated_shop, written_shop


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
    """The shop replicated at each multiple under ``folder/x{k}/data``: written there before (same
    ``--work``), else loaded once and written."""
    shops = {k: written_shop(k, folder / f"x{k}" / "data") for k in multiples}
    missing = [k for k, shop in shops.items() if shop is None]
    if missing:
        base = source.load(include_promotions=True)
        shops.update({k: write_replicated_shop(base, k, folder / f"x{k}" / "data") for k in missing})
    return shops  # type: ignore[return-value]


@takes_data()
def bench(
    source: DataArgs,
    out: Annotated[Path, typer.Option("--out", help="JSON file to write (the plot goes beside it, .png).")] = Path("out/bench/scale.json"),
    sizes: Annotated[str, typer.Option("--sizes", help="Multiples of the shop to build and time, run in this order, e.g. 1,2,4,10.")] = "1,2,4",
    stage: Annotated[list[str] | None, typer.Option("--stage", help="Run only this stage (repeatable); default: all.")] = None,
    work: Annotated[Path | None, typer.Option("--work", help="Folder for the replicated data, logs and models (default: a new temporary folder).")] = None,
    min_available_gb: Annotated[float, typer.Option("--min-available-gb", help="Stop a stage when the machine's available memory drops below this.")] = 4.0,
    update: Annotated[bool, typer.Option("--update", help="Keep the measurements already in --out that this run does not repeat (e.g. 10x stage by stage).")] = False,
    spark_stages: Annotated[list[str] | None, typer.Option("--spark-stage", help="With --spark: only this stage (repeatable): segments, train_churn, train_recommender, train_pricing.")] = None,
    spark: Annotated[bool, typer.Option("--spark", help="Also time segments and train churn/pricing/recommender with --engine spark (local[2]) and with the local engine in the same run (needs crm-engine[spark]).")] = False,
) -> None:
    """Replicate the shop's customers k times for each size (same catalogue, prices and dates), run every
    stage as a fresh `crm` process on each size, and write wall seconds, peak resident MB and the growth
    exponent (slope of log time on log size, 1x to 4x) per stage, with a plot. With the same --work,
    data written before is reused."""
    from training.bench_scale import LOCAL_STAGES, merge, plot, run_bench, write

    multiples = parse_sizes(sizes)
    known = {s.name: s for s in LOCAL_STAGES}
    unknown = sorted(set(stage or []) - set(known))
    if unknown:
        raise EngineError(f"--stage {unknown}: unknown; the stages are {list(known)}")
    stages = [s for s in LOCAL_STAGES if not stage or s.name in stage]
    from training.spark_bench import STAGES as SPARK_STAGES

    unknown = sorted(set(spark_stages or []) - set(SPARK_STAGES))
    if unknown:
        raise EngineError(f"--spark-stage {unknown}: unknown; the Spark stages are {list(SPARK_STAGES)}")
    folder = work or Path(tempfile.mkdtemp(prefix="crm-scale-"))
    with step(f"the shop replicated {', '.join(f'{k}x' for k in multiples)} in {folder} (reused if there, else written)"):
        # in a child process: its memory is the OS's again before the stages run and are measured
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            shops = pool.submit(replicated_shops, source, multiples, folder).result()
    previous = json.loads(out.read_text()) if update and out.is_file() else {}
    if update and not previous:
        console.print(f"--update: nothing measured yet in {out}")
    payload = run_bench(stages, shops, folder, min_available_gb, progress=console.print,
                        save=lambda p: write(merge(previous, p), out))
    if spark:
        from training.spark_bench import spark_section

        with step("the Spark stages (and the same stages locally, for the ratio)"):
            payload["spark"] = spark_section(shops, spark_stages or tuple(SPARK_STAGES), workdir=folder / "spark",
                                             min_available_gb=min_available_gb, progress=console.print)
        payload["notes"] = [n for n in payload["notes"] if not n.startswith("spark:")]
    payload = merge(previous, payload)
    picture = plot(payload, out.with_suffix(".png"))
    for name, entry in payload["stages"].items():
        console.print(f"{name}: wall {entry['wall_s']} s (exponent {entry['exponent']}), CPU {entry['cpu_s']} s "
                      f"(exponent {entry['cpu_exponent']}), peak {entry['peak_mb']} MB, load {entry['load_1m']}")
    for note in payload["notes"]:
        console.print(escape(note), style="yellow")
    console.print(f"written: {out} and {picture}")
