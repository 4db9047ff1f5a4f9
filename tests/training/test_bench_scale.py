"""The scale bench: the growth exponent, the stage runner and the JSON's shape (tiny data, nothing timed)."""

from __future__ import annotations

import json
import sys

import pytest

from training.bench_scale import Run, Stage, growth_exponent, merge, run_bench, run_timed, stage_table
from training.replicate import ReplicatedShop


@pytest.mark.parametrize(("power", "expected"), [(1.0, 1.0), (2.0, 2.0), (0.0, 0.0), (1.35, 1.35)])
def test_exponent_is_the_slope_of_log_time_on_log_size(power, expected):
    sizes = [1, 2, 4]
    assert growth_exponent(sizes, [3.0 * s**power for s in sizes]) == pytest.approx(expected)


def test_exponent_uses_only_sizes_from_1x_to_4x_and_needs_two():
    # the 10x point would pull the slope to ~2; it is outside the range
    assert growth_exponent([1, 4, 10], [1.0, 4.0, 400.0]) == pytest.approx(1.0)
    assert growth_exponent([1, 10], [1.0, 10.0]) is None
    assert growth_exponent([1, 2], [1.0, None]) is None


def test_a_failed_or_stopped_size_is_null_and_named():
    stages = [Stage("s", ("x",))]
    runs = {("s", 1): Run(1.0, 10.0, 0), ("s", 2): Run(2.0, 20.0, 0), ("s", 4): Run(0.5, 5.0, 1)}
    entry = stage_table(stages, [1, 2, 4], runs)["s"]
    assert entry["wall_s"] == [1.0, 2.0, None] and entry["peak_mb"] == [10.0, 20.0, None]
    assert entry["exponent"] == pytest.approx(1.0)
    assert "exit code 1" in entry["failed"]["4"]


def test_run_timed_reports_exit_code_and_the_memory_guard_stops_a_stage(tmp_path):
    done = run_timed([sys.executable, "-c", "import time; print('hi'); time.sleep(0.6)"], tmp_path / "ok.log")
    assert done.ok and done.peak_mb > 0 and (tmp_path / "ok.log").read_text().strip() == "hi"
    failed = run_timed([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "bad.log")
    assert failed.returncode == 3 and not failed.ok
    stopped = run_timed([sys.executable, "-c", "import time; time.sleep(30)"], tmp_path / "s.log", min_available_gb=1e9)
    assert stopped.stopped is not None and not stopped.ok


def test_run_timed_counts_the_cpu_time_of_the_whole_process_tree(tmp_path):
    # the child spins ~0.6 s of CPU, then a grandchild spins ~0.6 s more: both count, sleeping does not
    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\n"
    parent = f"{spin}import subprocess, sys\nsubprocess.run([sys.executable, '-c', {spin!r}])\ntime.sleep(0.5)\n"
    run = run_timed([sys.executable, "-c", parent], tmp_path / "cpu.log")
    assert run.ok and 1.1 <= run.cpu_s <= run.wall_s + 1.0
    assert run.cpu_s < run.wall_s  # the half second asleep is wall time only (one core's worth of work)


@pytest.mark.slow  # runs crm commands in subprocesses
def test_bench_json_has_the_issue_shape(tmp_path, monkeypatch):
    # a stage that is a real crm command on a tiny data file
    data = tmp_path / "tx.csv"
    data.write_text("customer_id,product_id,order_id,timestamp,quantity,unit_price\na,p,o,2024-01-01,1,2.0\n")
    shops = {k: ReplicatedShop(copies=k, data=data, pricing_data=data, lines=k) for k in (1, 2)}
    stages = [Stage("validate", ("data", "validate", "--data", "{data}"))]
    payload = run_bench(stages, shops, tmp_path / "work", progress=lambda _: None)
    json.dumps(payload, allow_nan=False)
    entry = payload["stages"]["validate"]
    assert set(entry) == {"sizes", "wall_s", "cpu_s", "peak_mb", "load_1m", "exponent", "cpu_exponent"}
    assert entry["sizes"] == [1, 2] and all(w > 0 for w in entry["wall_s"]) and all(m > 0 for m in entry["peak_mb"])
    assert all(c > 0 for c in entry["cpu_s"]) and all(load is not None for load in entry["load_1m"])
    assert isinstance(payload["spark"], dict) and payload["lines"] == {"1": 1, "2": 2}


def test_an_update_keeps_what_it_did_not_repeat_and_recomputes_the_exponent():
    def payload(sizes, walls, lines):
        entry = {"sizes": sizes, "wall_s": walls, "cpu_s": walls, "peak_mb": [1.0] * len(sizes), "exponent": None}
        return {"stages": {"s": entry}, "spark": {}, "lines": lines, "machine": {}, "notes": []}

    earlier = payload([1, 2], [1.0, 99.0], {"1": 10, "2": 20})
    merged = merge(earlier, payload([2, 4], [2.0, 4.0], {"2": 20, "4": 40}))
    entry = merged["stages"]["s"]
    assert entry["sizes"] == [1, 2, 4] and entry["wall_s"] == [1.0, 2.0, 4.0]  # the new 2x replaces the old
    assert entry["exponent"] == pytest.approx(1.0) and entry["cpu_exponent"] == pytest.approx(1.0)
    assert entry["load_1m"] == [None, None, None]  # not in these files: null, not an error
    assert list(merged["lines"]) == ["1", "2", "4"]
