"""``crm bench scale``: how each pipeline stage's cost grows with the size of the shop.

The shop (Complete Journey by default) is replicated ``k`` times (:mod:`training.replicate`) for each
size, and every stage -- a ``crm`` command line -- runs as its own process on each replicated shop. A
stage's wall time and peak resident memory are those of its process tree (:func:`run_timed`), so each
stage is measured from a cold start, as a user runs it. The growth exponent of a stage is the
least-squares slope of log time on log size over the sizes from 1x to 4x: 1.0 is linear, 2.0 quadratic.

On a shared machine wall time measures the neighbours as much as the stage, so each stage also records
its CPU seconds (user + system of its whole process tree, :func:`run_timed`) and the 1-minute load
average when it started; the JSON carries an exponent on each (``exponent`` on wall time,
``cpu_exponent`` on CPU time). CPU time is the honest measure of the work done when the load is high;
wall time is what a user waits on a quiet machine.

Memory guard: while a stage runs, the machine's available memory is polled; below ``min_available_gb``
the stage is stopped (its process group killed) and recorded as stopped, so a 10x run cannot take a
shared machine down.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from engine.errors import EngineError
from training.replicate import ReplicatedShop

EXPONENT_RANGE = (1.0, 4.0)
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Stage:
    """A named step: a ``crm`` command line (without ``crm``) with ``{data}``, ``{pricing_data}``,
    ``{out}`` (a fresh folder) and ``{tracking}`` (the size's MLflow store) filled in per size."""

    name: str
    argv: tuple[str, ...]

    def command(self, values: dict[str, str]) -> list[str]:
        """The command line for one size."""
        return [word.format(**values) for word in self.argv]


TRACKED = ("--tracking-uri", "{tracking}")
LOCAL_STAGES = (
    Stage("validate", ("data", "validate", "--data", "{data}")),
    Stage("segments", ("segments", "--data", "{data}", "--out", "{out}")),
    Stage("train churn", ("train", "churn", "--data", "{data}", "--out", "{out}", *TRACKED)),
    Stage("train clv", ("train", "clv", "--data", "{data}", "--out", "{out}", *TRACKED)),
    Stage("train pricing", ("train", "pricing", "--data", "{pricing_data}", "--out", "{out}", *TRACKED)),
    Stage("train recommender", ("train", "recommender", "--data", "{data}", "--out", "{out}", *TRACKED)),
    Stage("serve import", ("serve", "import", "--data", "{data}", *TRACKED)),
)


@dataclass(frozen=True)
class Run:
    """One stage at one size: wall seconds, peak resident MB, exit code, why it stopped early, CPU
    seconds of its process tree and the machine's 1-minute load average when it started."""

    wall_s: float
    peak_mb: float
    returncode: int
    stopped: str | None = None
    cpu_s: float | None = None
    load_1m: float | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.stopped is None


def growth_exponent(sizes: Sequence[float], walls: Sequence[float | None], within: tuple[float, float] = EXPONENT_RANGE) -> float | None:
    """Least-squares slope of log wall on log size over the sizes in ``within`` (inclusive); ``None``
    with fewer than two distinct sizes measured there."""
    points = [(s, w) for s, w in zip(sizes, walls) if within[0] <= s <= within[1] and w is not None and w > 0]
    if len({s for s, _ in points}) < 2:
        return None
    x = np.log([s for s, _ in points])
    y = np.log([w for _, w in points])
    return float(np.polyfit(x, y, 1)[0])


def available_gb() -> float:
    """The machine's available memory (``MemAvailable`` of /proc/meminfo) in GB; infinity where there is
    no /proc (the guard is then off)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return math.inf


def crm_command() -> list[str]:
    """How to start the ``crm`` command line of this environment."""
    script = Path(sys.executable).with_name("crm")
    if script.exists():
        return [str(script)]
    found = shutil.which("crm")
    if found is None:
        raise EngineError("crm bench scale: the `crm` script is not installed in this environment")
    return [found]


def _high_water_mb(pid: int) -> float:
    """Peak resident MB of one process since it started its program (``VmHWM``; 0 where unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    return 0.0


def _tree_mb(process: psutil.Process) -> float:
    """Resident MB of a process and all its descendants now (0 for those already gone)."""
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss / 2**20
        except psutil.Error:
            pass
    return total


def _tree_cpu(process: psutil.Process, seen: dict[int, float]) -> None:
    """Record in ``seen`` (pid -> user + system seconds) the CPU time of a process and its descendants
    now; a process that has ended keeps its last value."""
    for member in [process, *process.children(recursive=True)]:
        try:
            times = member.cpu_times()
            seen[member.pid] = times.user + times.system
        except psutil.Error:
            pass


def run_timed(argv: list[str], log: Path, min_available_gb: float = 0.0, env: dict[str, str] | None = None) -> Run:
    """Run a command in its own process group, output to ``log``; its wall time, CPU time and peak memory.

    Peak memory is the larger of the command's own high-water resident set (``VmHWM``, exact) and the
    largest sum of resident sets of its process tree seen at a poll (children included). Not the
    ``wait4`` maxrss: a forked child inherits its parent's high-water mark.

    CPU time is the larger of two counts of user + system seconds: ``wait4``'s (the command and every
    descendant it waited for, exact) and the sum over the process tree's members seen at the polls,
    each at its last poll (counts descendants nobody waited for, such as a JVM left to exit alone).

    The whole group is killed if the machine's available memory drops under ``min_available_gb``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    stopped, peak_mb = None, 0.0
    cpu_seen: dict[int, float] = {}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with log.open("w") as output:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        watched = psutil.Process(process.pid)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            try:
                peak_mb = max(peak_mb, _tree_mb(watched), _high_water_mb(process.pid))
                _tree_cpu(watched, cpu_seen)
            except psutil.Error:  # ended between poll and look
                pass
            if stopped is None and available_gb() < min_available_gb:
                stopped = f"available memory under {min_available_gb:g} GB"
                os.killpg(process.pid, signal.SIGKILL)
            time.sleep(POLL_SECONDS)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    cpu = max(usage.ru_utime + usage.ru_stime, sum(cpu_seen.values()))
    return Run(wall_s=wall, peak_mb=peak_mb, returncode=process.returncode, stopped=stopped, cpu_s=cpu,
               load_1m=None if load is None else round(load, 2))


SERIES = ("wall_s", "cpu_s", "peak_mb", "load_1m")  # per-size values of a stage in the JSON


def _with_exponents(entry: dict[str, Any]) -> dict[str, Any]:
    """A stage entry with its growth exponents on wall time (``exponent``) and CPU time (``cpu_exponent``)."""
    entry["exponent"] = _rounded(growth_exponent(entry["sizes"], entry["wall_s"]))
    entry["cpu_exponent"] = _rounded(growth_exponent(entry["sizes"], entry["cpu_s"]))
    return entry


def stage_table(stages: Sequence[Stage], sizes: Sequence[int], runs: dict[tuple[str, int], Run]) -> dict[str, Any]:
    """The ``stages`` part of the bench JSON: per stage, its sizes, wall and CPU seconds, peak MB, the
    load average at its start and the growth exponents (sizes where a stage failed or was stopped are
    ``null``)."""
    table: dict[str, Any] = {}
    for stage in stages:
        measured = [runs.get((stage.name, size)) for size in sizes]
        ok = [r if r is not None and r.ok else None for r in measured]
        entry: dict[str, Any] = {"sizes": list(sizes)}
        for key in SERIES:
            entry[key] = [None if r is None or getattr(r, key) is None else round(getattr(r, key), 2) for r in ok]
        table[stage.name] = _with_exponents(entry)
        failures = {str(size): _failure(run) for size, run in zip(sizes, measured) if run is not None and not run.ok}
        if failures:
            table[stage.name]["failed"] = failures
    return table


def merge(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """``current`` with the measurements of ``previous`` it did not repeat (stages and sizes run before,
    e.g. a 10x run stage by stage); exponents recomputed over all sizes."""
    stages: dict[str, Any] = {}
    for name in dict.fromkeys([*previous.get("stages", {}), *current["stages"]]):
        points: dict[int, dict[str, float | None]] = {}
        failed: dict[str, str] = {}
        for payload in (previous, current):  # the current run wins for a size both measured
            entry = payload.get("stages", {}).get(name)
            if entry is None:
                continue
            for index, size in enumerate(entry["sizes"]):  # an older file may lack a series: null there
                points[size] = {key: (entry.get(key) or [None] * len(entry["sizes"]))[index] for key in SERIES}
                failed.pop(str(size), None)
            failed.update(entry.get("failed", {}))
        sizes = sorted(points)
        stages[name] = _with_exponents({"sizes": sizes, **{key: [points[size][key] for size in sizes] for key in SERIES}})
        if failed:
            stages[name]["failed"] = failed
    lines = {**previous.get("lines", {}), **current["lines"]}
    return {**current, "stages": stages, "spark": current.get("spark") or previous.get("spark", {}),
            "lines": dict(sorted(lines.items(), key=lambda item: int(item[0])))}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _failure(run: Run) -> str:
    return run.stopped or f"exit code {run.returncode} after {run.wall_s:.1f} s"


def spark_section() -> tuple[dict[str, Any], str | None]:
    """The ``spark`` part of the JSON before the Spark stages ran (empty) and a note saying why."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return {}, "spark: not measured (pyspark is not installed: pip install crm-engine[spark])"
    return {}, "spark: not measured (run with --spark)"


def machine() -> dict[str, Any]:
    """What the machine was doing: cores, load averages and available memory at the time of writing."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    available = available_gb()
    return {
        "cpus": os.cpu_count(),
        "load_average_1_5_15": [round(value, 2) for value in load],
        "available_gb": None if math.isinf(available) else round(available, 1),
    }


def run_bench(
    stages: Sequence[Stage],
    shops: dict[int, ReplicatedShop],
    work: Path,
    min_available_gb: float = 0.0,
    progress: Callable[[str], None] = print,
    save: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run every stage on each size's replicated shop (in the order of ``shops``) and return the bench
    payload; ``save`` gets the payload so far after every stage (a long run keeps what it measured)."""
    runs: dict[tuple[str, int], Run] = {}
    for size, shop in shops.items():
        folder = work / f"x{size}"
        env = {**os.environ, "BENTOML_HOME": str(folder / "bentoml")}
        values = {"data": str(shop.data), "pricing_data": str(shop.pricing_data),
                  "tracking": f"sqlite:///{folder / 'mlflow.db'}"}
        for number, stage in enumerate(stages):
            slug = stage.name.replace(" ", "_")
            argv = crm_command() + stage.command({**values, "out": str(folder / "out" / slug)})
            run = run_timed(argv, folder / "logs" / f"{number:02d}_{slug}.log", min_available_gb, env)
            runs[(stage.name, size)] = run
            progress(f"{size}x {stage.name}: {run.wall_s:.1f} s wall, {run.cpu_s:.1f} s CPU, {run.peak_mb:.0f} MB, "
                     f"load {run.load_1m}"
                     + ("" if run.ok else f" -- FAILED ({_failure(run)}; log in {folder / 'logs'})"))
            if save is not None:
                save(_payload(stages, shops, runs))
    return _payload(stages, shops, runs)


def _payload(stages: Sequence[Stage], shops: dict[int, ReplicatedShop], runs: dict[tuple[str, int], Run]) -> dict[str, Any]:
    sizes = sorted(shops)
    spark, note = spark_section()
    return {
        "stages": stage_table(stages, sizes, runs),
        "spark": spark,
        "lines": {str(size): shops[size].lines for size in sizes},
        "machine": machine(),
        "notes": [note] if note else [],
    }


def plot(payload: dict[str, Any], path: Path) -> Path:
    """Wall time, CPU time and peak memory of every stage against size (log-log), with the linear reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (("wall_s", "exponent", "wall seconds"), ("cpu_s", "cpu_exponent", "CPU seconds (process tree)"),
              ("peak_mb", None, "peak resident MB"))
    figure, axes = plt.subplots(1, len(panels), figsize=(17, 5))
    sizes = sorted({s for entry in payload["stages"].values() for s in entry["sizes"]})
    for axis, (key, exponent, title) in zip(axes, panels):
        for name, entry in payload["stages"].items():
            slope = entry.get(exponent) if exponent else None
            points = [(s, v) for s, v in zip(entry["sizes"], entry.get(key) or []) if v is not None]
            if points:
                axis.plot(*zip(*points), marker="o", label=name if slope is None else f"{name} ({slope:.2f})")
        if exponent and sizes:
            axis.plot(sizes, [10 * s / sizes[0] for s in sizes], "k--", linewidth=1, label="linear (slope 1)")
        axis.set(xscale="log", yscale="log", xlabel="size (x Complete Journey)", title=title)
        if sizes:
            axis.set_xticks(sizes, [str(s) for s in sizes])
        axis.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write(payload: dict[str, Any], out: Path) -> None:
    """The payload as indented JSON."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, allow_nan=False))
