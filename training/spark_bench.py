"""Time the pipelines end to end on the Spark backend beside the local one: what ``crm bench scale``
puts under its ``"spark"`` key, and how the README's "When to use Spark" figures are measured.

Each stage is the real command (``crm segments``, ``crm train churn|recommender|pricing``) run as a
subprocess, once with ``--engine local`` and once with ``--engine spark``, on the same data and in the
same run; wall time is the command's, peak memory the largest resident size the whole process tree
(the Python driver plus Spark's JVM and Python workers) reached, sampled every ``SAMPLE_SECONDS``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

STAGES: dict[str, tuple[str, ...]] = {
    "segments": ("segments",),
    "train_churn": ("train", "churn"),
    "train_recommender": ("train", "recommender"),
    "train_pricing": ("train", "pricing"),
}
SAMPLE_SECONDS = 0.2


def run_measured(command: Sequence[str]) -> tuple[float, float]:
    """(wall seconds, peak MB of the process tree's summed RSS) of a command; it must succeed."""
    started = time.perf_counter()
    process = psutil.Popen(list(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [process, *process.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, errors = process.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {errors.decode()[-2000:]}")
    return seconds, peak / 2**20


def time_engines(
    data: Mapping[float, str],
    stages: Sequence[str] = tuple(STAGES),
    engines: Sequence[str] = ("local", "spark"),
    spark_master: str = "local[2]",
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Run every stage on every data source (``{size: data spec or file}``, e.g. ``{1.0: "cj1.parquet"}``)
    with each engine. Returns ``{engine: {"stages": {stage: {"sizes", "wall_s", "peak_mb"}}}}``."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="crm-spark-bench-"))
    crm = [str(Path(sys.executable).with_name("crm"))]
    results: dict[str, Any] = {engine: {"stages": {}} for engine in engines}
    for stage in stages:
        for engine in engines:
            row = results[engine]["stages"].setdefault(stage, {"sizes": [], "wall_s": [], "peak_mb": []})
            for size, source in sorted(data.items()):
                out = workdir / f"{stage}-{engine}-{size}"
                command = [*crm, *STAGES[stage], "--data", str(source), "--out", str(out), "--engine", engine,
                           "--spark-master", spark_master]
                if stage != "segments":
                    command += ["--tracking-uri", f"sqlite:///{workdir / f'mlflow-{engine}.db'}"]
                seconds, peak = run_measured(command)
                row["sizes"].append(size)
                row["wall_s"].append(round(seconds, 2))
                row["peak_mb"].append(round(peak, 1))
    return results


def spark_section(
    data: Mapping[float, str],
    stages: Sequence[str] = tuple(STAGES),
    spark_master: str = "local[2]",
    workdir: Path | None = None,
    local_wall_s: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """The ``"spark"`` entry of ``crm bench scale``: Spark's stage timings plus, per stage and size,
    ``ratio_to_local`` (Spark wall time / local wall time). The local times are measured here, in the
    same run, unless the caller measured them and passes ``local_wall_s`` ({stage: [seconds per size,
    in ascending size order]})."""
    engines = ("spark",) if local_wall_s is not None else ("local", "spark")
    timings = time_engines(data, stages, engines, spark_master, workdir)
    spark = timings["spark"]
    local = local_wall_s if local_wall_s is not None else {stage: timings["local"]["stages"][stage]["wall_s"] for stage in stages}
    spark["ratio_to_local"] = {
        stage: [round(spark_s / local_s, 2) for spark_s, local_s in zip(spark["stages"][stage]["wall_s"], local[stage])] for stage in stages
    }
    if local_wall_s is None:
        spark["local"] = timings["local"]
    spark["master"] = spark_master
    return spark
