"""The support-contacts and surveys contracts, through the engine and through the real CLI: each bad
value named by row and field, quarantine that keeps the good rows, per-table column maps."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from engine.data.aftersales import validate_support_contacts, validate_surveys
from engine.data.sources import load_shop
from engine.errors import DataValidationError, EngineError
from training.cli import app

runner = CliRunner()

CONTACTS = """client,opened,channel,topic,closed,satisfaction
c1,2024-01-05 09:00,phone,complaint,2024-01-08 10:00,2
c2,2024-01-06,carrier pigeon,,,
,2024-01-07,e-mail,delivery,,
c3,2024-01-09,chat,complaint,2024-01-02,3
c4,2024-01-10,chat,question,2024-01-11,7
c5,not a date,faq,question,,
"""
SURVEYS = """customer_id,timestamp,kind,score
c1,2024-01-20,nps,3
c2,2024-01-21,CSAT,5
c3,2024-01-22,CSAT,9
c4,2024-01-23,stars,4
"""


def _shop_files(folder, random_transactions, contacts: str = CONTACTS, surveys: str = SURVEYS) -> str:
    random_transactions.drop(columns=["revenue"]).to_csv(folder / "sales.csv", index=False)
    (folder / "contacts.csv").write_text(contacts)
    (folder / "surveys.csv").write_text(surveys)
    config = {
        "source": "sales.csv",
        "support_contacts": {"file": "contacts.csv", "columns": {"client": "customer_id", "opened": "opened_at", "closed": "resolved_at"}},
        "surveys": "surveys.csv",
    }
    (folder / "shop.yaml").write_text(yaml.safe_dump(config))
    return str(folder / "shop.yaml")


def test_cli_names_each_bad_row_and_field(tmp_path, random_transactions):
    result = runner.invoke(app, ["data", "validate", "--data", _shop_files(tmp_path, random_transactions)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    for problem in (
        "row 3: customer_id: missing value",
        "row 4: resolved_at: resolved before opened",
        "row 5: satisfaction: satisfaction must be a whole number 1-5 (value: '7')",
        "row 6: opened_at: unparseable timestamp",
    ):
        assert problem in result.stderr
    assert "row 2:" not in result.stderr  # an unknown channel, a blank topic and an open contact are fine


def test_cli_quarantine_keeps_the_good_rows_and_writes_the_bad_ones(tmp_path, random_transactions):
    quarantine = tmp_path / "bad.csv"
    data = _shop_files(tmp_path, random_transactions)
    result = runner.invoke(app, ["data", "validate", "--data", data, "--quarantine", str(quarantine)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quarantined"] == {"transactions": 0, "support_contacts": 4, "surveys": 2}
    bad = pd.read_csv(quarantine)
    contacts = bad.loc[bad["table"] == "support_contacts"]
    assert contacts["row"].tolist() == [3, 4, 5, 6]
    assert bad.loc[bad["table"] == "surveys", "problems"].tolist() == [
        "score: CSAT score must be a whole number 1-5", "kind: unknown survey kind (use NPS or CSAT)",
    ]
    shop = load_shop(data, on_bad_rows="quarantine")
    assert shop.support_contacts["customer_id"].tolist() == ["c1", "c2"]
    assert shop.support_contacts["channel"].tolist() == ["phone", "carrier pigeon"]
    assert shop.support_contacts["topic"].tolist() == ["complaint", "other"]
    assert shop.support_contacts["resolved_at"].isna().tolist() == [False, True]
    assert shop.surveys["kind"].tolist() == ["NPS", "CSAT"] and shop.surveys["score"].tolist() == [3.0, 5.0]


def test_column_map_names_a_missing_column(tmp_path, random_transactions):
    data = _shop_files(tmp_path, random_transactions, contacts=CONTACTS.replace("closed", "shut"))
    result = runner.invoke(app, ["data", "validate", "--data", data])
    assert result.exit_code == 2 and "column map names ['closed']" in result.stderr


def test_required_columns_and_builtin_sources():
    with pytest.raises(DataValidationError, match=r"support_contacts: missing required column\(s\) \['opened_at'\]"):
        validate_support_contacts(pd.DataFrame({"customer_id": ["c1"]}))
    with pytest.raises(DataValidationError, match=r"surveys: missing required column\(s\) \['kind', 'score'\]"):
        validate_surveys(pd.DataFrame({"customer_id": ["c1"], "timestamp": ["2024-01-01"]}))
    with pytest.raises(EngineError, match="support contacts and surveys files go with your own transactions file"):
        load_shop("synthetic", support_contacts=pd.DataFrame())


def test_scores_by_kind_and_duplicates():
    raw = pd.DataFrame(
        {"customer_id": ["a", "a", "b", "c", "d"], "timestamp": ["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02", "2024-01-02"],
         "kind": ["NPS", "NPS", "nps", "csat", "csat"], "score": ["0", "0", "10", "0", "4.5"]}
    )
    clean, report = validate_surveys(raw, on_bad_rows="quarantine")
    assert clean["customer_id"].tolist() == ["a", "b"]
    assert report.issues[["row", "field", "rule"]].values.tolist() == [
        [2, "row", "duplicate answer (same customer, timestamp, kind)"],
        [4, "score", "CSAT score must be a whole number 1-5"],
        [5, "score", "CSAT score must be a whole number 1-5"],
    ]
