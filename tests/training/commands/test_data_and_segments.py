"""The CLI as a user runs it: validate a file with planted bad rows, then segment it."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from training.cli import app

runner = CliRunner()


def _write_orders(path, random_transactions, bad_lines=""):
    table = random_transactions.drop(columns=["revenue", "discount"]).rename(
        columns={"customer_id": "cust", "product_id": "sku"}
    )
    path.write_text(table.to_csv(index=False) + bad_lines)
    return "cust=customer_id,sku=product_id"


def test_validate_reports_each_planted_row(tmp_path, random_transactions):
    path = tmp_path / "orders.csv"
    n = len(random_transactions)
    mapping = _write_orders(
        path, random_transactions, "x,1,o-bad1,2024-05-01,0,3.0\n,1,o-bad2,2024-05-01,1,3.0\nx,1,o-bad3,soon,1,3.0\n"
    )
    result = runner.invoke(app, ["data", "validate", "--data", str(path), "--map", mapping])
    assert result.exit_code == 2 and "Traceback" not in result.output
    for row, rule in ((n + 1, "zero quantity"), (n + 2, "customer_id: missing value"), (n + 3, "unparseable timestamp")):
        assert f"row {row}: " in result.stderr and rule in result.stderr

    quarantine = tmp_path / "bad.csv"
    result = runner.invoke(app, ["data", "validate", "--data", str(path), "--map", mapping, "--quarantine", str(quarantine)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["transactions"] == n
    assert pd.read_csv(quarantine)["row"].tolist() == [n + 1, n + 2, n + 3]


def test_segments_writes_customers_profile_and_tiers(tmp_path, random_transactions):
    path = tmp_path / "orders.csv"
    mapping = _write_orders(path, random_transactions)
    out = tmp_path / "seg"
    result = runner.invoke(
        app, ["segments", "--data", str(path), "--map", mapping, "--out", str(out), "--config", "configs/segments.yaml"]
    )
    assert result.exit_code == 0, result.output
    customers = pd.read_csv(out / "customers.csv")
    assert len(customers) == random_transactions["customer_id"].nunique()
    assert customers["segment"].notna().all() and customers["tier"].notna().all()
    profile = pd.read_csv(out / "segment_profile.csv")
    assert profile["customers"].sum() == len(customers)
    summary = json.loads((out / "summary.json").read_text())
    assert sum(summary["tiers"].values()) == len(customers)


def test_config_typo_names_the_key(tmp_path, random_transactions):
    path = tmp_path / "orders.csv"
    mapping = _write_orders(path, random_transactions)
    config = tmp_path / "bad.yaml"
    config.write_text("tiers:\n  grace_dayz: 30\n")
    result = runner.invoke(app, ["segments", "--data", str(path), "--map", mapping, "--config", str(config)])
    assert result.exit_code == 2
    assert "tiers.grace_dayz" in result.stderr


def test_data_options_pass_on_to_a_subprocess_unchanged(tmp_path):
    from training.commands.data import DataArgs

    given = DataArgs("shop.csv", "cust=customer_id", tmp_path / "q.csv", "%d/%m/%Y", "latin-1")
    assert given.cli_options() == [
        "--data", "shop.csv", "--map", "cust=customer_id", "--quarantine", str(tmp_path / "q.csv"),
        "--timestamp-format", "%d/%m/%Y", "--encoding", "latin-1",
    ]
    assert DataArgs("completejourney").cli_options() == ["--data", "completejourney"]


def test_a_command_lets_the_engine_read_the_lines_from_the_file(tmp_path, random_transactions, capsys):
    from engine.backend import LocalBackend, use_backend
    from training.commands.data import DataArgs

    class ReadsFiles(LocalBackend):
        """A backend that reads files itself: it is handed the loaded shop and where it came from."""

        def read_lines_from_file(self, shop):
            self.handed = shop
            return True

    path = tmp_path / "lines.parquet"
    random_transactions.to_parquet(path, index=False)
    with use_backend(ReadsFiles()) as backend:
        shop = DataArgs(str(path)).load()
    assert backend.handed is shop and shop.transactions_file.path == str(path.resolve())
    said = " ".join(capsys.readouterr().err.split())
    assert "the verbs read the lines from" in said and "lines.parquet itself" in said
