"""Time the pipelines end to end on the Spark backend beside the local one: what ``crm bench scale``
puts under its ``"spark"`` key, and how the README's "When to use Spark" figures are measured.

Each stage is the real command (``crm segments``, ``crm train churn|recommender|pricing``) run as a
subprocess, once with ``--engine local`` and once with ``--engine spark``, on the same data and in the
same run, measured by :func:`training.bench_scale.run_timed`: wall time, CPU seconds and peak memory
of the whole process tree (the Python driver plus Spark's JVM and Python workers), the load average
at the start, and the memory guard. The ratio Spark / local is given on wall and on CPU time (on a
shared machine the CPU ratio is the steadier one).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from training.bench_scale import SERIES, Run, run_timed
from training.replicate import ReplicatedShop

STAGES: dict[str, tuple[str, ...]] = {
    "segments": ("segments",),
    "train_churn": ("train", "churn"),
    "train_recommender": ("train", "recommender"),
    "train_pricing": ("train", "pricing"),
}


def _stage_command(stage: str, shop: ReplicatedShop, engine: str, spark_master: str, out: Path, tracking: Path) -> list[str]:
    data = shop.pricing_data if stage == "train_pricing" else shop.data
    command = [str(Path(sys.executable).with_name("crm")), *STAGES[stage], "--data", str(data), "--out", str(out),
               "--engine", engine, "--spark-master", spark_master]
    if stage != "segments":
        command += ["--tracking-uri", f"sqlite:///{tracking}"]
    return command


def time_engines(
    shops: Mapping[int, ReplicatedShop],
    stages: Sequence[str] = tuple(STAGES),
    engines: Sequence[str] = ("local", "spark"),
    spark_master: str = "local[2]",
    workdir: Path | None = None,
    min_available_gb: float = 0.0,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every stage on every size's shop with each engine (``train pricing`` reads the shop's
    promotions too). Returns ``{engine: {"stages": {stage: {"sizes", "wall_s", "cpu_s", "peak_mb",
    "load_1m"}}}}``, a failed or stopped run ``null`` and named under ``"failed"``."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="crm-spark-bench-"))
    env = {**os.environ, "BENTOML_HOME": str(workdir / "bentoml")}
    results: dict[str, Any] = {engine: {"stages": {}} for engine in engines}
    for stage in stages:
        for engine in engines:
            row = results[engine]["stages"].setdefault(stage, {"sizes": [], **{key: [] for key in SERIES}})
            for size, shop in sorted(shops.items()):
                name = f"{stage}-{engine}-{size}"
                command = _stage_command(stage, shop, engine, spark_master, workdir / name, workdir / f"mlflow-{engine}.db")
                run = run_timed(command, workdir / "logs" / f"{name}.log", min_available_gb, env)
                progress(f"{size}x {stage} --engine {engine}: {_summary(run)}")
                row["sizes"].append(size)
                for key in SERIES:
                    value = getattr(run, key)
                    row[key].append(round(value, 2) if run.ok and value is not None else None)
                if not run.ok:
                    row.setdefault("failed", {})[str(size)] = run.stopped or f"exit code {run.returncode} (log {workdir / 'logs' / name}.log)"
    return results


def _summary(run: Run) -> str:
    state = "" if run.ok else f" -- FAILED ({run.stopped or f'exit code {run.returncode}'})"
    return f"{run.wall_s:.1f} s wall, {run.cpu_s or 0:.1f} s CPU, {run.peak_mb:.0f} MB, load {run.load_1m}{state}"


def _ratios(spark: Sequence[float | None], local: Sequence[float | None]) -> list[float | None]:
    return [None if on_spark is None or not here else round(on_spark / here, 2) for on_spark, here in zip(spark, local)]


def spark_section(
    shops: Mapping[int, ReplicatedShop],
    stages: Sequence[str] = tuple(STAGES),
    spark_master: str = "local[2]",
    workdir: Path | None = None,
    min_available_gb: float = 0.0,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The ``"spark"`` entry of ``crm bench scale``: Spark's stage measurements, the local ones of the
    same run (``"local"``), and per stage and size ``ratio_to_local`` (Spark / local wall time) and
    ``cpu_ratio_to_local`` (the same on CPU seconds)."""
    timings = time_engines(shops, stages, ("local", "spark"), spark_master, workdir, min_available_gb, progress)
    spark: dict[str, Any] = timings["spark"]
    local = timings["local"]
    for key, series in (("ratio_to_local", "wall_s"), ("cpu_ratio_to_local", "cpu_s")):
        spark[key] = {stage: _ratios(spark["stages"][stage][series], local["stages"][stage][series]) for stage in stages}
    spark["local"] = local
    spark["master"] = spark_master
    return spark
