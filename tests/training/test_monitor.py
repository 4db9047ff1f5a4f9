"""``crm monitor`` on a small synthetic shop: champions trained on the weeks before a cut-off date, and
the data after it either as it was generated or with a planted shift (new product ids)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from engine.customers.windows import WindowPlan
from engine.data.dataset import ShopData
from tests.serving.champions import register_champion, small_shop, temporary_registry, train_pricing, train_recommender
from training.cli import app
from training.monitor import BREACH_EXIT

pytestmark = pytest.mark.slow  # trains four champions into MLflow and runs crm monitor end to end

CUT = pd.Timestamp("2023-07-03")


def _write_shop(shop: ShopData, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shop.transactions.drop(columns=["revenue"]).to_csv(folder / f"{name}.csv", index=False)
    shop.products[["product_id", "category"]].to_csv(folder / "products.csv", index=False)
    (folder / f"{name}.yaml").write_text(f"source: {name}.csv\nproducts: products.csv\n")
    return folder / f"{name}.yaml"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, object]:
    from engine.customers.config import ChurnConfig, ClvConfig
    from engine.customers.fitting import fit_models

    work = tmp_path_factory.mktemp("monitor")
    shop = small_shop()
    before = ShopData(shop.transactions.loc[shop.transactions["timestamp"] < CUT], "before", shop.products)
    shifted = shop.transactions.copy()
    late = (shifted["timestamp"] >= CUT) & (shifted.index % 2 == 0)
    shifted.loc[late, "product_id"] = shifted.loc[late, "product_id"] + "-new"  # a new product range after the cut
    products = pd.concat([shop.products, shop.products.assign(product_id=shop.products["product_id"] + "-new")])
    with temporary_registry(work) as uri:
        churn, clv = fit_models(before, ChurnConfig(), ClvConfig(), CUT)
        plan = WindowPlan.ending_at(before.transactions, 90, CUT)
        extra = {"as_of": str(CUT.date()), "train_as_of": [str(moment.date()) for moment in plan.train_as_of]}
        for name, model in (("churn", churn), ("clv", clv)):
            model.save(work / name, data_fingerprint=before.fingerprint(), extra=extra)
            register_champion(name, work / name, before, 0.5)
        train_recommender(before, work / "recommender")
        train_pricing(before, work / "pricing")
    return {
        "uri": uri,
        "data": _write_shop(shop, work / "data", "shop"),
        "shifted": _write_shop(ShopData(shifted, "shifted", products), work / "shifted", "shifted"),
        "work": work,
    }


def _monitor(workspace: dict[str, object], data: Path, out: Path, *extra: str):
    result = CliRunner().invoke(app, ["monitor", "--data", str(data), "--out", str(out), "--tracking-uri",
                                      str(workspace["uri"]), *extra])
    return result, json.loads((out / "report.json").read_text()) if (out / "report.json").is_file() else None


def test_a_planted_new_product_range_is_a_named_breach(workspace, tmp_path) -> None:
    result, report = _monitor(workspace, workspace["shifted"], tmp_path / "shifted")
    assert result.exit_code == BREACH_EXIT, result.output
    names = {(b["model"], b["kind"], b["name"]) for b in report["breaches"]}
    assert ("crm-recommender", "feature_drift", "unknown_item_share") in names
    recommender = next(m for m in report["models"] if m["model"] == "crm-recommender")
    assert recommender["status"] == "breached"  # never "ok" beside its own breach
    assert 0.4 < recommender["details"]["unknown_item_share"] < 0.6  # half of the late lines were renamed
    assert "crm-recommender: feature_drift unknown_item_share" in result.output


def test_report_figures_events_and_prometheus_metrics(workspace, tmp_path) -> None:
    events = _events_file(tmp_path)
    result, report = _monitor(workspace, workspace["data"], tmp_path / "plain", "--events", str(events))
    assert result.exit_code in (0, BREACH_EXIT), result.output
    by_model = {m["model"]: m for m in report["models"]}
    assert set(by_model) == {"crm-churn", "crm-clv", "crm-recommender", "crm-pricing"}
    churn = by_model["crm-churn"]
    assert churn["details"]["reference_as_of"] == "2023-04-04"  # the latest training snapshot: CUT - 90 days
    assert churn["details"]["realised"]["status"] == "observed"  # 2023-07-03 + 90 days is inside the data
    assert 0.5 < churn["details"]["realised"]["auc"] <= 1.0
    assert {row["feature"] for row in churn["drift"]} >= {"recency_days", "frequency", "bgnbd_p_no_purchase"}
    assert by_model["crm-recommender"]["details"]["unknown_item_share"] == 0.0
    assert by_model["crm-recommender"]["details"]["hit_rate"]["champion"]["n_customers"] >= 50
    assert by_model["crm-pricing"]["details"]["realised"]["product_weeks"] > 0
    prom = (tmp_path / "plain" / "metrics.prom").read_text()
    assert 'crm_monitor_feature_psi{feature="recency_days",model="crm-churn"}' in prom
    assert f"crm_monitor_breaches {float(len(report['breaches']))}" in prom
    assert (tmp_path / "plain" / "plots" / "crm-churn_feature_psi.png").stat().st_size > 1000
    assert "## crm-churn" in (tmp_path / "plain" / "report.md").read_text()
    recommender = by_model["crm-recommender"]
    (row,) = recommender["details"]["events"]["by_model_version"]
    assert row["exposed"] == 2 and row["rec_bought"] == 1 and row["hit_rate"] == 1.0


def test_thresholds_from_config_decide_the_exit_code(workspace, tmp_path) -> None:
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("drift: {feature_psi: 1000, prediction_psi: 1000}\nchurn: {min_auc: 0, max_ece: 1}\n"
                       "recommender: {min_lift_over_popularity: 0, max_unknown_item_share: 1}\n"
                       "pricing: {max_wmape: 1000, max_wmape_increase: 1000}\n")
    result, report = _monitor(workspace, workspace["shifted"], tmp_path / "lenient", "--config", str(lenient))
    assert result.exit_code == 0, result.output
    assert report["breaches"] == [] and "no breach" in result.output


def _events_file(folder: Path, drop: str | None = None) -> Path:
    events = pd.DataFrame({
        "event_id": ["1", "2", "3"], "event_type": ["rec_shown", "rec_shown", "rec_bought"],
        "timestamp": ["2023-07-10T10:00:00Z"] * 3, "customer_id": ["c1", "c1", "c1"], "item_id": ["p1", "p2", "p2"],
        "request_id": ["r1", "r1", "r1"], "bundle_version": ["b"] * 3, "model_version": ["1"] * 3, "variant": [""] * 3,
        "price": ["", "", "2.5"], "quantity": ["", "", "1"], "value": ["0", "0", "2.5"],
    })
    path = folder / f"events{'-' + drop if drop else ''}.csv"
    (events.drop(columns=[drop]) if drop else events).to_csv(path, index=False)
    return path


def test_a_bad_events_file_is_refused_by_name(workspace, tmp_path) -> None:
    result, report = _monitor(workspace, workspace["data"], tmp_path / "bad", "--events", str(_events_file(tmp_path, "event_id")))
    assert result.exit_code == 2 and "missing required column(s) ['event_id']" in result.output and report is None
