"""A child ``crm`` process reports its failure through a JSON file, not its terminal output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from training.console import ERROR_FILE_VARIABLE
from training.serving_bench import child_error

CRM = str(Path(sys.executable).with_name("crm"))


@pytest.mark.slow  # starts a crm process
def test_a_child_failure_is_read_from_its_error_file(tmp_path):
    error_file = tmp_path / "error.json"
    done = subprocess.run([CRM, "train", "churn", "--data", str(tmp_path / "missing.csv")], capture_output=True,
                          text=True, env={ERROR_FILE_VARIABLE: str(error_file), "PATH": ""}, timeout=120)
    assert done.returncode == 2
    assert "missing.csv" in child_error(done.returncode, error_file)


def test_success_and_a_silent_death_are_told_apart(tmp_path):
    assert child_error(0, tmp_path / "none.json") is None
    assert "exit code -9" in child_error(-9, tmp_path / "none.json")
