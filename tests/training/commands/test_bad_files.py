"""Every broken file of the corpus through the real ``crm`` entry point: no traceback, exit code 2 with
a message naming the line, field or option, or every row accounted for (kept + quarantined = rows in)
with each bad row under its rule and the kept values unchanged."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.training.commands.bad_files import CORPUS, BadFile, Checked, Refused, csv_text, row, text
from training.cli import app

runner = CliRunner()


def _validate(case: BadFile, folder, *extra: str):
    path = case.write(folder)
    result = runner.invoke(app, ["data", "validate", "--data", str(path), *case.options, *extra])
    # an exception that escaped the CLI would be here (CliRunner catches it instead of printing it)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def _strict_json(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"summary is not valid JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_the_corpus_is_large_and_each_case_named_once():
    assert len(CORPUS) >= 30
    assert len({case.name for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_bad_file(case: BadFile, tmp_path):
    if isinstance(case.expect, Refused):
        result = _validate(case, tmp_path)
        assert result.exit_code == 2, result.output
        assert result.stdout == ""
        for fragment in case.expect.fragments:
            assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
        return

    expect: Checked = case.expect
    bad_rows = sorted({r for rows in expect.bad.values() for r in rows})
    if bad_rows:  # by default a bad row stops the run, naming row, field and rule
        stopped = _validate(case, tmp_path)
        assert stopped.exit_code == 2, stopped.output
        for (field, rule), rows in expect.bad.items():
            for number in rows:
                assert f"row {number}: {field}: {rule}" in stopped.stderr, stopped.stderr

    quarantine = tmp_path / "quarantine.csv"
    result = _validate(case, tmp_path, "--quarantine", str(quarantine))
    assert result.exit_code == 0, result.output
    summary = _strict_json(result.stdout)
    assert summary["transactions"] == expect.kept
    assert summary["quarantined"]["transactions"] == len(bad_rows)
    for key, value in expect.summary.items():
        assert summary[key] == pytest.approx(value) if isinstance(value, float) else summary[key] == value, key
    if bad_rows:
        set_aside = pd.read_csv(quarantine)
        assert sorted(set_aside["row"]) == bad_rows
        for (field, rule), rows in expect.bad.items():
            named = set_aside.loc[set_aside["problems"].str.contains(f"{field}: {rule}", regex=False), "row"]
            assert sorted(named) == rows, (field, rule)
    else:
        assert not quarantine.exists()


def test_the_quarantine_file_makes_formula_cells_inert(tmp_path):
    """Quarantined rows are hostile input that a person opens in a spreadsheet, like every export."""
    hostile = BadFile("formula", text(csv_text(row(quantity="x", customer="=HYPERLINK(1)"), row(quantity="=2+3", product="@SUM(1)"))), Checked(kept=2))
    quarantine = tmp_path / "quarantine.csv"
    assert _validate(hostile, tmp_path, "--quarantine", str(quarantine)).exit_code == 0
    set_aside = pd.read_csv(quarantine, dtype=str)
    assert list(set_aside["customer_id"]) == ["'=HYPERLINK(1)", "c3"] and list(set_aside["product_id"]) == ["p3", "'@SUM(1)"]
    assert set_aside["quantity"].iloc[1] == "'=2+3"


def test_debug_shows_the_traceback(tmp_path):
    empty = tmp_path / "orders.csv"
    empty.write_text("")
    result = runner.invoke(app, ["--debug", "data", "validate", "--data", str(empty)])
    assert result.exit_code == 1 and "the file is empty" in str(result.exception)
