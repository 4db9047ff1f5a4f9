"""--engine: an unknown engine is refused by name; the engine imports and runs without PySpark."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from engine.backend.spark.session import INSTALL_HINT, require_pyspark
from engine.errors import EngineError
from training.cli import app


def test_an_unknown_engine_is_refused_with_the_known_ones(tmp_path):
    result = CliRunner().invoke(app, ["segments", "--data", "synthetic", "--out", str(tmp_path), "--engine", "dask"])
    message = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and "'dask' is not one of 'local', 'spark'" in message


@pytest.mark.slow  # a fresh interpreter in a subprocess
def test_the_engine_and_cli_import_and_segment_without_pyspark(tmp_path, random_transactions):
    data = tmp_path / "lines.parquet"
    random_transactions.to_parquet(data)
    # a fresh interpreter in which pyspark cannot be imported at all
    script = (
        "import sys; sys.modules['pyspark'] = None\n"
        "from typer.testing import CliRunner\n"
        "from training.cli import app\n"
        f"result = CliRunner().invoke(app, ['segments', '--data', {str(data)!r}, '--out', {str(tmp_path)!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert [name for name in sys.modules if name.startswith('pyspark.')] == []\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    assert (tmp_path / "customers.csv").is_file()


def test_spark_without_pyspark_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(EngineError, match=r"crm-engine\[spark\]") as error:
        require_pyspark()
    assert str(error.value) == INSTALL_HINT
