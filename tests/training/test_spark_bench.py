"""The engines bench's measuring: wall time and the process tree's peak memory, failures named."""

from __future__ import annotations

import sys

import pytest

from training.spark_bench import run_measured


def test_peak_memory_counts_the_child_processes():
    # the parent holds ~20 MB, its child ~200 MB for a second: the tree's peak must see the child's
    child = "import time; x = bytearray(200_000_000); time.sleep(1.5)"
    parent = f"import subprocess, sys; y = bytearray(20_000_000); subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    seconds, peak_mb = run_measured([sys.executable, "-c", parent])
    assert seconds >= 1.5 and peak_mb >= 200_000_000 / 2**20


def test_a_failing_command_is_an_error_with_its_output():
    with pytest.raises(RuntimeError, match="boom"):
        run_measured([sys.executable, "-c", "raise SystemExit('boom')"])
