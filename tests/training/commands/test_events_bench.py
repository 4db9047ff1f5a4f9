"""The CPU burner of ``crm bench events --ablation`` spins, and for no more than the share it is given
(a burner that took more would overstate contention)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from training.commands.events_bench import BURN_PERIOD, BURNER

pytestmark = pytest.mark.slow  # a subprocess


def test_the_burner_uses_at_most_its_share_of_a_core() -> None:
    burner = subprocess.Popen([sys.executable, "-c", BURNER, "0.3", "5", str(BURN_PERIOD)])
    try:
        process = psutil.Process(burner.pid)
        time.sleep(0.5)  # the interpreter has started
        before, started = process.cpu_times(), time.perf_counter()
        time.sleep(1.5)
        after, seconds = process.cpu_times(), time.perf_counter() - started
        assert process.nice() == 5 and burner.poll() is None  # at the ingester's nice value, still running
    finally:
        burner.kill()
        burner.wait()
    used = (after.user + after.system) - (before.user + before.system)
    assert 0 < used <= 0.3 * seconds + 0.1  # on a busy machine it may get less, never more
